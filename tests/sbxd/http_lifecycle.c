/* Time-driven behaviour over HTTP: expiry, autoPause and connect, and a
 * restart with --state-dir. */
#include "httputil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct tsrv t;

static json_t *get_info(const char *id, long *status)
{
	char path[128];
	struct resp r;

	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	http(&t, "GET", path, TEST_KEY, NULL, &r);
	*status = r.status;
	json_t *j = resp_json(&r);
	resp_free(&r);
	return j;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(lifecycle, two_second_sandbox_expires, .timeout = 20)
{
	struct sbxd_config cfg = { 0 };
	char id[21];
	long st;
	double t0;

	tsrv_start(&t, &cfg);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":2}", id);
	t0 = now_s();
	json_decref(get_info(id, &st));
	cr_expect_eq(st, 200);
	while (now_s() - t0 < 4.0) {
		json_decref(get_info(id, &st));
		if (st == 404)
			break;
		usleep(50000);
	}
	cr_expect_eq(st, 404);
	cr_expect_geq(now_s() - t0, 1.5, "expired too early");
	cr_expect_leq(now_s() - t0, 3.2, "expired too late");
	tsrv_stop(&t);
}

Test(lifecycle, auto_pause_then_connect, .timeout = 20)
{
	struct sbxd_config cfg = { 0 };
	char id[21], path[128];
	long st;
	struct resp r;
	json_t *j;

	tsrv_start(&t, &cfg);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":1,\"autoPause\":true}", id);
	usleep(1600000);
	j = get_info(id, &st);
	cr_assert_eq(st, 200, "an autoPause sandbox must outlive its timeout");
	cr_expect_str_eq(json_string_value(json_object_get(j, "state")), "paused");
	json_decref(j);

	snprintf(path, sizeof(path), "/sandboxes/%s/connect", id);
	http(&t, "POST", path, TEST_KEY, "{\"timeout\":100}", &r);
	cr_expect_eq(r.status, 201, "%s", r.body);
	j = resp_json(&r);
	cr_expect_str_eq(json_string_value(json_object_get(j, "sandboxID")), id);
	cr_expect_str_eq(json_string_value(json_object_get(j, "envdVersion")), "0.5.7");
	json_decref(j);
	resp_free(&r);
	j = get_info(id, &st);
	cr_expect_str_eq(json_string_value(json_object_get(j, "state")), "running");
	char end1[64];
	snprintf(end1, sizeof(end1), "%s", json_string_value(json_object_get(j, "endAt")));
	json_decref(j);

	/* Connect on a running sandbox: 200, and the end never moves back. */
	http(&t, "POST", path, TEST_KEY, "{\"timeout\":5}", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	resp_free(&r);
	j = get_info(id, &st);
	cr_expect_str_eq(json_string_value(json_object_get(j, "endAt")), end1);
	json_decref(j);
	http(&t, "POST", path, TEST_KEY, "{\"timeout\":1000}", &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	j = get_info(id, &st);
	cr_expect_gt(strcmp(json_string_value(json_object_get(j, "endAt")), end1), 0);
	json_decref(j);
	tsrv_stop(&t);
}

Test(lifecycle, restart_keeps_sandboxes, .timeout = 20)
{
	char dir[] = "/tmp/sbxd-http-XXXXXX";
	char a[21], b[21], path[256];
	long st;
	json_t *before[2], *after;

	cr_assert_not_null(mkdtemp(dir));
	struct sbxd_config cfg = { .state_dir = dir };
	tsrv_start(&t, &cfg);
	uint16_t port = sbxd_port(t.s);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":600,\"metadata\":{\"who\":\"a\"}}", a);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":600,\"metadata\":{\"who\":\"b\"}}", b);
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", b);
	struct resp r;
	http(&t, "POST", path, TEST_KEY, NULL, &r);
	resp_free(&r);
	before[0] = get_info(a, &st);
	before[1] = get_info(b, &st);
	tsrv_stop(&t);

	/* Same port straight away: SO_REUSEADDR. */
	struct sbxd_config cfg2 = { .state_dir = dir, .port = port };
	tsrv_start(&t, &cfg2);
	cr_expect_eq(sbxd_port(t.s), port);
	after = get_info(a, &st);
	cr_assert_eq(st, 200);
	cr_expect(json_equal(before[0], after), "sandbox a changed across restart");
	json_decref(after);
	after = get_info(b, &st);
	cr_expect(json_equal(before[1], after), "sandbox b changed across restart");
	json_decref(after);
	json_decref(before[0]);
	json_decref(before[1]);
	tsrv_stop(&t);
	snprintf(path, sizeof(path), "%s/sandboxes.json", dir);
	unlink(path);
	rmdir(dir);
}
