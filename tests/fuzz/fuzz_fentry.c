/* libFuzzer target: envd's EntryInfo decoder (Stat and ListDir replies)
 * and its GET /metrics disk fields,
 * the server's JSON being untrusted.  Checks that a listing holds only
 * nameable entries, sorted without repeats, and that every entry's mode is
 * permission bits only. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "model/fentry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct fentry e, *v = NULL;
	size_t n = 0;
	int r;

	r = fentry_parse_reply(buf, size, &e);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(e.name != NULL);
		FUZZ_CHECK((e.mode & ~07777u) == 0);
	}
	fentry_clear(&e);
	r = fentry_parse_list(buf, size, &v, &n);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ENOMEM);
	for (size_t i = 0; r == 0 && i < n; i++) {
		FUZZ_CHECK(fentry_name_ok(v[i].name, strlen(v[i].name)));
		FUZZ_CHECK(v[i].type != FENTRY_UNKNOWN);
		FUZZ_CHECK(i == 0 || strcmp(v[i - 1].name, v[i].name) < 0);
	}
	fentry_list_free(v, n);
	uint64_t used, total;

	r = fentry_parse_disk(buf, size, &used, &total);
	FUZZ_CHECK(r == 0 || r == -EPROTO);
	FUZZ_CHECK(r == 0 || (used == 0 && total == 0));
	FUZZ_CHECK(used <= INT64_MAX && total <= INT64_MAX);
	return 0;
}
