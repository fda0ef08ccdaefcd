/* The API client's exact wire behaviour against a scripted loopback HTTP
 * server: what it sends, and how it takes replies sbxd never gives (token
 * loops, text errors, HTTP-date Retry-After, hostile messages). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "api/api.h"
#include "http/http.h"
#include "util/log.h"

#define KEY "wire-test-key"
#define MAX_REQ 64

struct req {
	char method[16];
	char target[1024];
	char headers[4096];
	char body[4096];
};

/* Returns the status; fills extra headers ("Name: v\r\n"...) and body. */
typedef int (*script_fn)(const struct req *rq, int n, char *hdrs, size_t hlen,
			 char *body, size_t blen);

static struct {
	int lfd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	struct req reqs[MAX_REQ];
	int n;
	script_fn script;
} S;

static ssize_t read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *end;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t k;

		buf[len] = '\0';
		if (len > 0 && buf[0] == 0x16)
			return -2;   /* a TLS ClientHello */
		if ((end = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");
			size_t want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);

			if (len >= want)
				return (ssize_t)want;
		}
		if (len + 1 >= cap || poll(&p, 1, 5000) <= 0)
			return -1;
		k = read(fd, buf + len, cap - 1 - len);
		if (k <= 0)
			return -1;
		len += (size_t)k;
	}
}

static void serve_conn(int fd)
{
	char buf[16384];

	for (;;) {
		ssize_t n = read_request(fd, buf, sizeof(buf));
		char hdrs[6144] = "", body[16384] = "", out[24576];
		struct req rq = { 0 };
		char *eol, *hend;
		int idx, status;

		if (n == -2) {
			const char *bad = "HTTP/1.1 400 Not TLS\r\nContent-Length: 0\r\n\r\n";

			if (write(fd, bad, strlen(bad)) < 0)
				return;
			return;
		}
		if (n < 0)
			return;
		hend = strstr(buf, "\r\n\r\n");
		eol = strstr(buf, "\r\n");
		sscanf(buf, "%15s %1023s", rq.method, rq.target);
		snprintf(rq.headers, sizeof(rq.headers), "%.*s", (int)(hend + 2 - eol), eol);
		snprintf(rq.body, sizeof(rq.body), "%.*s", (int)(n - (hend + 4 - buf)), hend + 4);
		pthread_mutex_lock(&S.lock);
		idx = S.n++;
		if (idx < MAX_REQ)
			S.reqs[idx] = rq;
		pthread_mutex_unlock(&S.lock);
		status = S.script(&rq, idx, hdrs, sizeof(hdrs), body, sizeof(body));
		if (status < 0)
			return;   /* drop the connection */
		n = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n%s",
			     status, strlen(body), hdrs, body);
		if (write(fd, out, (size_t)n) != n)
			return;
	}
}

static void *conn_main(void *p)
{
	int fd = (int)(intptr_t)p;

	serve_conn(fd);
	close(fd);
	return NULL;
}

static void *server_main(void *p)
{
	(void)p;
	for (;;) {
		int fd = accept(S.lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return NULL;
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}

static struct api *A;
static char base[64];

static void start(script_fn fn)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct api_config cfg = { .api_key = KEY, .request_timeout_ms = 2000,
				  .deadline_ms = 4000, .max_retries = 3 };
	char *msg = NULL;

	S.script = fn;
	S.n = 0;
	pthread_mutex_init(&S.lock, NULL);
	S.lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(S.lfd, 8), 0);
	getsockname(S.lfd, (struct sockaddr *)&sa, &len);
	S.port = ntohs(sa.sin_port);
	pthread_create(&S.thread, NULL, server_main, NULL);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", S.port);
	cfg.url = base;
	A = api_new(&cfg, &msg);
	cr_assert_not_null(A, "%s", msg);
}

static void init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);
}

static void fini(void)
{
	api_free(A);
	A = NULL;
	shutdown(S.lfd, SHUT_RDWR);
	close(S.lfd);
	pthread_join(S.thread, NULL);
	curl_global_cleanup();
}

TestSuite(wire, .init = init, .fini = fini, .timeout = 30);

#define ITEM(id) "{\"sandboxID\":\"" id "\",\"templateID\":\"base\",\"state\":\"running\"}"

/* Lists against script and expects the listing to fail with EIO, with
 * nothing handed out, a message containing want and exactly `requests`
 * requests sent; *e is left for further checks. */
static void expect_list_eio(script_fn script, const char *want, int requests,
			    struct api_error *e)
{
	struct sbx **items = NULL;
	size_t n;

	start(script);
	cr_expect_eq(api_list(A, &items, &n, e), -EIO);
	cr_expect_null(items);
	cr_expect(strstr(e->message, want), "%s", e->message);
	cr_expect_eq(S.n, requests, "%d requests, want %d", S.n, requests);
}

static int sc_token_loop(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	(void)n;
	snprintf(h, hl, "X-Next-Token: same\r\n");
	snprintf(b, bl, "[" ITEM("a") "]");
	return 200;
}

Test(wire, token_loop_is_an_error)
{
	struct api_error e;

	expect_list_eio(sc_token_loop, "X-Next-Token", 2, &e);
}

static int sc_pages(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	if (n == 0) {
		snprintf(h, hl, "x-next-token:   a b/c+d=&e  \r\n");
		snprintf(b, bl, "[" ITEM("one") "," ITEM("two") "]");
	} else {
		snprintf(b, bl, "[" ITEM("three") "]");
	}
	return 200;
}

Test(wire, list_request_and_token_escaping)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;

	start(sc_pages);
	cr_assert_eq(api_list(A, &items, &n, &e), 0, "%s", e.message);
	cr_expect_eq(n, 3);
	cr_expect_str_eq(items[2]->id, "three");
	sbx_array_free(items, n);
	cr_assert_eq(S.n, 2);
	cr_expect_str_eq(S.reqs[0].method, "GET");
	cr_expect_str_eq(S.reqs[0].target, "/v2/sandboxes?state=running,paused&limit=100");
	cr_expect_str_eq(S.reqs[1].target,
			 "/v2/sandboxes?state=running,paused&limit=100&nextToken=a%20b%2Fc%2Bd%3D%26e");
	cr_expect(strstr(S.reqs[0].headers, "\r\nX-API-Key: " KEY "\r\n"), "%s", S.reqs[0].headers);
	cr_expect(strstr(S.reqs[0].headers, "\r\nAccept: application/json\r\n"));
	cr_expect(strstr(S.reqs[0].headers, "\r\nContent-Type: application/json\r\n"));
}

static int sc_ok(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)n;
	(void)h;
	(void)hl;
	if (strcmp(rq->method, "POST") == 0 && strcmp(rq->target, "/sandboxes") == 0) {
		snprintf(b, bl, "{\"sandboxID\":\"new1\",\"templateID\":\"base\",\"clientID\":\"c\","
			 "\"envdVersion\":\"0.2.0\",\"envdAccessToken\":\"TOPSECRET\","
			 "\"trafficAccessToken\":null,\"domain\":null}");
		return 201;
	}
	if (strstr(rq->target, "/connect"))
		return 201;
	return 204;
}

Test(wire, request_shapes)
{
	struct api_error e;
	struct sbx *s = NULL;
	time_t now = time(NULL);

	start(sc_ok);
	cr_assert_eq(api_create(A, "base", 60, "web", &s, &e), 0, "%s", e.message);
	cr_expect_str_eq(S.reqs[0].target, "/sandboxes");
	cr_expect_str_eq(S.reqs[0].body,
			 "{\"templateID\":\"base\",\"timeout\":60,\"metadata\":{\"sbxfs.name\":\"web\"}}");
	cr_expect_str_eq(s->id, "new1");
	cr_expect_str_eq(s->client_id, "c");
	cr_expect_str_eq(s->envd_version, "0.2.0");
	cr_expect_eq(s->state, SBX_STATE_RUNNING);
	cr_expect(s->started_at >= now && s->started_at <= now + 2);
	cr_expect_eq(s->end_at, s->started_at + 60);
	cr_expect_str_eq(sbx_meta_get(s, SBX_NAME_KEY), "web");
	cr_expect_null(strstr(sbx_info_json(s, NULL), "TOPSECRET"), "%s", sbx_info_json(s, NULL));
	cr_expect_null(strstr(sbx_info_json(s, NULL), "AccessToken"), "%s", sbx_info_json(s, NULL));
	sbx_unref(s);

	cr_expect_eq(api_create(A, "base", 30, NULL, &s, &e), 0);
	cr_expect_str_eq(S.reqs[1].body, "{\"templateID\":\"base\",\"timeout\":30}");
	cr_expect_eq(s->n_meta, 0);
	sbx_unref(s);

	cr_expect_eq(api_set_timeout(A, "i d", 120, &e), 0);
	cr_expect_str_eq(S.reqs[2].method, "POST");
	cr_expect_str_eq(S.reqs[2].target, "/sandboxes/i%20d/timeout");
	cr_expect_str_eq(S.reqs[2].body, "{\"timeout\":120}");

	cr_expect_eq(api_pause(A, "x", &e), 0);
	cr_expect_str_eq(S.reqs[3].target, "/sandboxes/x/pause");
	cr_expect_str_eq(S.reqs[3].body, "{}");

	cr_expect_eq(api_resume(A, "x", 300, &e), 0);
	cr_expect_str_eq(S.reqs[4].target, "/sandboxes/x/connect");
	cr_expect_str_eq(S.reqs[4].body, "{\"timeout\":300}");

	cr_expect_eq(api_kill(A, "a/b?c", &e), 0);
	cr_expect_str_eq(S.reqs[5].method, "DELETE");
	cr_expect_str_eq(S.reqs[5].target, "/sandboxes/a%2Fb%3Fc");
	cr_expect_str_eq(S.reqs[5].body, "");
}

static int sc_text_404(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	(void)n;
	(void)h;
	(void)hl;
	snprintf(b, bl, "not here");
	return 404;
}

Test(wire, text_error_body)
{
	struct api_error e;
	struct sbx *s;

	start(sc_text_404);
	cr_expect_eq(api_get(A, "x", &s, &e), -ENOENT);
	cr_expect_str_eq(e.message, "not here");
	cr_expect_eq(e.http_status, 404);
}

static int sc_hostile(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	char msg[1200];

	(void)rq;
	(void)n;
	(void)h;
	(void)hl;
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	memcpy(msg, "line1\\nline2\\u001b[31m", 22);
	snprintf(b, bl, "{\"code\":409,\"message\":\"%s\"}", msg);
	return 409;
}

Test(wire, hostile_error_message)
{
	struct api_error e;
	struct api_stats st;

	start(sc_hostile);
	cr_expect_eq(api_pause(A, "x", &e), -EBUSY);
	cr_expect_eq(strncmp(e.message, "line1?line2?[31m", 16), 0, "%s", e.message);
	cr_expect_eq(strlen(e.message), sizeof(e.message) - 1);
	cr_expect_str_eq(e.message + sizeof(e.message) - 4, "...");
	api_get_stats(A, &st);
	cr_expect_str_eq(st.last_error.message, e.message);
	cr_expect_eq(st.last_error.err, -EBUSY);
	cr_expect_neq(st.last_error.when, 0);
}

static int sc_date_retry(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	if (n == 0) {
		snprintf(h, hl, "Retry-After: Wed, 21 Oct 2099 07:28:00 GMT\r\n");
		return 503;
	}
	snprintf(b, bl, "[]");
	return 200;
}

Test(wire, http_date_retry_after_uses_backoff)
{
	struct api_error e;

	start(sc_date_retry);
	cr_expect_eq(api_probe(A, &e), 0, "%s", e.message);
	cr_expect_eq(S.n, 2);
}

static int sc_drop_then_ok(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	(void)h;
	(void)hl;
	if (n == 1)
		return -1;
	snprintf(b, bl, "[]");
	return 200;
}

Test(wire, keepalive_drop_not_resent_for_create)
{
	struct api_error e;
	struct sbx *s = NULL;

	start(sc_drop_then_ok);
	cr_expect_eq(api_probe(A, &e), 0);      /* leaves a kept-alive connection */
	cr_expect_eq(api_create(A, "base", 60, NULL, &s, &e), -EIO);
	cr_expect_null(s);
	cr_expect_eq(S.n, 2, "the create was sent %d times", S.n - 1);
}

static int sc_empty_200(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	(void)n;
	(void)h;
	(void)hl;
	(void)b;
	(void)bl;
	return 200;
}

Test(wire, empty_success_bodies)
{
	struct api_error e;
	struct sbx *s = NULL;
	struct sbx **items;
	size_t n;

	start(sc_empty_200);
	cr_expect_eq(api_kill(A, "x", &e), 0);
	cr_expect_eq(api_set_timeout(A, "x", 5, &e), 0);
	cr_expect_eq(api_get(A, "x", &s, &e), -EIO, "an empty sandbox reply");
	cr_expect_eq(api_list(A, &items, &n, &e), -EIO);
	cr_expect_eq(api_create(A, "base", 5, NULL, &s, &e), -EIO);
}

static int sc_endless(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	(void)rq;
	snprintf(h, hl, "X-Next-Token: t%d\r\n", n);
	snprintf(b, bl, "[]");
	return 200;
}

Test(wire, endless_paging_is_cut_off)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;

	start(sc_endless);
	cr_expect_eq(api_list(A, &items, &n, &e), -EIO);
	cr_expect(strstr(e.message, "too many pages"), "%s", e.message);
	cr_expect_eq(S.n, 10000);
}

/* ---- the paged listing, one page fetched ahead of the parsing ------------ */

/* The page a list request asks for: 0 without a token, k for "tK". */
static int page_of(const struct req *rq)
{
	const char *t = strstr(rq->target, "&nextToken=t");

	return t ? atoi(t + strlen("&nextToken=t")) : 0;
}

/* Page k of a listing of `pages` pages: items pK-0..pK-2, token tK+1. */
static int list_page(int k, int pages, char *h, size_t hl, char *b, size_t bl)
{
	if (k + 1 < pages)
		snprintf(h, hl, "X-Next-Token: t%d\r\n", k + 1);
	snprintf(b, bl, "[{\"sandboxID\":\"p%d-0\",\"templateID\":\"base\",\"state\":\"running\"},"
		 "{\"sandboxID\":\"p%d-1\",\"templateID\":\"base\",\"state\":\"paused\"},"
		 "{\"sandboxID\":\"p%d-2\",\"templateID\":\"base\",\"state\":\"running\"}]",
		 k, k, k);
	return 200;
}

static int sc_forty_pages(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	int k = page_of(rq);

	(void)n;
	if (k % 3 == 1)
		usleep(3000);   /* vary which side of the pipeline waits */
	return list_page(k, 40, h, hl, b, bl);
}

Test(wire, many_pages_in_order)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;
	char want[32];

	start(sc_forty_pages);
	for (int round = 0; round < 3; round++) {
		S.n = 0;
		cr_assert_eq(api_list(A, &items, &n, &e), 0, "%s", e.message);
		cr_assert_eq(n, 120);
		for (size_t i = 0; i < n; i++) {
			snprintf(want, sizeof(want), "p%zu-%zu", i / 3, i % 3);
			cr_assert_str_eq(items[i]->id, want, "item %zu", i);
			cr_expect_eq(items[i]->state, i % 3 == 1 ? SBX_STATE_PAUSED : SBX_STATE_RUNNING);
		}
		sbx_array_free(items, n);
		cr_assert_eq(S.n, 40, "%d requests for 40 pages", S.n);
		for (int k = 1; k < 40; k++)
			cr_expect_eq(page_of(&S.reqs[k]), k, "request %d asked for page %d", k,
				     page_of(&S.reqs[k]));
	}
}

/* Endless pages; page 2 is not JSON but still names a next page.  (It is
 * framed like a document, so it is not taken for a body cut short, which
 * would be retried.) */
static int sc_garbage_page(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	int k = page_of(rq);

	(void)n;
	if (k == 2) {
		snprintf(h, hl, "X-Next-Token: t3\r\n");
		snprintf(b, bl, "[{\"sandboxID\":}]");
		return 200;
	}
	return list_page(k, 1000, h, hl, b, bl);
}

Test(wire, garbage_page_fails_and_stops_fetching)
{
	struct sbx **items = NULL;
	size_t n = 5;
	struct api_error e;
	struct api_stats st0, st;

	start(sc_garbage_page);
	api_get_stats(A, &st0);
	cr_expect_eq(api_list(A, &items, &n, &e), -EIO);
	cr_expect_null(items);
	cr_expect_eq(n, 0);
	cr_expect_eq(e.err, -EIO);
	cr_expect_eq(e.http_status, 200);
	cr_expect_eq(strncmp(e.message, "bad reply: invalid JSON", 23), 0, "%s", e.message);
	usleep(200 * 1000);   /* a fetcher left running would ask for more */
	cr_expect(S.n >= 3 && S.n <= 4, "%d pages requested, want 3 (or 4)", S.n);
	api_get_stats(A, &st);
	cr_expect_eq(st.failures - st0.failures, 1);
	cr_expect_str_eq(st.last_error.message, e.message);
}

/* Page 1 is not JSON; page 2, fetched ahead of its parsing, fails too. */
static int sc_garbage_then_500(const struct req *rq, int n, char *h, size_t hl, char *b,
			       size_t bl)
{
	int k = page_of(rq);

	(void)n;
	if (k == 1) {
		/* 100 good items before the bad one keep the parser busy while
		 * page 2 is fetched. */
		size_t len = (size_t)snprintf(b, bl, "[");

		for (int i = 0; i < 100 && len < bl; i++)
			len += (size_t)snprintf(b + len, bl - len, ITEM("g%d") ",", i);
		if (len < bl)
			snprintf(b + len, bl - len, "{\"templateID\":\"base\"}]");
		snprintf(h, hl, "X-Next-Token: t2\r\n");
		return 200;
	}
	if (k == 2) {
		snprintf(b, bl, "{\"code\":500,\"message\":\"page two broke\"}");
		return 500;
	}
	return list_page(k, 10, h, hl, b, bl);
}

Test(wire, first_failing_page_is_the_error)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;
	struct api_stats st0, st;

	start(sc_garbage_then_500);
	/* Page 2 almost always goes out before page 1 fails to parse (see
	 * the script); a few rounds make sure. */
	for (int i = 0; i < 5; i++) {
		api_get_stats(A, &st0);
		cr_expect_eq(api_list(A, &items, &n, &e), -EIO);
		cr_expect_null(items);
		cr_expect_eq(e.http_status, 200, "the later page's 500 won: %s", e.message);
		cr_expect(strstr(e.message, "bad reply"), "%s", e.message);
		api_get_stats(A, &st);
		cr_expect_eq(st.failures - st0.failures, 1, "a page past the failure was recorded");
		cr_expect_str_eq(st.last_error.message, e.message);
		cr_expect_eq(st.last_error.http_status, 200);
		pthread_mutex_lock(&S.lock);
		cr_expect_leq(S.n, 3);
		S.n = 0;
		pthread_mutex_unlock(&S.lock);
	}
}

/* Page 1 is not JSON; page 2, fetched ahead of its parsing, stalls far
 * past every timeout. */
static int sc_garbage_then_stall(const struct req *rq, int n, char *h, size_t hl, char *b,
				 size_t bl)
{
	int k = page_of(rq);

	(void)n;
	if (k >= 2) {
		sleep(10);
		return -1;
	}
	if (k == 1) {
		snprintf(h, hl, "X-Next-Token: t2\r\n");
		snprintf(b, bl, "[{\"sandboxID\":}]");
		return 200;
	}
	return list_page(k, 10, h, hl, b, bl);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A listing that failed does not wait for the page fetched ahead of it:
 * that request is cancelled, not sat out to its deadline (2 s per attempt,
 * 4 s in all here). */
Test(wire, failed_listing_cancels_the_page_in_flight)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;
	long t0, took;

	start(sc_garbage_then_stall);
	t0 = mono_ms();
	cr_expect_eq(api_list(A, &items, &n, &e), -EIO);
	took = mono_ms() - t0;
	cr_expect(strstr(e.message, "bad reply"), "%s", e.message);
	cr_expect_lt(took, 1800, "the failed listing took %ld ms", took);
	cr_expect_null(items);
}

static int sc_later_500(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	int k = page_of(rq);

	(void)n;
	if (k == 3) {
		snprintf(b, bl, "{\"code\":500,\"message\":\"page three broke\"}");
		return 500;
	}
	return list_page(k, 10, h, hl, b, bl);
}

Test(wire, error_status_on_a_later_page)
{
	struct api_error e;

	/* 500 is not retried, and nothing follows it: 4 requests. */
	expect_list_eio(sc_later_500, "page three broke", 4, &e);
	cr_expect_eq(e.http_status, 500);
	cr_expect_str_eq(e.message, "page three broke");
}

/* Page 2 gets one 503 before it is served: retried within the page. */
static int sc_later_503_once(const struct req *rq, int n, char *h, size_t hl, char *b,
			     size_t bl)
{
	static int failed;
	int k = page_of(rq);

	(void)n;
	if (k == 0)
		failed = 0;
	if (k == 2 && !failed++) {
		snprintf(h, hl, "Retry-After: 0\r\n");
		return 503;
	}
	return list_page(k, 5, h, hl, b, bl);
}

Test(wire, later_page_retried)
{
	struct sbx **items = NULL;
	size_t n;
	struct api_error e;

	start(sc_later_503_once);
	cr_assert_eq(api_list(A, &items, &n, &e), 0, "%s", e.message);
	cr_expect_eq(n, 15);
	cr_expect_str_eq(items[6]->id, "p2-0");
	sbx_array_free(items, n);
	cr_expect_eq(S.n, 6);
}

static int sc_later_repeat(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	int k = page_of(rq);

	(void)n;
	list_page(k, 10, h, hl, b, bl);
	if (k == 2)
		snprintf(h, hl, "X-Next-Token: t2\r\n");   /* what fetched it */
	return 200;
}

Test(wire, repeated_token_on_a_later_page)
{
	struct api_error e;

	expect_list_eio(sc_later_repeat, "X-Next-Token repeats", 3, &e);
	cr_expect_eq(e.http_status, 200);
}

static int sc_long_token(const struct req *rq, int n, char *h, size_t hl, char *b, size_t bl)
{
	int k = page_of(rq);

	(void)n;
	list_page(k, 10, h, hl, b, bl);
	if (k == 1) {
		char tok[HTTP_TOKEN_MAX + 2];

		memset(tok, 'x', sizeof(tok) - 1);
		tok[sizeof(tok) - 1] = '\0';
		snprintf(h, hl, "X-Next-Token: %s\r\n", tok);
	}
	return 200;
}

Test(wire, overlong_token_on_a_later_page)
{
	struct api_error e;

	expect_list_eio(sc_long_token, "X-Next-Token too long", 2, &e);
}

Test(wire, tls_failures_are_explained)
{
	char url[80];
	struct api_config cfg = { .api_key = KEY, .max_retries = 1, .deadline_ms = 3000 };
	struct api_error e;
	struct api *t;
	char *msg = NULL;

	start(sc_empty_200);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", S.port);
	cfg.url = url;
	t = api_new(&cfg, &msg);
	cr_assert_not_null(t, "%s", msg);
	cr_expect_eq(api_probe(t, &e), -ECONNREFUSED);
	cr_expect_eq(strncmp(e.message, "TLS failure: ", 13), 0, "%s", e.message);
	api_free(t);

	cfg.cafile = "/nonexistent/ca.pem";
	t = api_new(&cfg, &msg);
	cr_assert_not_null(t, "%s", msg);
	cr_expect_eq(api_probe(t, &e), -ECONNREFUSED);
	cr_expect_eq(strncmp(e.message, "TLS failure: ", 13), 0, "%s", e.message);
	api_free(t);
}
