/* libFuzzer target: the metrics and logs decoders (sbx_metrics_parse,
 * sbx_logs_parse) and what they render, the server's JSON being
 * untrusted.  Any input gives 0, -EPROTO or -ENOMEM; an accepted page of
 * logs is one line per entry, each ending in its only newline with no NUL
 * in it, and metrics render seven lines. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "model/sbxdata.h"

static void check_metrics(const char *buf, size_t size)
{
	struct sbx_metrics m;
	size_t len = 0, lines = 0;
	char *text;
	int r = sbx_metrics_parse(buf, size, &m);

	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(!m.present);
		return;
	}
	if (m.present)
		FUZZ_CHECK(m.cpu_count >= 0 && m.mem_used >= 0 && m.mem_total >= 0 &&
			   m.disk_used >= 0 && m.disk_total >= 0);
	if ((text = sbx_metrics_render(&m, &len)) == NULL)
		return;
	FUZZ_CHECK(strlen(text) == len && len > 0 && text[len - 1] == '\n');
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	FUZZ_CHECK(lines == 7);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct sbx_log_line *v = NULL;
	size_t n = 0;
	int r;

	check_metrics(buf, size);
	r = sbx_logs_parse(buf, size, &v, &n);
	FUZZ_CHECK(r == 0 || r == -EPROTO || r == -ENOMEM);
	FUZZ_CHECK(r == 0 || (v == NULL && n == 0));
	FUZZ_CHECK(n <= SBX_LOGS_PAGE_MAX);
	for (size_t i = 0; i < n; i++) {
		const char *t = v[i].text;

		FUZZ_CHECK(t != NULL && v[i].len > 0 && t[v[i].len - 1] == '\n');
		FUZZ_CHECK(memchr(t, '\n', v[i].len) == t + v[i].len - 1);
		FUZZ_CHECK(memchr(t, '\0', v[i].len) == NULL);
	}
	sbx_log_lines_free(v, n);
	return 0;
}
