/* The transport on its own (http/http.c, http/retry.c), against a loopback
 * server of a few lines: per-request header lists, bodies streamed both
 * ways, the cap of each request, and the retry classes. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>

#include "http/http.h"
#include "http/retry.h"

#define REQ_MAX (2u << 20)

/* One request the server took, and the reply it gives. */
static struct {
	int lfd;
	pthread_t thread;
	char url[64];
	char *head;           /* request line and headers */
	char *body;           /* the body, de-chunked */
	size_t body_len;
	int status;
	size_t reply_len;     /* reply body: reply_len bytes of a pattern */
	const char *reply;    /* or this text */
} S;

static char pattern(size_t i)
{
	return (char)('a' + (i * 7 + i / 251) % 26);
}

static ssize_t read_more(int fd, char *buf, size_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (len >= REQ_MAX || poll(&p, 1, 5000) <= 0)
		return -1;
	return read(fd, buf + len, REQ_MAX - len);
}

/* Decodes a chunked body in place; its length, or -1 while incomplete. */
static long dechunk(char *b, size_t n)
{
	size_t in = 0, out = 0;

	for (;;) {
		char *end;
		unsigned long k = strtoul(b + in, &end, 16);
		char *crlf = memmem(b + in, n - in, "\r\n", 2);

		if (crlf == NULL)
			return -1;
		in = (size_t)(crlf + 2 - b);
		if (k == 0)
			return memmem(b + in, n - in, "\r\n", 2) ? (long)out : -1;
		if (in + k + 2 > n)
			return -1;
		memmove(b + out, b + in, k);
		out += k;
		in += k + 2;
		(void)end;
	}
}

/* Reads one whole request into S.head and S.body. */
static int take_request(int fd)
{
	char *buf = malloc(REQ_MAX + 1), *hend, *cl;
	size_t len = 0;
	ssize_t k;

	while ((k = read_more(fd, buf, len)) > 0) {
		len += (size_t)k;
		buf[len] = '\0';
		if ((hend = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		size_t hl = (size_t)(hend + 4 - buf), blen = len - hl;
		char *copy = malloc(blen + 1);
		long n;

		memcpy(copy, hend + 4, blen);
		copy[blen] = '\0';
		if (strcasestr(buf, "Transfer-Encoding: chunked"))
			n = dechunk(copy, blen);
		else if ((cl = strcasestr(buf, "\r\nContent-Length:")) && cl < hend)
			n = blen >= strtoul(cl + 17, NULL, 10) ? (long)strtoul(cl + 17, NULL, 10) : -1;
		else
			n = 0;
		if (n < 0) {
			free(copy);
			continue;
		}
		S.head = strndup(buf, hl);
		S.body = copy;
		S.body_len = (size_t)n;
		free(buf);
		return 0;
	}
	free(buf);
	return -1;
}

static void give_reply(int fd)
{
	size_t n = S.reply ? strlen(S.reply) : S.reply_len;
	char head[128], *body = malloc(n + 1);
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			  S.status, n);

	for (size_t i = 0; i < n; i++)
		body[i] = S.reply ? S.reply[i] : pattern(i);
	if (write(fd, head, (size_t)hl) == hl)
		for (size_t off = 0; off < n;) {
			ssize_t w = write(fd, body + off, n - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
	free(body);
}

static void *server_main(void *p)
{
	int fd = accept(S.lfd, NULL, NULL);

	(void)p;
	if (fd < 0)
		return NULL;
	if (take_request(fd) == 0)
		give_reply(fd);
	close(fd);
	return NULL;
}

static void serve(int status, const char *reply, size_t reply_len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	/* A test may serve twice: the last request's captures go. */
	free(S.head);
	free(S.body);
	S.head = S.body = NULL;
	S.status = status;
	S.reply = reply;
	S.reply_len = reply_len;
	S.lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(S.lfd, 4), 0);
	getsockname(S.lfd, (struct sockaddr *)&sa, &len);
	snprintf(S.url, sizeof(S.url), "http://127.0.0.1:%d/files?path=%%2Fa", ntohs(sa.sin_port));
	cr_assert_eq(pthread_create(&S.thread, NULL, server_main, NULL), 0);
}

static struct http_pool *P;

static void init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	P = http_pool_new(2);
	cr_assert_not_null(P);
}

static void fini(void)
{
	if (S.lfd > 0) {
		shutdown(S.lfd, SHUT_RDWR);
		close(S.lfd);
		pthread_join(S.thread, NULL);
	}
	free(S.head);
	free(S.body);
	memset(&S, 0, sizeof(S));
	http_pool_free(P);
	curl_global_cleanup();
}

static void perform(struct http_request *rq, struct http_response *rs)
{
	rq->url = S.url;
	rq->connect_timeout_ms = 2000;
	rq->timeout_ms = 5000;
	cr_assert_eq(http_perform(P, rq, rs), 0);
	pthread_join(S.thread, NULL);
	close(S.lfd);
	S.lfd = 0;
}

TestSuite(http, .init = init, .fini = fini, .timeout = 30);

Test(http, header_list_goes_with_its_request)
{
	struct curl_slist *h = curl_slist_append(NULL, "X-Access-Token: tok-1");
	struct http_request rq = { .method = "GET" };
	struct http_response rs;

	h = curl_slist_append(h, "X-Other: two");
	rq.headers = h;
	serve(200, "hello", 0);
	perform(&rq, &rs);
	cr_assert_eq(rs.curl_code, CURLE_OK, "%s", rs.errbuf);
	cr_expect_eq(rs.status, 200);
	cr_expect_str_eq(rs.body, "hello");
	cr_expect_not_null(strstr(S.head, "GET /files?path=%2Fa HTTP/1.1\r\n"), "%s", S.head);
	cr_expect_not_null(strstr(S.head, "\r\nX-Access-Token: tok-1\r\n"), "%s", S.head);
	cr_expect_not_null(strstr(S.head, "\r\nX-Other: two\r\n"), "%s", S.head);
	http_response_clear(&rs);
	curl_slist_free_all(h);
}

struct collect {
	char *data;
	size_t len;
	unsigned calls;
	size_t fail_after;     /* 0: never */
};

static int collect_write(const char *data, size_t len, void *ctx)
{
	struct collect *c = ctx;

	if (c->fail_after && c->len + len > c->fail_after)
		return -ENOSPC;
	c->data = realloc(c->data, c->len + len);
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->calls++;
	return 0;
}

Test(http, a_large_reply_streams_to_the_sink)
{
	size_t n = 3u << 20;   /* past the default cap: the request sets its own */
	struct collect c = { 0 };
	struct http_sink sink = { collect_write, &c };
	struct http_request rq = { .method = "GET", .sink = &sink, .max_body = 8u << 20 };
	struct http_response rs;

	serve(200, NULL, n);
	perform(&rq, &rs);
	cr_assert_eq(rs.curl_code, CURLE_OK, "%s", rs.errbuf);
	cr_expect_null(rs.body);
	cr_expect_eq(rs.streamed, n);
	cr_assert_eq(c.len, n);
	cr_expect_gt(c.calls, 1, "one piece: not streamed");
	for (size_t i = 0; i < n; i++)
		if (c.data[i] != pattern(i))
			cr_assert_fail("byte %zu differs", i);
	free(c.data);
	http_response_clear(&rs);
}

Test(http, an_error_reply_is_kept_for_its_message)
{
	struct collect c = { 0 };
	struct http_sink sink = { collect_write, &c };
	struct http_request rq = { .method = "GET", .sink = &sink };
	struct http_response rs;

	serve(404, "{\"message\":\"no such file\"}", 0);
	perform(&rq, &rs);
	cr_assert_eq(rs.curl_code, CURLE_OK, "%s", rs.errbuf);
	cr_expect_eq(rs.status, 404);
	cr_expect_str_eq(rs.body, "{\"message\":\"no such file\"}");
	cr_expect_eq(c.len, 0);
	http_response_clear(&rs);
}

Test(http, a_failing_sink_ends_the_transfer_with_its_errno)
{
	struct collect c = { .fail_after = 1000 };
	struct http_sink sink = { collect_write, &c };
	struct http_request rq = { .method = "GET", .sink = &sink, .max_body = 8u << 20 };
	struct http_response rs;

	serve(200, NULL, 1u << 20);
	perform(&rq, &rs);
	cr_expect_eq(rs.curl_code, CURLE_WRITE_ERROR);
	cr_expect_eq(rs.sink_err, -ENOSPC);
	cr_expect_not(rs.too_large);
	free(c.data);
	http_response_clear(&rs);
}

Test(http, each_request_has_its_own_cap)
{
	struct collect c = { 0 };
	struct http_sink sink = { collect_write, &c };
	struct http_request rq = { .method = "GET", .max_body = 100 };
	struct http_response rs;

	serve(200, NULL, 1000);
	perform(&rq, &rs);
	cr_expect_eq(rs.curl_code, CURLE_WRITE_ERROR);
	cr_expect(rs.too_large);
	http_response_clear(&rs);

	rq.sink = &sink;
	serve(200, NULL, 1000);
	perform(&rq, &rs);
	cr_expect_eq(rs.curl_code, CURLE_WRITE_ERROR);
	cr_expect(rs.too_large, "the sink's bytes count against the cap too");
	cr_expect_leq(c.len, 100);
	free(c.data);
	http_response_clear(&rs);
}

struct source_state {
	size_t sent, total;
};

static size_t pattern_read(char *buf, size_t size, void *ctx)
{
	struct source_state *st = ctx;
	size_t n = st->total - st->sent;

	if (n > size)
		n = size;
	if (n > 7000)
		n = 7000;   /* many small pieces */
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(st->sent + i);
	st->sent += n;
	return n;
}

static void check_streamed_upload(long long len)
{
	struct source_state st = { 0, 300000 };
	struct http_source src = { pattern_read, &st, len };
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	struct http_request rq = { .method = "PUT", .source = &src, .headers = h };
	struct http_response rs;

	serve(204, "", 0);
	perform(&rq, &rs);
	cr_assert_eq(rs.curl_code, CURLE_OK, "%s", rs.errbuf);
	cr_expect_eq(rs.status, 204);
	cr_expect_not_null(strstr(S.head, "PUT /files?path=%2Fa HTTP/1.1\r\n"), "%s", S.head);
	cr_expect_not_null(strcasestr(S.head, len < 0 ? "Transfer-Encoding: chunked" :
				      "Content-Length: 300000"), "%s", S.head);
	cr_assert_eq(S.body_len, st.total);
	for (size_t i = 0; i < st.total; i++)
		if (S.body[i] != pattern(i))
			cr_assert_fail("byte %zu differs", i);
	http_response_clear(&rs);
	curl_slist_free_all(h);
}

Test(http, a_body_streams_from_its_source)
{
	check_streamed_upload(300000);
}

Test(http, a_body_of_unknown_length_goes_chunked)
{
	check_streamed_upload(-1);
}

Test(http, a_streamed_post_stays_a_post)
{
	struct source_state st = { 0, 10 };
	struct http_source src = { pattern_read, &st, 10 };
	struct http_request rq = { .method = "POST", .source = &src };
	struct http_response rs;

	serve(200, "{}", 0);
	perform(&rq, &rs);
	cr_assert_eq(rs.curl_code, CURLE_OK, "%s", rs.errbuf);
	cr_expect_not_null(strstr(S.head, "POST /files"), "%s", S.head);
	cr_expect_eq(S.body_len, 10);
	http_response_clear(&rs);
}

/* The classes know requests only by how safe a repeat is. */
Test(http, retry_classes)
{
	struct http_response rs = { .retry_after = 2 };

	cr_expect(http_retry_transport(HTTP_RETRY_IDEMPOTENT, CURLE_OPERATION_TIMEDOUT));
	cr_expect_not(http_retry_transport(HTTP_RETRY_UNPROCESSED, CURLE_OPERATION_TIMEDOUT));
	cr_expect_not(http_retry_transport(HTTP_RETRY_ONCE, CURLE_GOT_NOTHING));
	cr_expect(http_retry_transport(HTTP_RETRY_ONCE, CURLE_COULDNT_CONNECT));
	cr_expect(http_retry_status(HTTP_RETRY_IDEMPOTENT, 502, -1));
	cr_expect_not(http_retry_status(HTTP_RETRY_UNPROCESSED, 502, -1));
	cr_expect(http_retry_status(HTTP_RETRY_UNPROCESSED, 429, -1));
	cr_expect_not(http_retry_status(HTTP_RETRY_ONCE, 429, -1));
	cr_expect(http_retry_status(HTTP_RETRY_ONCE, 429, 1));
	cr_expect_not(http_retry_status(HTTP_RETRY_ONCE, 504, -1));
	cr_expect_not(http_retry_status(HTTP_RETRY_IDEMPOTENT, 500, -1));
	cr_expect_not(http_retry_fresh_connection(HTTP_RETRY_IDEMPOTENT));
	cr_expect(http_retry_fresh_connection(HTTP_RETRY_ONCE));
	cr_expect_eq(http_retry_delay_ms(&rs, 0), 2000);
	rs.retry_after = -1;
	for (unsigned a = 0; a < 8; a++) {
		long d = http_retry_delay_ms(&rs, a);

		cr_expect(d >= 50 && d <= 2000, "attempt %u: %ld ms", a, d);
	}
}
