/* libFuzzer target: the shared RFC 3339 parser (common/rfc3339.h), fed
 * by the API's times and by users' filter values.  Checks that it only
 * answers 0 or -EINVAL, leaves *ms alone on failure, and that a time it
 * accepts formats (to the millisecond and to the second) into text that
 * parses back to the same instant. */
#include <errno.h>

#include "common/rfc3339.h"
#include "fuzz.h"

/* 0000-01-01T00:00:00Z and the last millisecond of 9999. */
#define FIRST_MS (-62167219200000LL)
#define LAST_MS 253402300799999LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), out[RFC3339_LEN];
	int64_t ms = 7, back = 0;
	int r = rfc3339_parse(s, &ms);

	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0)
		FUZZ_CHECK(ms == 7);
	/* An offset can move a time just outside the years format writes. */
	if (r == 0 && ms >= FIRST_MS && ms <= LAST_MS) {
		rfc3339_format_ms(ms, out);
		FUZZ_CHECK(strlen(out) == 24);
		FUZZ_CHECK(rfc3339_parse(out, &back) == 0 && back == ms);
		rfc3339_format_s(ms, out);
		FUZZ_CHECK(strlen(out) == 20);
		FUZZ_CHECK(rfc3339_parse(out, &back) == 0);
		FUZZ_CHECK(back <= ms && ms - back < 1000 && back % 1000 == 0);
	} else if (r == 0) {
		FUZZ_CHECK(strcmp(rfc3339_format_ms(ms, out), "1970-01-01T00:00:00.000Z") == 0);
	}
	free(s);
	return 0;
}
