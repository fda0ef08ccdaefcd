/* The fault API: each kind, count/share/prefix, and that faulted requests
 * change nothing. */
#include "httputil.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

static struct tsrv t;

static void start(void)
{
	struct sbxd_config cfg = { .faults = true };

	tsrv_start(&t, &cfg);
}

static void stop(void)
{
	tsrv_stop(&t);
}

TestSuite(faults, .init = start, .fini = stop, .timeout = 30);

static void set_fault(const char *json)
{
	struct resp r;

	http(&t, "POST", "/sbxd/faults", TEST_KEY, json, &r);
	cr_assert_eq(r.status, 200, "%s -> %ld %s", json, r.status, r.body);
	resp_free(&r);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

Test(faults, config_routes)
{
	struct resp r;

	http(&t, "GET", "/sbxd/faults", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "{\"active\":false}");
	resp_free(&r);
	http(&t, "POST", "/sbxd/faults", TEST_KEY, "{\"status\":418}", &r);
	cr_expect_eq(r.status, 400);
	cr_expect(resp_is_error(&r));
	resp_free(&r);
	http(&t, "POST", "/sbxd/faults", TEST_KEY, "{\"flavour\":1}", &r);
	cr_expect_eq(r.status, 400);
	resp_free(&r);
	set_fault("{\"status\":500}");
	http(&t, "GET", "/sbxd/faults", TEST_KEY, NULL, &r);
	json_t *j = resp_json(&r);
	cr_expect(json_is_true(json_object_get(j, "active")));
	cr_expect_eq(json_integer_value(json_object_get(j, "status")), 500);
	json_decref(j);
	resp_free(&r);
	/* The server's own routes are never faulted. */
	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	http(&t, "DELETE", "/sbxd/faults", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 204);
	resp_free(&r);
	http(&t, "GET", "/health", NULL, NULL, &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
}

Test(faults, status_with_retry_after_and_count)
{
	struct resp r;

	set_fault("{\"status\":503,\"retry_after\":2,\"count\":2}");
	for (int i = 0; i < 2; i++) {
		http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
		cr_expect_eq(r.status, 503);
		cr_expect(resp_is_error(&r), "%s", r.body);
		cr_expect_str_eq(r.retry_after, "2");
		resp_free(&r);
	}
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200, "count ran out");
	resp_free(&r);

	set_fault("{\"status\":429}");
	http(&t, "GET", "/health", NULL, NULL, &r);
	cr_expect_eq(r.status, 429, "faults apply to /health");
	cr_expect_str_eq(r.retry_after, "");
	resp_free(&r);
}

Test(faults, faulted_create_changes_nothing)
{
	struct resp r;

	set_fault("{\"status\":500,\"count\":1}");
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"base\"}", &r);
	cr_expect_eq(r.status, 500);
	resp_free(&r);
	set_fault("{\"body\":\"truncated\",\"count\":1}");
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"base\"}", &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	json_t *j = resp_json(&r);
	cr_expect_eq(json_integer_value(json_object_get(j, "sandboxes")), 0);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "routes"),
							"POST /sandboxes")), 2,
		     "faulted requests are still counted");
	json_decref(j);
	resp_free(&r);
}

Test(faults, path_prefix)
{
	struct resp r;

	set_fault("{\"status\":502,\"path_prefix\":\"/v2/\"}");
	http(&t, "GET", "/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 502);
	resp_free(&r);
}

Test(faults, bodies)
{
	struct resp r;
	json_t *j;

	set_fault("{\"body\":\"truncated\",\"count\":1}");
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.curl_code, 0, "Content-Length must match what is sent");
	cr_expect_gt(r.len, 10);
	cr_expect_eq(r.body[0], '[');
	j = resp_json(&r);
	cr_expect_null(j, "truncated body parsed: %s", r.body);
	json_decref(j);
	resp_free(&r);

	set_fault("{\"body\":\"nonjson\",\"count\":1}");
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.content_type, "text/html");
	j = resp_json(&r);
	cr_expect_null(j);
	json_decref(j);
	resp_free(&r);

	set_fault("{\"body\":\"wrongtype\",\"count\":1}");
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	j = resp_json(&r);
	cr_assert(json_is_array(j), "%s", r.body);
	cr_expect(json_is_integer(json_object_get(json_array_get(j, 0), "sandboxID")));
	json_decref(j);
	resp_free(&r);

	set_fault("{\"body\":\"oversize\",\"count\":1}");
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_geq(r.len, 5u << 20);
	j = resp_json(&r);
	cr_expect(json_is_array(j), "oversize must still be valid JSON");
	json_decref(j);
	resp_free(&r);

	set_fault("{\"body\":\"oversize\",\"count\":1}");
	http(&t, "GET", "/sandboxes/abc", TEST_KEY, NULL, &r);
	cr_expect_geq(r.len, 5u << 20);
	j = resp_json(&r);
	cr_expect(json_is_object(j));
	json_decref(j);
	resp_free(&r);

	set_fault("{\"body\":\"drop\",\"count\":1}");
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_neq(r.curl_code, 0, "drop must close without a response");
	cr_expect_eq(r.status, 0);
	resp_free(&r);
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
}

static void *slow_get(void *arg)
{
	struct resp r;

	(void)arg;
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200);
	resp_free(&r);
	return NULL;
}

Test(faults, latency_does_not_serialize)
{
	pthread_t th[16];
	double t0;

	set_fault("{\"latency_ms\":400}");
	t0 = mono();
	slow_get(NULL);
	cr_expect_geq(mono() - t0, 0.39);
	t0 = mono();
	for (int i = 0; i < 16; i++)
		pthread_create(&th[i], NULL, slow_get, NULL);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	cr_expect_lt(mono() - t0, 1.6, "16 delayed requests took %.2f s", mono() - t0);
}

Test(faults, share)
{
	int hits = 0;

	set_fault("{\"status\":500,\"share\":0.5}");
	for (int i = 0; i < 200; i++) {
		struct resp r;

		http(&t, "GET", "/health", NULL, NULL, &r);
		hits += r.status == 500;
		resp_free(&r);
	}
	cr_expect(hits > 60 && hits < 140, "share 0.5 faulted %d/200", hits);
}
