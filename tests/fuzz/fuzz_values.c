/* libFuzzer target: the value parsers users and the server feed:
 * timeouts and states written to files, and RFC 3339 times and state names
 * from the API.  Checks the documented ranges and that a formatted time
 * parses back to itself. */
#include <errno.h>

#include "fuzz.h"
#include "model/values.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	unsigned long secs = 0;
	enum sbx_state st = SBX_STATE_UNKNOWN;
	char *s, tbuf[SBX_TIME_LEN];
	time_t t = 0, back = 0;
	int r;

	/* Writes are not NUL-terminated: parse the raw bytes. */
	r = sbx_parse_timeout(buf, size, &secs);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		FUZZ_CHECK(secs >= 1 && secs <= SBX_TIMEOUT_MAX);
	r = sbx_parse_state(buf, size, &st);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0)
		FUZZ_CHECK(st == SBX_STATE_RUNNING || st == SBX_STATE_PAUSED);

	s = fuzz_cstr(data, size);
	st = sbx_state_from_api(s);
	FUZZ_CHECK(strcmp(sbx_state_name(st), "unknown") != 0 ||
		   st == SBX_STATE_UNKNOWN);
	if (sbx_parse_time(s, &t) == 0) {
		sbx_format_time(t, tbuf);
		FUZZ_CHECK(strlen(tbuf) < SBX_TIME_LEN);
		FUZZ_CHECK(sbx_parse_time(tbuf, &back) == 0);
		FUZZ_CHECK(back == t);
	}
	free(s);
	return 0;
}
