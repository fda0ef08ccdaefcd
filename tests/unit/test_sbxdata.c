/* The metrics and logs decoders and renderers (model/sbxdata.h): exact
 * text of accepted replies, refusal of every wrong shape. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sbxdata.h"

static int metrics(const char *body, struct sbx_metrics *m)
{
	return sbx_metrics_parse(body, strlen(body), m);
}

Test(sbxdata, metrics_newest_sample_rendered)
{
	struct sbx_metrics m;
	size_t len;
	char *text;

	cr_assert_eq(metrics("[{\"timestamp\":\"2026-12-03T20:19:10Z\",\"timestampUnix\":1,"
			     "\"cpuCount\":2,\"cpuUsedPct\":12.345,\"memUsed\":100,\"memTotal\":"
			     "536870912,\"memCache\":0,\"diskUsed\":7,\"diskTotal\":4096},"
			     "{\"timestamp\":\"2026-12-03T20:19:05Z\",\"timestampUnix\":1,"
			     "\"cpuCount\":9,\"cpuUsedPct\":0,\"memUsed\":0,\"memTotal\":0,"
			     "\"memCache\":0,\"diskUsed\":0,\"diskTotal\":0}]", &m), 0);
	text = sbx_metrics_render(&m, &len);
	cr_assert_str_eq(text, "cpu_count=2\ncpu_used_pct=12.35\nmem_used=100\n"
			 "mem_total=536870912\ndisk_used=7\ndisk_total=4096\n"
			 "timestamp=2026-12-03T20:19:10Z\n");
	cr_assert_eq(len, strlen(text));
	free(text);
}

Test(sbxdata, metrics_empty_and_novita)
{
	struct sbx_metrics m;
	char *text;
	size_t len;

	cr_assert_eq(metrics("[]", &m), 0);
	cr_assert_not(m.present);
	text = sbx_metrics_render(&m, &len);
	cr_assert_str_eq(text, "cpu_count=\ncpu_used_pct=\nmem_used=\nmem_total=\n"
			 "disk_used=\ndisk_total=\ntimestamp=\n");
	free(text);
	cr_assert_eq(metrics("[{\"timestampUnix\":1796329145,\"cpuCount\":1,\"cpuUsedPct\":1,"
			     "\"memUsedMiB\":3,\"memTotalMiB\":512,\"diskUsed\":0,"
			     "\"diskTotal\":0}]", &m), 0);
	cr_assert_eq(m.mem_used, 3LL << 20);
	cr_assert_eq(m.mem_total, 512LL << 20);
	cr_assert_eq(m.timestamp_ms, 1796329145000LL);
}

Test(sbxdata, metrics_wrong_shapes_refused)
{
	static const char *const bad[] = {
		"", "{}", "[1]", "null", "[{}]",
		"[{\"timestamp\":\"x\",\"cpuCount\":1,\"cpuUsedPct\":1,\"memUsed\":1,"
		"\"memTotal\":1,\"diskUsed\":1,\"diskTotal\":1}]",
		"[{\"timestampUnix\":1,\"cpuCount\":-1,\"cpuUsedPct\":1,\"memUsed\":1,"
		"\"memTotal\":1,\"diskUsed\":1,\"diskTotal\":1}]",
		"[{\"timestampUnix\":1,\"cpuCount\":1,\"cpuUsedPct\":\"1\",\"memUsed\":1,"
		"\"memTotal\":1,\"diskUsed\":1,\"diskTotal\":1}]",
		"[{\"timestampUnix\":1,\"cpuCount\":1,\"cpuUsedPct\":1,\"memUsed\":1,"
		"\"memTotal\":1,\"diskUsed\":1}]",
	};
	struct sbx_metrics m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(metrics(bad[i], &m), -EPROTO, "accepted %s", bad[i]);
		cr_expect_not(m.present);
	}
}

static int logs(const char *body, struct sbx_log_line **v, size_t *n)
{
	return sbx_logs_parse(body, strlen(body), v, n);
}

Test(sbxdata, log_lines_rendered)
{
	struct sbx_log_line *v;
	size_t n;

	cr_assert_eq(logs("{\"logs\":[{\"timestamp\":\"2026-12-03T20:19:05.123456Z\","
			  "\"level\":\"info\",\"message\":\"Sandbox created\",\"fields\":{}},"
			  "{\"timestamp\":\"2026-12-03T21:19:06+01:00\",\"level\":\"warn\","
			  "\"message\":\"two\\nlines \\\\ \\u0001\",\"fields\":{\"pid\":\"12\","
			  "\"cmd\":\"a b\",\"q\":\"x\\\"y\",\"e\":\"\",\"n\":3,\"t\":true,"
			  "\"z\":null}}]}", &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(v[0].text, "2026-12-03T20:19:05.123Z INFO Sandbox created\n");
	cr_expect_eq(v[0].ts_ms, 1796329145123LL);
	cr_expect_str_eq(v[1].text, "2026-12-03T20:19:06.000Z WARN two\\nlines \\\\ \\x01 "
			 "cmd=\"a b\" e=\"\" n=3 pid=12 q=\"x\\\"y\" t=true\n");
	cr_expect_eq(v[1].len, strlen(v[1].text));
	sbx_log_lines_free(v, n);
	cr_assert_eq(logs("{\"logs\":[]}", &v, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(v);
}

Test(sbxdata, log_wrong_shapes_refused)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"logs\":{}}", "{\"logs\":[1]}",
		"{\"logs\":[{\"timestamp\":\"x\",\"level\":\"info\",\"message\":\"m\"}]}",
		"{\"logs\":[{\"timestamp\":\"2026-12-03T20:19:05Z\",\"level\":\"in fo\","
		"\"message\":\"m\"}]}",
		"{\"logs\":[{\"timestamp\":\"2026-12-03T20:19:05Z\",\"level\":\"info\","
		"\"message\":1}]}",
		"{\"logs\":[{\"timestamp\":\"2026-12-03T20:19:05Z\",\"level\":\"info\","
		"\"message\":\"m\",\"fields\":{\"a\":[1]}}]}",
		"{\"logs\":[{\"timestamp\":\"2026-12-03T20:19:05Z\",\"level\":\"info\","
		"\"message\":\"m\",\"fields\":{\"a b\":\"1\"}}]}",
	};
	struct sbx_log_line *v;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(logs(bad[i], &v, &n), -EPROTO, "accepted %s", bad[i]);
		cr_expect_null(v);
	}
}

Test(sbxdata, long_message_cut)
{
	size_t big = SBX_LOG_TEXT_MAX + 100;
	char *body = malloc(big + 200), *p;
	struct sbx_log_line *v;
	size_t n;

	cr_assert_not_null(body);
	p = body + sprintf(body, "{\"logs\":[{\"timestamp\":\"2026-12-03T20:19:05Z\","
			   "\"level\":\"debug\",\"message\":\"");
	memset(p, 'a', big);
	strcpy(p + big, "\"}]}");
	cr_assert_eq(logs(body, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(v[0].len, strlen("2026-12-03T20:19:05.000Z DEBUG ") + SBX_LOG_TEXT_MAX +
		     strlen("...\n"));
	sbx_log_lines_free(v, n);
	free(body);
}
