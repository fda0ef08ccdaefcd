/* The API client against a real HTTP server: sbxd in-process on a free
 * loopback port, with its fault injection turned on. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

#include "api/api.h"
#include "util/log.h"
#include "sbxd.h"

#define KEY "sbxfs-test-key-0123456789"

static struct sbxd *srv;
static struct api *api;
static char base[64];

static void quiet(void *ctx, enum sbxd_log_level level, const char *msg)
{
	(void)ctx;
	if (level == SBXD_LOG_ERROR)
		fprintf(stderr, "sbxd: %s\n", msg);
}

static struct sbxd *start_server(unsigned max_sandboxes)
{
	struct sbxd_config cfg = {
		.listen_fd = -1, .api_key = KEY, .faults = true,
		.max_sandboxes = max_sandboxes, .log = quiet,
	};
	char *err = NULL;
	struct sbxd *s = sbxd_start(&cfg, &err);

	cr_assert_not_null(s, "sbxd_start: %s", err ? err : "?");
	return s;
}

static struct api *client(const char *url, long request_ms, long deadline_ms, unsigned retries)
{
	struct api_config cfg = {
		.url = url, .api_key = KEY, .connect_timeout_ms = 1000,
		.request_timeout_ms = request_ms, .deadline_ms = deadline_ms,
		.max_retries = retries,
	};
	char *msg = NULL;
	struct api *a = api_new(&cfg, &msg);

	cr_assert_not_null(a, "api_new: %s", msg ? msg : "?");
	return a;
}

static void setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);   /* the failures below are expected */
	srv = start_server(0);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", sbxd_port(srv));
	api = client(base, 2000, 5000, 4);
}

static void teardown(void)
{
	api_free(api);
	sbxd_stop(srv);
	curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

/* ---- talking to sbxd's test routes ------------------------------------- */

static size_t collect(char *d, size_t sz, size_t n, void *p)
{
	json_t **out = p;
	json_error_t e;

	(void)e;
	*out = json_loadb(d, sz * n, 0, NULL);
	return sz * n;
}

static long ctl(const char *method, const char *path, const char *body, json_t **reply)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "X-API-Key: " KEY);
	char url[256];
	long status = 0;
	json_t *dummy = NULL;

	snprintf(url, sizeof(url), "%s%s", base, path);
	hd = curl_slist_append(hd, "Content-Type: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, reply ? reply : &dummy);
	cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	json_decref(dummy);
	return status;
}

static void fault(const char *json)
{
	long st = ctl("POST", "/sbxd/faults", json, NULL);

	cr_assert(st >= 200 && st < 300, "fault %s refused: %ld", json, st);
}

static void reset_stats(void)
{
	ctl("DELETE", "/sbxd/stats", NULL, NULL);
}

/* Requests sbxd saw on one route, e.g. "GET /v2/sandboxes". */
static long route_count(const char *key)
{
	json_t *o = NULL;
	long n;

	cr_assert_eq(ctl("GET", "/sbxd/stats", NULL, &o), 200);
	n = (long)json_integer_value(json_object_get(json_object_get(o, "routes"), key));
	json_decref(o);
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static struct sbx *create(const char *name)
{
	struct api_error e;
	struct sbx *s = NULL;
	int r = api_create(api, "base", 600, name, &s, &e);

	cr_assert_eq(r, 0, "create: %d %s", r, e.message);
	return s;
}

/* ---- the calls ------------------------------------------------------------ */

Test(http, probe_and_bad_key)
{
	struct api_error e;
	struct api_stats st;

	cr_expect_eq(api_probe(api, &e), 0, "%s", e.message);
	cr_expect_eq(api_set_key(api, "wrong-key"), 0);
	cr_expect_eq(api_probe(api, &e), -EACCES);
	cr_expect_eq(e.http_status, 401);
	cr_expect_eq(e.err, -EACCES);
	cr_expect(strstr(e.message, "invalid API key"), "message lost: %s", e.message);
	api_get_stats(api, &st);
	cr_expect(st.reachable);
	cr_expect_eq(st.failures, 1);
	cr_expect_eq(st.last_error.http_status, 401);
	cr_expect_str_eq(st.last_error.message, e.message);
	cr_expect_eq(api_set_key(api, "bad\nkey"), -EINVAL);
	cr_expect_eq(api_set_key(api, KEY), 0);
	cr_expect_eq(api_probe(api, &e), 0);
}

Test(http, lifecycle)
{
	struct api_error e;
	struct sbx *s = create("web"), *g = NULL;
	time_t now = time(NULL);
	char id[160];

	snprintf(id, sizeof(id), "%s", s->id);
	cr_expect_eq(s->state, SBX_STATE_RUNNING);
	cr_expect_str_eq(s->template_id, "base");
	cr_expect_str_eq(sbx_meta_get(s, SBX_NAME_KEY), "web");
	cr_expect(s->started_at >= now - 2 && s->started_at <= now + 2);
	cr_expect(s->end_at >= now + 598 && s->end_at <= now + 602);
	cr_expect_null(strstr(sbx_info_json(s, NULL), "AccessToken"), "%s", sbx_info_json(s, NULL));
	sbx_unref(s);

	cr_assert_eq(api_get(api, id, &g, &e), 0, "%s", e.message);
	cr_expect_str_eq(g->id, id);
	cr_expect_str_eq(sbx_meta_get(g, SBX_NAME_KEY), "web");
	cr_expect_eq(g->state, SBX_STATE_RUNNING);
	sbx_unref(g);

	cr_expect_eq(api_set_timeout(api, id, 120, &e), 0, "%s", e.message);
	cr_assert_eq(api_get(api, id, &g, &e), 0);
	cr_expect(g->end_at >= time(NULL) + 117 && g->end_at <= time(NULL) + 122,
		  "end_at %ld", (long)(g->end_at - time(NULL)));
	sbx_unref(g);

	cr_expect_eq(api_pause(api, id, &e), 0, "%s", e.message);
	cr_assert_eq(api_get(api, id, &g, &e), 0);
	cr_expect_eq(g->state, SBX_STATE_PAUSED);
	sbx_unref(g);
	cr_expect_eq(api_pause(api, id, &e), -EBUSY, "pausing twice");
	cr_expect_eq(e.http_status, 409);

	cr_expect_eq(api_resume(api, id, 300, &e), 0, "%s", e.message);   /* 201 */
	cr_assert_eq(api_get(api, id, &g, &e), 0);
	cr_expect_eq(g->state, SBX_STATE_RUNNING);
	sbx_unref(g);
	cr_expect_eq(api_resume(api, id, 300, &e), 0, "resume when running (200)");

	cr_expect_eq(api_kill(api, id, &e), 0, "%s", e.message);
	cr_expect_eq(api_get(api, id, &g, &e), -ENOENT);
	cr_expect_null(g);
	cr_expect_eq(e.http_status, 404);
	cr_expect_eq(api_kill(api, id, &e), -ENOENT);
	cr_expect_eq(api_set_timeout(api, id, 10, &e), -ENOENT);
	cr_expect_eq(api_pause(api, id, &e), -ENOENT);
	cr_expect_eq(api_resume(api, id, 10, &e), -ENOENT);
}

Test(http, bad_arguments_never_sent)
{
	struct api_error e;
	struct sbx *s;

	reset_stats();
	cr_expect_eq(api_get(api, "", &s, &e), -EINVAL);
	cr_expect_eq(api_kill(api, NULL, &e), -EINVAL);
	cr_expect_eq(api_set_timeout(api, "x", 0, &e), -EINVAL);
	cr_expect_eq(api_create(api, "", 10, NULL, &s, &e), -EINVAL);
	cr_expect_eq(route_count("GET /sandboxes/{id}"), 0);
}

Test(http, ids_are_escaped)
{
	struct api_error e;
	struct sbx *s = NULL;
	int r = api_get(api, "../sandboxes?x=1 2", &s, &e);

	cr_expect(r == -EINVAL || r == -ENOENT, "got %d", r);
	cr_expect_null(s);
	r = api_kill(api, "a/b", &e);
	cr_expect(r == -EINVAL || r == -ENOENT, "got %d", r);
}

Test(http, trailing_slash_in_url)
{
	char url[80];
	struct api_error e;

	snprintf(url, sizeof(url), "%s//", base);
	struct api *a = client(url, 2000, 5000, 1);
	cr_expect_str_eq(api_url(a), base);
	cr_expect_eq(api_probe(a, &e), 0, "%s", e.message);
	api_free(a);
}

Test(http, list_pages, .timeout = 120)
{
	struct sbx **items;
	size_t n;
	struct api_error e;

	for (int i = 0; i < 250; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		sbx_unref(create(i % 3 ? name : NULL));
	}
	reset_stats();
	cr_assert_eq(api_list(api, &items, &n, &e), 0, "%s", e.message);
	cr_expect_eq(n, 250);
	cr_expect_eq(route_count("GET /v2/sandboxes"), 3, "pages of 100");
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert(strcmp(items[i]->id, items[j]->id) != 0, "duplicate %s", items[i]->id);
	size_t named = 0;
	for (size_t i = 0; i < n; i++)
		named += sbx_meta_get(items[i], SBX_NAME_KEY) != NULL;
	cr_expect_eq(named, 166);
	sbx_array_free(items, n);

	/* a paused sandbox is listed too */
	struct sbx *s = create("sleepy");
	cr_expect_eq(api_pause(api, s->id, &e), 0);
	cr_assert_eq(api_list(api, &items, &n, &e), 0);
	cr_expect_eq(n, 251);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(items[i]->id, s->id) == 0)
			found = items[i]->state == SBX_STATE_PAUSED;
	cr_expect(found);
	sbx_array_free(items, n);
	sbx_unref(s);
}

/* 1234 sandboxes are 13 pages, fetched one ahead of the parsing: every
 * sandbox once, in the server's order (newest first). */
Test(http, list_many_pages_in_order, .timeout = 240)
{
	struct sbxd *big = start_server(2000);
	char url[64], want[16];
	struct sbx **items;
	struct sbx *s = NULL;
	struct api_error e;
	struct api_stats st0, st;
	size_t n;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", sbxd_port(big));
	struct api *a = client(url, 2000, 5000, 4);
	for (int i = 0; i < 1234; i++) {
		snprintf(want, sizeof(want), "m%04d", i);
		cr_assert_eq(api_create(a, "base", 600, want, &s, &e), 0, "%s", e.message);
		sbx_unref(s);
	}
	for (int round = 0; round < 3; round++) {
		api_get_stats(a, &st0);
		cr_assert_eq(api_list(a, &items, &n, &e), 0, "%s", e.message);
		api_get_stats(a, &st);
		cr_expect_eq(st.requests - st0.requests, 13, "pages of 100");
		cr_assert_eq(n, 1234);
		for (size_t i = 0; i < n; i++) {
			const char *name = sbx_meta_get(items[i], SBX_NAME_KEY);

			snprintf(want, sizeof(want), "m%04zu", n - 1 - i);
			cr_assert(name && strcmp(name, want) == 0, "item %zu is %s, want %s", i,
				  name ? name : "(none)", want);
		}
		sbx_array_free(items, n);
	}
	api_free(a);
	sbxd_stop(big);
}

/* Every list page broken: the first fails the listing, and no second page
 * is ever asked for (the first one's token is never read). */
Test(http, list_fails_on_first_page_alone)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;

	for (int i = 0; i < 150; i++)
		sbx_unref(create(NULL));
	reset_stats();
	fault("{\"body\":\"nonjson\",\"path_prefix\":\"/v2/sandboxes\"}");
	cr_expect_eq(api_list(api, &items, &n, &e), -EIO);
	cr_expect_null(items);
	cr_expect_eq(e.http_status, 200);
	cr_expect(strstr(e.message, "bad reply"), "%s", e.message);
	ctl("DELETE", "/sbxd/faults", NULL, NULL);
	cr_expect_leq(route_count("GET /v2/sandboxes"), 2);
	cr_assert_eq(api_list(api, &items, &n, &e), 0, "%s", e.message);
	cr_expect_eq(n, 150);
	sbx_array_free(items, n);
}

Test(http, empty_list)
{
	struct sbx **items = (struct sbx **)0x1;
	size_t n = 7;
	struct api_error e;

	cr_assert_eq(api_list(api, &items, &n, &e), 0);
	cr_expect_eq(n, 0);
	sbx_array_free(items, n);
}

/* ---- retries ---------------------------------------------------------------- */

Test(http, retry_503_then_success)
{
	struct sbx *s = create("r"), *g;
	struct api_error e;
	struct api_stats st0, st;
	char id[160];

	snprintf(id, sizeof(id), "%s", s->id);
	sbx_unref(s);
	api_get_stats(api, &st0);
	reset_stats();
	fault("{\"status\":503,\"count\":2}");
	cr_assert_eq(api_get(api, id, &g, &e), 0, "%s", e.message);
	sbx_unref(g);
	cr_expect_eq(route_count("GET /sandboxes/{id}"), 3);
	api_get_stats(api, &st);
	cr_expect_eq(st.retries - st0.retries, 2);
	cr_expect_eq(st.requests - st0.requests, 3);
	cr_expect_eq(st.failures, st0.failures);

	fault("{\"status\":502,\"count\":1}");
	cr_expect_eq(api_set_timeout(api, id, 100, &e), 0);
	fault("{\"status\":504,\"count\":1}");
	cr_expect_eq(api_kill(api, id, &e), 0);
}

Test(http, retry_after_is_honoured)
{
	struct api_error e;
	long t0 = now_ms();

	fault("{\"status\":429,\"retry_after\":1,\"count\":1}");
	cr_expect_eq(api_probe(api, &e), 0, "%s", e.message);
	cr_expect_geq(now_ms() - t0, 950, "waited only %ld ms", now_ms() - t0);
}

Test(http, retry_after_past_deadline_gives_up_at_once)
{
	struct api *a = client(base, 1000, 2000, 4);
	struct api_error e;
	long t0 = now_ms();

	reset_stats();
	fault("{\"status\":503,\"retry_after\":30}");
	cr_expect_eq(api_probe(a, &e), -EIO);
	cr_expect_lt(now_ms() - t0, 1000);
	cr_expect_eq(route_count("GET /v2/sandboxes"), 1);
	cr_expect_eq(e.http_status, 503);
	fault("{\"status\":429,\"retry_after\":30}");
	cr_expect_eq(api_probe(a, &e), -EAGAIN);
	api_free(a);
}

Test(http, budget_exhausted)
{
	struct api *a = client(base, 1000, 10000, 2);
	struct api_error e;
	struct sbx **items;
	size_t n;

	reset_stats();
	fault("{\"status\":503}");
	cr_expect_eq(api_list(a, &items, &n, &e), -EIO);
	cr_expect_eq(route_count("GET /v2/sandboxes"), 3, "1 try + 2 retries");
	cr_expect_eq(e.http_status, 503);
	fault("{\"status\":429}");
	cr_expect_eq(api_list(a, &items, &n, &e), -EAGAIN);
	fault("{\"status\":500}");
	reset_stats();
	cr_expect_eq(api_list(a, &items, &n, &e), -EIO);
	cr_expect_eq(route_count("GET /v2/sandboxes"), 1, "500 is not retried");
	api_free(a);
}

Test(http, deadline_bounds_the_whole_call)
{
	struct api *a = client(base, 5000, 700, 100);
	struct api_error e;
	long t0 = now_ms();

	fault("{\"status\":503}");
	cr_expect_eq(api_probe(a, &e), -EIO);
	cr_expect_lt(now_ms() - t0, 1500, "took %ld ms", now_ms() - t0);
	api_free(a);
}

Test(http, create_not_retried_once_sent)
{
	static const char *const faults[] = {
		"{\"status\":500}", "{\"status\":502}", "{\"status\":504}",
		"{\"body\":\"drop\"}", "{\"latency_ms\":3000}",
	};
	struct api *a = client(base, 500, 10000, 4);
	struct sbx *s = NULL;
	struct api_error e;

	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		reset_stats();
		fault(faults[i]);
		int r = api_create(a, "base", 60, "x", &s, &e);
		cr_expect(r < 0, "%s: created", faults[i]);
		cr_expect_null(s);
		cr_expect_eq(route_count("POST /sandboxes"), 1, "%s: create retried", faults[i]);
		ctl("DELETE", "/sbxd/faults", NULL, NULL);
	}
	api_free(a);
}

Test(http, create_retried_when_refused)
{
	struct sbx *s = NULL;
	struct api_error e;

	reset_stats();
	fault("{\"status\":503,\"count\":1}");
	cr_expect_eq(api_create(api, "base", 60, NULL, &s, &e), 0, "%s", e.message);
	cr_expect_eq(route_count("POST /sandboxes"), 2);
	sbx_unref(s);

	reset_stats();
	fault("{\"status\":429,\"retry_after\":0,\"count\":1}");
	cr_expect_eq(api_create(api, "base", 60, NULL, &s, &e), 0, "%s", e.message);
	cr_expect_eq(route_count("POST /sandboxes"), 2);
	sbx_unref(s);

	reset_stats();
	fault("{\"status\":429,\"count\":1}");
	cr_expect_eq(api_create(api, "base", 60, NULL, &s, &e), -EDQUOT, "429 without Retry-After");
	cr_expect_eq(route_count("POST /sandboxes"), 1);
}

Test(http, quota_from_the_server)
{
	struct sbxd *small = start_server(2);
	char url[64];
	struct sbx *s = NULL;
	struct api_error e;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", sbxd_port(small));
	struct api *a = client(url, 2000, 5000, 4);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(api_create(a, "base", 60, NULL, &s, &e), 0, "%s", e.message);
		sbx_unref(s);
	}
	cr_expect_eq(api_create(a, "base", 60, NULL, &s, &e), -EDQUOT);
	cr_expect(strstr(e.message, "concurrent"), "%s", e.message);
	cr_expect_eq(e.http_status, 429);
	api_free(a);
	sbxd_stop(small);
}

Test(http, pause_resume_retry_only_unprocessed)
{
	struct sbx *s = create("p");
	struct api_error e;
	char id[160];

	snprintf(id, sizeof(id), "%s", s->id);
	sbx_unref(s);
	reset_stats();
	fault("{\"status\":502,\"count\":1}");
	cr_expect_eq(api_pause(api, id, &e), -EIO);
	cr_expect_eq(route_count("POST /sandboxes/{id}/pause"), 1);
	fault("{\"status\":503,\"count\":1}");
	cr_expect_eq(api_pause(api, id, &e), 0, "%s", e.message);
	cr_expect_eq(route_count("POST /sandboxes/{id}/pause"), 3);
	fault("{\"status\":504,\"count\":1}");
	cr_expect_eq(api_resume(api, id, 60, &e), -EIO);
	fault("{\"status\":429,\"count\":1}");
	cr_expect_eq(api_resume(api, id, 60, &e), 0, "%s", e.message);
	cr_expect_eq(route_count("POST /sandboxes/{id}/connect"), 3);
}

Test(http, kill_404_after_retry_is_success)
{
	struct api_error e;

	fault("{\"status\":503,\"count\":1}");
	cr_expect_eq(api_kill(api, "gone-already", &e), 0);
	cr_expect_eq(api_kill(api, "gone-already", &e), -ENOENT, "without a retry 404 stays");
}

/* ---- broken replies ------------------------------------------------------- */

/* A body cut short is retried (a GET), so one such reply costs an attempt;
 * one that stays cut is EIO like the other broken bodies. */
Test(http, a_truncated_body_is_retried)
{
	struct sbx *s = create("t"), *g = NULL;
	struct api_error e;
	struct sbx **items = NULL;
	size_t n;
	char id[160];

	snprintf(id, sizeof(id), "%s", s->id);
	sbx_unref(s);
	fault("{\"body\":\"truncated\",\"count\":1}");
	cr_expect_eq(api_list(api, &items, &n, &e), 0, "list: %s", e.message);
	cr_expect_geq(n, 1);
	sbx_array_free(items, n);
	fault("{\"body\":\"truncated\",\"count\":1}");
	cr_expect_eq(api_get(api, id, &g, &e), 0, "get: %s", e.message);
	sbx_unref(g);
	fault("{\"body\":\"truncated\"}");
	cr_expect_eq(api_list(api, &items, &n, &e), -EIO);
	cr_expect(strstr(e.message, "ends early"), "%s", e.message);
	cr_expect_eq(api_get(api, id, &g, &e), -EIO);
	ctl("DELETE", "/sbxd/faults", NULL, NULL);
}

Test(http, broken_bodies_are_eio)
{
	static const char *const kinds[] = { "nonjson", "wrongtype", "oversize" };
	struct sbx *s = create("b"), *g = NULL;
	struct api_error e;
	struct sbx **items = NULL;
	size_t n;
	char id[160], f[80];

	snprintf(id, sizeof(id), "%s", s->id);
	sbx_unref(s);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(f, sizeof(f), "{\"body\":\"%s\",\"count\":1}", kinds[i]);
		fault(f);
		cr_expect_eq(api_list(api, &items, &n, &e), -EIO, "list with %s body", kinds[i]);
		cr_expect_null(items);
		cr_expect(e.message[0], "no reason for %s", kinds[i]);
		fault(f);
		cr_expect_eq(api_get(api, id, &g, &e), -EIO, "get with %s body", kinds[i]);
		cr_expect_null(g);
	}
	fault("{\"body\":\"oversize\",\"count\":1}");
	cr_expect_eq(api_probe(api, &e), -EIO);
	cr_expect(strstr(e.message, "too large"), "%s", e.message);
	fault("{\"body\":\"nonjson\",\"count\":1}");
	cr_expect_eq(api_create(api, "base", 60, NULL, &g, &e), -EIO);
}

Test(http, dropped_connection)
{
	struct api *a = client(base, 1000, 3000, 2);
	struct api_error e;

	reset_stats();
	fault("{\"body\":\"drop\"}");
	cr_expect_eq(api_probe(a, &e), -EIO);
	cr_expect_eq(route_count("GET /v2/sandboxes"), 3, "idempotent: retried");
	api_free(a);
}

Test(http, request_timeout)
{
	struct api *a = client(base, 300, 1000, 4);
	struct api_error e;
	struct api_stats st;
	long t0 = now_ms();

	fault("{\"latency_ms\":3000}");
	cr_expect_eq(api_probe(a, &e), -ETIMEDOUT);
	cr_expect_lt(now_ms() - t0, 2000, "took %ld ms", now_ms() - t0);
	cr_expect_eq(e.http_status, 0);
	api_get_stats(a, &st);
	cr_expect_not(st.reachable);
	api_free(a);
}

static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	return ntohs(sa.sin_port);
}

Test(http, connection_refused)
{
	char url[64];
	struct api_error e;
	struct api_stats st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	struct api *a = client(url, 1000, 2000, 2);
	cr_expect_eq(api_probe(a, &e), -ECONNREFUSED);
	cr_expect_eq(e.http_status, 0);
	cr_expect(e.message[0]);
	api_get_stats(a, &st);
	cr_expect_not(st.reachable);
	cr_expect_eq(st.requests, 3, "refused connections are retried");
	cr_expect_eq(st.last_error.err, -ECONNREFUSED);
	struct sbx *s = NULL;
	cr_expect_eq(api_create(a, "base", 60, NULL, &s, &e), -ECONNREFUSED);
	api_free(a);
}

Test(http, unresolvable_host)
{
	struct api *a = client("http://sbxfs-no-such-host.invalid", 1000, 2000, 1);
	struct api_error e;

	cr_expect_eq(api_probe(a, &e), -EHOSTUNREACH);
	api_free(a);
}

Test(http, bad_configs)
{
	struct api_config cfg = { .url = "ftp://x", .api_key = "k" };
	char *msg = NULL;

	cr_expect_null(api_new(&cfg, &msg));
	cr_expect_not_null(msg);
	free(msg);
	cfg.url = base;
	cfg.api_key = "";
	cr_expect_null(api_new(&cfg, &msg));
	free(msg);
	cfg.api_key = "a\r\nX-Evil: 1";
	cr_expect_null(api_new(&cfg, &msg));
	free(msg);
	api_free(NULL);
}

Test(http, key_never_logged)
{
	char path[] = "/tmp/sbxfs-test-log-XXXXXX";
	int fd = mkstemp(path);
	struct api_error e;
	struct sbx *s = NULL;

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(log_open(path, LOG_LVL_DEBUG), 0);
	cr_expect_eq(api_probe(api, &e), 0);
	fault("{\"status\":503,\"count\":1}");
	cr_expect_eq(api_probe(api, &e), 0);
	api_get(api, "nope", &s, &e);
	api_set_key(api, KEY "-wrong");
	/* A probe's failure is its caller's to report; a get's is logged. */
	cr_expect_eq(api_probe(api, &e), -EACCES);
	cr_expect_eq(api_get(api, "any", &s, &e), -EACCES);
	log_close();

	FILE *f = fopen(path, "r");
	char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	cr_expect_null(strstr(buf, KEY), "the key leaked into the log:\n%s", buf);
	cr_expect(strstr(buf, "GET /v2/sandboxes -> 200"), "no request line:\n%s", buf);
	cr_expect(strstr(buf, "-> 503"), "no retry line:\n%s", buf);
	cr_expect(strstr(buf, "invalid API key"), "no failure line:\n%s", buf);
	cr_expect(strstr(buf, "warn: get GET /sandboxes/any failed: "), "%s", buf);
	cr_expect_null(strstr(buf, "warn: probe"), "a probe failure was logged:\n%s", buf);
}
