/* Every route and every error status over real HTTP on loopback. */
#include "httputil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static struct tsrv t;

static void start(void)
{
	struct sbxd_config cfg = { .max_sandboxes = 5, .max_timeout = 3600 };

	tsrv_start(&t, &cfg);
}

static void stop(void)
{
	tsrv_stop(&t);
	cr_expect_eq(tsrv_complaints(), 0, "sbxd logged warnings or errors");
}

TestSuite(api, .init = start, .fini = stop, .timeout = 30);

static void expect_error(const char *method, const char *path, const char *key,
			 const char *body, long status)
{
	struct resp r;

	http(&t, method, path, key, body, &r);
	cr_expect_eq(r.status, status, "%s %s: got %ld %s", method, path, r.status, r.body);
	cr_expect(resp_is_error(&r), "%s %s: not an error body: %s", method, path, r.body);
	resp_free(&r);
}

Test(api, health_needs_no_key)
{
	struct resp r;

	http(&t, "GET", "/health", NULL, NULL, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.len, 0);
	resp_free(&r);
}

Test(api, auth)
{
	expect_error("GET", "/v2/sandboxes", NULL, NULL, 401);
	expect_error("GET", "/v2/sandboxes", "wrong", NULL, 401);
	expect_error("GET", "/v2/sandboxes", TEST_KEY "x", NULL, 401);
	expect_error("POST", "/sandboxes", NULL, "{\"templateID\":\"base\"}", 401);
	expect_error("GET", "/sbxd/stats", NULL, NULL, 401);
	expect_error("GET", "/nowhere", NULL, NULL, 401);

	struct resp r;
	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	json_t *j = resp_json(&r);
	cr_expect_eq(json_integer_value(json_object_get(j, "sandboxes")), 0,
		     "an unauthenticated create must not create");
	json_decref(j);
	resp_free(&r);
}

Test(api, sandbox_lifecycle_routes)
{
	char id[21], path[128];
	struct resp r;
	json_t *j;

	http(&t, "POST", "/v2/sandboxes", TEST_KEY,
	     "{\"templateID\":\"base\",\"timeout\":60,\"metadata\":{\"k\":\"v\"}}", &r);
	cr_assert_eq(r.status, 201, "%s", r.body);
	j = resp_json(&r);
	cr_expect_str_eq(json_string_value(json_object_get(j, "templateID")), "base");
	cr_expect_str_eq(json_string_value(json_object_get(j, "alias")), "base");
	cr_expect_eq(json_string_length(json_object_get(j, "clientID")), 8);
	cr_expect_str_eq(json_string_value(json_object_get(j, "envdVersion")), "0.5.7");
	cr_expect(json_is_string(json_object_get(j, "envdAccessToken")));
	cr_expect(json_is_null(json_object_get(j, "trafficAccessToken")));
	cr_expect(json_is_null(json_object_get(j, "domain")));
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	json_decref(j);
	resp_free(&r);

	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	http(&t, "GET", path, TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200);
	j = resp_json(&r);
	cr_expect_str_eq(json_string_value(json_object_get(j, "state")), "running");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "metadata"), "k")), "v");
	cr_expect(json_is_integer(json_object_get(j, "cpuCount")));
	cr_expect(json_is_string(json_object_get(j, "endAt")));
	cr_expect(json_is_string(json_object_get(j, "startedAt")));
	json_decref(j);
	resp_free(&r);

	snprintf(path, sizeof(path), "/sandboxes/%s/timeout", id);
	http(&t, "POST", path, TEST_KEY, "{\"timeout\":120}", &r);
	cr_expect_eq(r.status, 204);
	cr_expect_eq(r.len, 0);
	resp_free(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s/refreshes", id);
	http(&t, "POST", path, TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 204);
	resp_free(&r);
	http(&t, "POST", path, TEST_KEY, "{\"duration\":30}", &r);
	cr_expect_eq(r.status, 204);
	resp_free(&r);

	snprintf(path, sizeof(path), "/sandboxes/%s/pause", id);
	http(&t, "POST", path, TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 204);
	resp_free(&r);
	expect_error("POST", path, TEST_KEY, "{}", 409);
	expect_error("POST", path, TEST_KEY, "{\"memory\":true}", 409);

	http(&t, "GET", "/v2/sandboxes?state=paused", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 1);
	json_decref(j);
	resp_free(&r);
	http(&t, "GET", "/sandboxes", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 0, "v1 lists running only");
	json_decref(j);
	resp_free(&r);

	snprintf(path, sizeof(path), "/sandboxes/%s/resume", id);
	http(&t, "POST", path, TEST_KEY, "{\"timeout\":60}", &r);
	cr_expect_eq(r.status, 201, "%s", r.body);
	resp_free(&r);
	expect_error("POST", path, TEST_KEY, "{\"timeout\":60}", 409);

	snprintf(path, sizeof(path), "/v2/sandboxes/%s/connect", id);
	http(&t, "POST", path, TEST_KEY, "{\"timeout\":60}", &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	j = resp_json(&r);
	cr_expect_str_eq(json_string_value(json_object_get(j, "sandboxID")), id);
	json_decref(j);
	resp_free(&r);

	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	http(&t, "DELETE", path, TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 204);
	resp_free(&r);
	expect_error("DELETE", path, TEST_KEY, NULL, 404);
	expect_error("GET", path, TEST_KEY, NULL, 404);
	snprintf(path, sizeof(path), "/sandboxes/%s/connect", id);
	expect_error("POST", path, TEST_KEY, "{\"timeout\":60}", 404);
}

Test(api, not_found_and_method)
{
	struct resp r;

	expect_error("GET", "/nowhere", TEST_KEY, NULL, 404);
	expect_error("GET", "/sandboxes/abc/explode", TEST_KEY, NULL, 404);
	expect_error("GET", "/sbxd/faults", TEST_KEY, NULL, 404);
	expect_error("GET", "/sandboxes/doesnotexist00000000", TEST_KEY, NULL, 404);
	http(&t, "PUT", "/sandboxes", TEST_KEY, "{}", &r);
	cr_expect_eq(r.status, 405);
	cr_expect(resp_is_error(&r));
	cr_expect_str_eq(r.allow, "GET, POST");
	resp_free(&r);
	http(&t, "GET", "/sandboxes/abc/pause", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 405);
	cr_expect_str_eq(r.allow, "POST");
	resp_free(&r);
}

Test(api, odd_ids)
{
	/* %2F decodes to a separator: no route has that shape. */
	expect_error("GET", "/sandboxes/a%2Fb", TEST_KEY, NULL, 404);
	expect_error("GET", "/sandboxes/..", TEST_KEY, NULL, 400);
	expect_error("DELETE", "/sandboxes/a.b", TEST_KEY, NULL, 400);
	expect_error("POST", "/sandboxes/%2E%2E/pause", TEST_KEY, NULL, 400);
	expect_error("GET", "/sandboxes/a%20b", TEST_KEY, NULL, 400);
	/* Not UTF-8: still a JSON error body. */
	expect_error("GET", "/sandboxes/%FF%FE", TEST_KEY, NULL, 400);
	expect_error("GET", "/nowhere/%FF", TEST_KEY, NULL, 404);
	expect_error("GET", "/v2/sandboxes?metadata=k%3D%25FF", TEST_KEY, NULL, 400);
}

/* Sends raw bytes and returns the status of the reply (0: none). */
static int raw(const char *req, size_t len, char *reply, size_t cap)
{
	int fd = tsrv_connect(&t);
	size_t got = 0;
	ssize_t n;

	while (len > 0 && (n = send(fd, req, len, MSG_NOSIGNAL)) > 0) {
		req += n;
		len -= (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while (got + 1 < cap && (n = recv(fd, reply + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	reply[got] = '\0';
	close(fd);
	int status = 0;
	sscanf(reply, "HTTP/1.1 %d", &status);
	return status;
}

Test(api, chunked_body_over_one_mib_is_discarded)
{
	static char req[(1 << 20) + (1 << 17)];
	char reply[4096];
	size_t len;

	len = (size_t)snprintf(req, sizeof(req),
			       "POST /sandboxes HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
			       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", TEST_KEY);
	for (int i = 0; i < 17; i++) {
		len += (size_t)snprintf(req + len, sizeof(req) - len, "10000\r\n");
		memset(req + len, ' ', 0x10000);
		len += 0x10000;
		len += (size_t)snprintf(req + len, sizeof(req) - len, "\r\n");
	}
	len += (size_t)snprintf(req + len, sizeof(req) - len, "0\r\n\r\n");
	cr_expect_eq(raw(req, len, reply, sizeof(reply)), 413, "%.200s", reply);
	cr_expect_not_null(strstr(reply, "{\"code\":413,"), "%.400s", reply);

	/* A small chunked body is fine. */
	len = (size_t)snprintf(req, sizeof(req),
			       "POST /sandboxes HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"
			       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
			       "15\r\n{\"templateID\":\"base\"}\r\n0\r\n\r\n", TEST_KEY);
	cr_expect_eq(raw(req, len, reply, sizeof(reply)), 201, "%.400s", reply);
}

Test(api, bad_bodies_change_nothing)
{
	char id[21], path[128];
	static const char *const bad_create[] = {
		"{", "[1]", "{\"templateID\":7}", "{\"timeout\":5}",
		"{\"templateID\":\"base\",\"timeout\":-1}",
		"{\"templateID\":\"base\",\"timeout\":3601}",
		"{\"templateID\":\"base\",\"timeout\":1e99}",
		"{\"templateID\":\"base\",\"metadata\":{\"a\":1}}",
		"{\"templateID\":\"nosuchtemplate\"}",
		"",
	};

	for (size_t i = 0; i < sizeof(bad_create) / sizeof(*bad_create); i++)
		expect_error("POST", "/sandboxes", TEST_KEY, bad_create[i], 400);
	create_sandbox(&t, "{\"templateID\":\"base\",\"timeout\":60}", id);
	snprintf(path, sizeof(path), "/sandboxes/%s/timeout", id);
	expect_error("POST", path, TEST_KEY, "{\"timeout\":\"1\"}", 400);
	expect_error("POST", path, TEST_KEY, "{\"timeout\":-1}", 400);
	expect_error("POST", path, TEST_KEY, "{\"timeout\":99999999}", 400);
	expect_error("POST", path, TEST_KEY, "nope", 400);
	snprintf(path, sizeof(path), "/sandboxes/%s/connect", id);
	expect_error("POST", path, TEST_KEY, "{\"timeout\":-1}", 400);
	snprintf(path, sizeof(path), "/sandboxes/%s/pause", id);
	expect_error("POST", path, TEST_KEY, "{\"memory\":\"yes\"}", 400);

	/* Unknown fields are allowed: the spec does not forbid them. */
	struct resp r;
	http(&t, "POST", "/sandboxes", TEST_KEY, "{\"templateID\":\"base\",\"fancy\":1}", &r);
	cr_expect_eq(r.status, 201);
	resp_free(&r);

	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	json_t *j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 2, "only the two good creates exist");
	json_t *first = json_array_get(j, 1);
	cr_expect_str_eq(json_string_value(json_object_get(first, "state")), "running");
	json_decref(j);
	resp_free(&r);
}

Test(api, bad_list_queries)
{
	expect_error("GET", "/v2/sandboxes?limit=0", TEST_KEY, NULL, 400);
	expect_error("GET", "/v2/sandboxes?limit=101", TEST_KEY, NULL, 400);
	expect_error("GET", "/v2/sandboxes?limit=ten", TEST_KEY, NULL, 400);
	expect_error("GET", "/v2/sandboxes?state=dead", TEST_KEY, NULL, 400);
	expect_error("GET", "/v2/sandboxes?nextToken=garbage", TEST_KEY, NULL, 400);
	expect_error("GET", "/v2/sandboxes?metadata=novalue", TEST_KEY, NULL, 400);
	expect_error("GET", "/sandboxes?metadata=%3Dx", TEST_KEY, NULL, 400);
}

Test(api, metadata_filter_is_double_encoded)
{
	char a[21], b[21];
	struct resp r;

	create_sandbox(&t, "{\"templateID\":\"base\",\"metadata\":{\"user\":\"a b&c\",\"x\":\"1\"}}", a);
	create_sandbox(&t, "{\"templateID\":\"base\",\"metadata\":{\"user\":\"other\"}}", b);
	/* metadata=user=a%20b%26c&x=1, encoded once more as a query value. */
	http(&t, "GET", "/v2/sandboxes?metadata=user%3Da%2520b%2526c%26x%3D1&state=running,paused",
	     TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *j = resp_json(&r);
	cr_assert_eq(json_array_size(j), 1, "%s", r.body);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "sandboxID")), a);
	json_decref(j);
	resp_free(&r);
	http(&t, "GET", "/sandboxes?metadata=user%3Dother", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_assert_eq(json_array_size(j), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "sandboxID")), b);
	json_decref(j);
	resp_free(&r);
	/* Exploded state parameters work too. */
	http(&t, "GET", "/v2/sandboxes?state=running&state=paused", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 2);
	json_decref(j);
	resp_free(&r);
}

/* An oversize body the client waits to send (100-continue), or one too
 * large to be worth reading, is refused from its headers alone. */
Test(api, oversize_body_refused_before_it_is_sent)
{
	const char *heads[] = {
		"Content-Length: 2097152\r\nExpect: 100-continue\r\n",
		"Content-Length: 1099511627776\r\n",
	};
	char req[512], reply[4096];

	for (size_t i = 0; i < 2; i++) {
		size_t len = (size_t)snprintf(req, sizeof(req),
					      "POST /sandboxes HTTP/1.1\r\nHost: x\r\n"
					      "X-API-Key: %s\r\nContent-Type: application/json\r\n"
					      "%sConnection: close\r\n\r\n", TEST_KEY, heads[i]);

		cr_expect_eq(raw(req, len, reply, sizeof(reply)), 413, "%.200s", reply);
		cr_expect_null(strstr(reply, "100 Continue"), "%.200s", reply);
	}
}

Test(api, body_over_one_mib)
{
	size_t n = (1u << 20) + 10;
	char *big = malloc(n + 1);
	struct resp r;

	memset(big, ' ', n);
	memcpy(big, "{\"templateID\":\"base\"", 20);
	big[n - 1] = '}';
	big[n] = '\0';
	http(&t, "POST", "/sandboxes", TEST_KEY, big, &r);
	cr_expect_eq(r.status, 413, "got %ld (curl %d)", r.status, r.curl_code);
	cr_expect(resp_is_error(&r), "%s", r.body);
	resp_free(&r);
	free(big);
	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	json_t *j = resp_json(&r);
	cr_expect_eq(json_integer_value(json_object_get(j, "sandboxes")), 0);
	json_decref(j);
	resp_free(&r);
}

Test(api, quota_429_names_the_limit)
{
	char id[21];
	struct resp r;

	for (int i = 0; i < 5; i++)
		create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	http(&t, "POST", "/v2/sandboxes", TEST_KEY, "{\"templateID\":\"base\"}", &r);
	cr_expect_eq(r.status, 429);
	cr_expect(resp_is_error(&r));
	cr_expect_not_null(strstr(r.body, "maximum number of concurrent sandboxes (5)"), "%s", r.body);
	cr_expect_str_eq(r.retry_after, "", "a quota 429 must not invite retries");
	resp_free(&r);
}

Test(api, templates)
{
	struct resp r;

	http(&t, "GET", "/templates", TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200);
	json_t *j = resp_json(&r), *b = json_array_get(j, 0);
	cr_expect_eq(json_array_size(j), 1);
	cr_expect_str_eq(json_string_value(json_object_get(b, "templateID")), "base");
	cr_expect(json_is_array(json_object_get(b, "aliases")));
	cr_expect(json_is_integer(json_object_get(b, "memoryMB")));
	cr_expect(json_is_string(json_object_get(b, "buildID")));
	cr_expect(json_is_string(json_object_get(b, "envdVersion")));
	json_decref(j);
	resp_free(&r);
}

static json_int_t route_count(json_t *stats, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(stats, "routes"), key));
}

Test(api, stats_are_exact)
{
	char id[21], path[128];
	struct resp r;
	json_t *j;

	http(&t, "DELETE", "/sbxd/stats", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 204);
	resp_free(&r);
	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	for (int i = 0; i < 3; i++) {
		http(&t, "GET", path, TEST_KEY, NULL, &r);
		resp_free(&r);
	}
	http(&t, "GET", "/sandboxes/zzzz", TEST_KEY, NULL, &r);   /* 404 */
	resp_free(&r);
	http(&t, "GET", "/v2/sandboxes", NULL, NULL, &r);         /* 401 */
	resp_free(&r);
	http(&t, "GET", "/what", TEST_KEY, NULL, &r);             /* unrouted */
	resp_free(&r);
	http(&t, "PATCH", "/templates", TEST_KEY, NULL, &r);      /* 405 */
	resp_free(&r);
	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_integer_value(json_object_get(j, "requests")), 8, "%s", r.body);
	cr_expect_eq(route_count(j, "POST /sandboxes"), 1);
	cr_expect_eq(route_count(j, "GET /sandboxes/{id}"), 4);
	cr_expect_eq(route_count(j, "GET /v2/sandboxes"), 1);
	cr_expect_eq(route_count(j, "other"), 1);
	cr_expect_eq(route_count(j, "PATCH /templates"), 1);
	cr_expect_eq(route_count(j, "DELETE /sandboxes/{id}"), 0);
	cr_expect(json_is_integer(json_object_get(json_object_get(j, "routes"),
						  "DELETE /sandboxes/{id}")));
	cr_expect_eq(json_integer_value(json_object_get(j, "sandboxes")), 1);
	json_decref(j);
	resp_free(&r);
}
