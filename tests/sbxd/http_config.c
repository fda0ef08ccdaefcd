/* Server configuration over HTTP: templates files and their reload, key
 * rotation, timeout defaults and limits, and start-up failures. */
#include "httputil.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

static struct tsrv t;
static char tpl[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void mk(void)
{
	snprintf(tpl, sizeof(tpl), "/tmp/sbxd-tpl-XXXXXX");
	int fd = mkstemp(tpl);
	cr_assert_geq(fd, 0);
	close(fd);
	write_file(tpl, "[{\"templateID\":\"py\",\"aliases\":[\"python\"],\"cpuCount\":4,"
		   "\"memoryMB\":1024,\"diskSizeMB\":2048}]");
}

static void rm(void)
{
	unlink(tpl);
}

TestSuite(config, .init = mk, .fini = rm, .timeout = 30);

static int parse_time(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	int frac = 0;

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return -1;
	sscanf(strchr(s, '.') ? strchr(s, '.') + 1 : "0", "%3d", &frac);
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

static json_t *info(const char *id)
{
	char path[128];
	struct resp r;

	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	http(&t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *j = resp_json(&r);
	resp_free(&r);
	return j;
}

Test(config, templates_file_and_reload)
{
	struct sbxd_config cfg = { .templates_file = tpl };
	struct resp r;
	json_t *j;

	tsrv_start(&t, &cfg);
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"python\"}", &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	j = resp_json(&r);
	cr_expect_str_eq(json_string_value(json_object_get(j, "templateID")), "py");
	cr_expect_str_eq(json_string_value(json_object_get(j, "alias")), "python");
	char id[21];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	json_decref(j);
	resp_free(&r);
	j = info(id);
	cr_expect_eq(json_integer_value(json_object_get(j, "cpuCount")), 4);
	cr_expect_eq(json_integer_value(json_object_get(j, "memoryMB")), 1024);
	cr_expect_eq(json_integer_value(json_object_get(j, "diskSizeMB")), 2048);
	json_decref(j);

	http(&t, "GET", "/templates", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 2, "%s", r.body);
	json_decref(j);
	resp_free(&r);

	/* Reload: a new template appears, the key rotates. */
	write_file(tpl, "[{\"templateID\":\"node\",\"aliases\":[\"js\"]}]");
	cr_assert_eq(sbxd_reload(t.s, "rotated-key"), 0);
	http(&t, "POST", "/sandboxes", "rotated-key", "{\"templateID\":\"js\"}", &r);
	cr_expect_eq(r.status, 201, "%s", r.body);
	resp_free(&r);
	http(&t, "POST", "/sandboxes", "rotated-key", "{\"templateID\":\"python\"}", &r);
	cr_expect_eq(r.status, 400, "the old file template is gone");
	cr_expect(resp_is_error(&r));
	resp_free(&r);
	http(&t, "GET", "/templates", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 401, "the old key no longer works");
	resp_free(&r);

	/* A broken file keeps the current set. */
	write_file(tpl, "{not json");
	cr_expect_lt(sbxd_reload(t.s, NULL), 0);
	http(&t, "POST", "/sandboxes", "rotated-key", "{\"templateID\":\"node\"}", &r);
	cr_expect_eq(r.status, 201);
	resp_free(&r);
	tsrv_stop(&t);
	cr_expect_eq(tsrv_complaints(), 1, "the broken reload is logged once");
}

Test(config, timeout_defaults_and_limits)
{
	struct sbxd_config cfg = { .default_timeout = 42, .max_timeout = 100 };
	char id[21];
	struct resp r;
	int64_t a, b;

	tsrv_start(&t, &cfg);
	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	json_t *j = info(id);
	cr_assert_eq(parse_time(json_string_value(json_object_get(j, "startedAt")), &a), 0);
	cr_assert_eq(parse_time(json_string_value(json_object_get(j, "endAt")), &b), 0);
	cr_expect_eq(b - a, 42000);
	json_decref(j);
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"base\",\"timeout\":100}", &r);
	cr_expect_eq(r.status, 201);
	resp_free(&r);
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"base\",\"timeout\":101}", &r);
	cr_expect_eq(r.status, 400);
	cr_expect_not_null(strstr(r.body, "100"), "%s", r.body);
	resp_free(&r);
	tsrv_stop(&t);
}

Test(config, start_failures_close_the_socket)
{
	struct sbxd_config cfg = { .templates_file = "/nonexistent/templates.json" };
	char *err = NULL;

	cfg.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(cfg.listen_fd, 0);
	cfg.api_key = TEST_KEY;
	cr_expect_null(sbxd_start(&cfg, &err));
	cr_expect_not_null(err);
	free(err);
	cr_expect_eq(fcntl(cfg.listen_fd, F_GETFD), -1, "the handed-over socket leaked");

	struct sbxd_config nokey = { .listen_fd = -1 };
	err = NULL;
	cr_expect_null(sbxd_start(&nokey, &err));
	cr_expect_not_null(err);
	free(err);

	struct sbxd_config remote = { .listen_fd = -1, .api_key = "k", .host = "0.0.0.0" };
	err = NULL;
	cr_expect_null(sbxd_start(&remote, &err));
	cr_expect_not_null(strstr(err ? err : "", "non-loopback"));
	free(err);
}

Test(config, ipv6_loopback)
{
	struct sbxd_config cfg = { .host = "::1", .listen_fd = -1, .api_key = TEST_KEY };
	char *err = NULL;
	struct sbxd *s = sbxd_start(&cfg, &err);

	if (!s) {
		free(err);
		cr_skip_test("no IPv6 loopback here");
	}
	snprintf(t.base, sizeof(t.base), "http://[::1]:%u", sbxd_port(s));
	struct resp r;
	http(&t, "GET", "/health", NULL, NULL, &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	sbxd_stop(s);
}
