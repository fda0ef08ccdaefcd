/* Hostile and heavy connection loads: half-sent requests, many keep-alive
 * clients, a slow reader, overload, delayed replies; and the Unix socket. */
#include "httputil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HALF_SENT 3000

static struct tsrv t;

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Threads of this process, the in-process server's included. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_geq(rl.rlim_cur, want, "RLIMIT_NOFILE hard limit %lu is too low",
		      (unsigned long)rl.rlim_max);
}

static int tcp_connect(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect: %s", strerror(errno));
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	cr_assert_eq(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n, "send: %s", strerror(errno));
}

/* True once the server closed fd (EOF or reset) within ms. */
static bool closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, ms) <= 0)
		return false;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static json_int_t conn_stat(const char *name)
{
	struct resp r;
	json_int_t v;

	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	cr_assert_eq(r.status, 200);
	json_t *j = resp_json(&r);
	v = json_integer_value(json_object_get(json_object_get(j, "connections"), name));
	json_decref(j);
	resp_free(&r);
	return v;
}

/* Times one request; asserts its status. */
static double timed(const char *method, const char *path, const char *body, long status,
		    struct resp *r)
{
	double t0 = mono_ms();

	http(&t, method, path, TEST_KEY, body, r);
	cr_assert_eq(r->status, status, "%s %s -> %ld %s", method, path, r->status, r->body);
	return mono_ms() - t0;
}

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

static void stop(void)
{
	tsrv_stop(&t);
}

TestSuite(load, .fini = stop, .timeout = 60);

Test(load, half_sent_requests_do_not_starve_clients)
{
	struct sbxd_config cfg = { .request_timeout = 3 };
	static int fds[HALF_SENT];
	char path[64], id[21];
	struct resp r;
	double ms;
	int open_now;

	raise_nofile(2 * HALF_SENT + 512);
	tsrv_start(&t, &cfg);
	for (int i = 0; i < HALF_SENT; i++) {
		fds[i] = tcp_connect(sbxd_port(t.s), 0);
		send_all(fds[i], "GET /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-Key: ");
	}
	/* Every one of them is open at the server, waiting for the rest. */
	for (int i = 0; i < 100 && conn_stat("open") < HALF_SENT + 1; i++)
		usleep(20 * 1000);
	open_now = (int)conn_stat("open");
	cr_assert_geq(open_now, HALF_SENT, "only %d connections open", open_now);
	cr_expect_lt(thread_count(), 64, "%d threads", thread_count());

	ms = timed("GET", "/v2/sandboxes", NULL, 200, &r);
	resp_free(&r);
	cr_expect_lt(ms, 100.0, "list took %.1f ms", ms);
	double t0 = mono_ms();
	create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	ms = mono_ms() - t0;
	cr_expect_lt(ms, 100.0, "create took %.1f ms", ms);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	ms = timed("DELETE", path, NULL, 204, &r);
	resp_free(&r);
	cr_expect_lt(ms, 100.0, "kill took %.1f ms", ms);
	cr_expect_lt(thread_count(), 64, "%d threads", thread_count());

	/* The request timeout (3 s from connecting) closes them all. */
	int closed = 0;
	for (int i = 0; i < HALF_SENT; i++) {
		if (closed_within(fds[i], 8000))
			closed++;
		close(fds[i]);
	}
	cr_expect_eq(closed, HALF_SENT, "only %d of %d closed", closed, HALF_SENT);
	cr_expect_geq(conn_stat("timed_out"), HALF_SENT);
}

/* A keep-alive connection that trickles a request is closed on time, not
 * kept open by its own activity. */
Test(load, trickled_request_times_out)
{
	struct sbxd_config cfg = { .request_timeout = 2 };
	const char *req = "GET /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-Key: " TEST_KEY
			  "\r\n\r\n";
	char buf[4096];
	double t0;
	int fd;

	tsrv_start(&t, &cfg);
	fd = tcp_connect(sbxd_port(t.s), 0);
	send_all(fd, req);          /* one whole request first: answered */
	cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0);
	cr_expect(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%.40s", buf);
	t0 = mono_ms();
	send_all(fd, "GET /v2/sandboxes HTTP/1.1\r\n");
	bool closed = false;
	for (int i = 0; i < 20 && !closed; i++) {
		send(fd, "X", 1, MSG_NOSIGNAL);
		closed = closed_within(fd, 500);
	}
	cr_expect(closed, "a trickled request kept its connection open");
	cr_expect_lt(mono_ms() - t0, 6000.0);
	close(fd);
}

/* The same for a request line trickled in after a first request: the
 * idle timeout alone would never end it, since every byte resets it. */
Test(load, trickled_request_line_times_out)
{
	struct sbxd_config cfg = { .request_timeout = 1, .idle_timeout = 1 };
	const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	bool closed = false;
	double t0;
	int fd;

	tsrv_start(&t, &cfg);
	fd = tcp_connect(sbxd_port(t.s), 0);
	send_all(fd, req);
	cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0);
	t0 = mono_ms();
	for (int i = 0; i < 30 && !closed; i++) {
		send(fd, "G", 1, MSG_NOSIGNAL);
		closed = closed_within(fd, 300);
	}
	cr_expect(closed, "a trickled request line kept its connection open");
	cr_expect_lt(mono_ms() - t0, 6000.0);
	cr_expect_geq(mono_ms() - t0, 1500.0, "closed before the idle and request timeouts");
	close(fd);
}

Test(load, many_keepalive_clients)
{
	struct sbxd_config cfg = { 0 };
	enum { N = 200 };
	CURL *h[N];
	CURLM *multi = curl_multi_init();
	char url[128];
	int running, ok = 0;

	raise_nofile(4 * N + 512);
	tsrv_start(&t, &cfg);
	snprintf(url, sizeof(url), "%s/v2/sandboxes", t.base);
	struct curl_slist *hdr = curl_slist_append(NULL, "X-API-Key: " TEST_KEY);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)N);
	for (int i = 0; i < N; i++) {
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_URL, url);
		curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 20L);
	}
	/* Two rounds: all at once on new connections, then on the same
	 * connections kept alive. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++)
			curl_multi_add_handle(multi, h[i]);
		do {
			cr_assert_eq(curl_multi_perform(multi, &running), CURLM_OK);
			if (running)
				curl_multi_poll(multi, NULL, 0, 1000, NULL);
		} while (running);
		for (int i = 0; i < N; i++) {
			long code = 0;

			curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &code);
			ok += code == 200;
			curl_multi_remove_handle(multi, h[i]);
		}
	}
	cr_expect_eq(ok, 2 * N, "%d of %d requests served", ok, 2 * N);
	cr_expect_eq(conn_stat("accepted"), N + 1, "the second round was not kept alive");
	cr_expect_eq(conn_stat("refused"), 0);
	for (int i = 0; i < N; i++)
		curl_easy_cleanup(h[i]);
	curl_multi_cleanup(multi);
	curl_slist_free_all(hdr);
}

/* One worker thread, so the slow reader and the others share it. */
Test(load, slow_reader_does_not_hold_up_others)
{
	struct sbxd_config cfg = { .threads = 1 };
	char req[256], buf[1], id[21];
	struct resp r;
	int fd;

	tsrv_start(&t, &cfg);
	for (int i = 0; i < 600; i++)
		create_sandbox(&t, "{\"templateID\":\"base\",\"metadata\":{\"pad\":"
			       "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}", id);
	fd = tcp_connect(sbxd_port(t.s), 1024);
	snprintf(req, sizeof(req), "GET /sandboxes HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n\r\n",
		 TEST_KEY);
	send_all(fd, req);
	for (int s = 0; s < 3; s++) {
		cr_assert_eq(recv(fd, buf, 1, 0), 1);
		for (int i = 0; i < 5; i++) {
			double ms = timed("GET", "/v2/sandboxes", NULL, 200, &r);

			cr_expect_gt(r.len, 1000u);
			resp_free(&r);
			cr_expect_lt(ms, 100.0, "a list took %.1f ms beside the slow reader", ms);
		}
		usleep(1000 * 1000);
	}
	cr_expect_eq(conn_stat("open"), 2, "the slow reader's connection was dropped");
	close(fd);
}

/* A connection stat, or -1 when the stats request itself was refused
 * (the server may not have seen a refused connection close yet). */
static json_int_t conn_stat_try(const char *name)
{
	struct resp r;
	json_int_t v = -1;

	http(&t, "GET", "/sbxd/stats", TEST_KEY, NULL, &r);
	if (r.status == 200) {
		json_t *j = resp_json(&r);

		v = json_integer_value(json_object_get(json_object_get(j, "connections"), name));
		json_decref(j);
	}
	resp_free(&r);
	return v;
}

Test(load, overload_answers_503_with_retry_after)
{
	struct sbxd_config cfg = { .max_connections = 8 };
	int fds[8];
	struct resp r = { 0 };

	tsrv_start(&t, &cfg);
	for (int i = 0; i < 8; i++)
		fds[i] = tcp_connect(sbxd_port(t.s), 0);
	/* Once the server has seen the 8 idle connections, the next is over. */
	for (int i = 0; i < 100; i++) {
		http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
		if (r.status == 503)
			break;
		resp_free(&r);
		usleep(20 * 1000);
	}
	cr_expect_eq(r.status, 503, "%ld %s", r.status, r.body);
	cr_expect_str_eq(r.retry_after, "1");
	cr_expect_str_eq(r.content_type, "application/json");
	cr_expect(resp_is_error(&r), "%s", r.body);
	resp_free(&r);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	for (int i = 0; i < 100 && conn_stat_try("open") != 1; i++)
		usleep(20 * 1000);
	cr_expect_geq(conn_stat("refused"), 1);
	http(&t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &r);
	cr_expect_eq(r.status, 200, "not served once the load went: %ld", r.status);
	resp_free(&r);
}

Test(load, delayed_replies_take_no_thread)
{
	struct sbxd_config cfg = { .faults = true, .threads = 2 };
	enum { N = 100 };
	CURL *h[N];
	CURLM *multi = curl_multi_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "X-API-Key: " TEST_KEY);
	char url[128];
	int running, ok = 0, peak = 0;
	struct resp r;
	double t0;

	tsrv_start(&t, &cfg);
	http(&t, "POST", "/sbxd/faults", TEST_KEY,
	     "{\"latency_ms\":1000,\"path_prefix\":\"/v2/sandboxes\"}", &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	resp_free(&r);
	snprintf(url, sizeof(url), "%s/v2/sandboxes", t.base);
	for (int i = 0; i < N; i++) {
		h[i] = curl_easy_init();
		curl_easy_setopt(h[i], CURLOPT_URL, url);
		curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 30L);
		curl_multi_add_handle(multi, h[i]);
	}
	t0 = mono_ms();
	do {
		int n = thread_count();

		peak = n > peak ? n : peak;
		cr_assert_eq(curl_multi_perform(multi, &running), CURLM_OK);
		if (running)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	} while (running);
	double ms = mono_ms() - t0;
	for (int i = 0; i < N; i++) {
		long code = 0;

		curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &code);
		ok += code == 200;
		curl_multi_remove_handle(multi, h[i]);
		curl_easy_cleanup(h[i]);
	}
	cr_expect_eq(ok, N);
	/* Two workers sleeping 1 s per request would need 50 s. */
	cr_expect_geq(ms, 1000.0);
	cr_expect_lt(ms, 10000.0, "%d delayed requests took %.0f ms", N, ms);
	cr_expect_lt(peak, 64, "%d threads", peak);
	curl_multi_cleanup(multi);
	curl_slist_free_all(hdr);
}

Test(load, unix_socket)
{
	char dir[] = "/tmp/sbxd-test-XXXXXX", path[128], url[64];
	struct sbxd_config cfg = { 0 };
	struct stat st;
	long code = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	cfg.unix_path = path;
	tsrv_start(&t, &cfg);
	cr_expect_eq(sbxd_port(t.s), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "X-API-Key: " TEST_KEY);
	snprintf(url, sizeof(url), "http://localhost/v2/sandboxes");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	cr_expect_eq(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	cr_expect_eq(code, 200);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);

	/* A second server on a live socket is refused. */
	char *err = NULL;
	struct sbxd_config again = { .api_key = TEST_KEY, .listen_fd = -1, .unix_path = path,
				     .log_level = SBXD_LOG_ERROR };
	cr_expect_null(sbxd_start(&again, &err));
	cr_expect(err && strstr(err, "another server listens there"), "%s", err);
	free(err);
	tsrv_stop(&t);
	cr_expect_neq(stat(path, &st), 0, "the socket outlived the server");
	rmdir(dir);
}

struct bg_req {
	struct tsrv *t;
	struct resp r;
};

static void *bg_list(void *arg)
{
	struct bg_req *b = arg;

	http(b->t, "GET", "/v2/sandboxes", TEST_KEY, NULL, &b->r);
	return NULL;
}

/* Stopping with replies still delayed neither hangs nor crashes: they are
 * answered at once. */
Test(load, stop_with_delayed_replies)
{
	struct sbxd_config cfg = { .faults = true };
	struct bg_req b[4];
	pthread_t th[4];
	struct resp r;
	double t0;

	tsrv_start(&t, &cfg);
	http(&t, "POST", "/sbxd/faults", TEST_KEY,
	     "{\"latency_ms\":20000,\"path_prefix\":\"/v2/sandboxes\"}", &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	resp_free(&r);
	for (int i = 0; i < 4; i++) {
		b[i] = (struct bg_req){ .t = &t };
		cr_assert_eq(pthread_create(&th[i], NULL, bg_list, &b[i]), 0);
	}
	for (int i = 0; i < 100 && conn_stat("open") < 5; i++)
		usleep(20 * 1000);
	t0 = mono_ms();
	tsrv_stop(&t);
	cr_expect_lt(mono_ms() - t0, 5000.0, "stopping waited for the delays");
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_expect(b[i].r.status == 200 || b[i].r.status == 0, "%ld", b[i].r.status);
		resp_free(&b[i].r);
	}
}

/* A client that gives up while its reply is delayed still has its create
 * done, as by a slow server: the client must not assume it was not. */
Test(load, delayed_create_lands_after_the_client_gave_up)
{
	struct sbxd_config cfg = { .faults = true };
	struct curl_slist *hdr = curl_slist_append(NULL, "X-API-Key: " TEST_KEY);
	CURL *h = curl_easy_init();
	char url[128];
	struct resp r;
	json_t *j;

	tsrv_start(&t, &cfg);
	http(&t, "POST", "/sbxd/faults",
	     TEST_KEY, "{\"latency_ms\":800,\"path_prefix\":\"/sandboxes\",\"count\":1}", &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	resp_free(&r);
	snprintf(url, sizeof(url), "%s/sandboxes", t.base);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"templateID\":\"base\"}");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 200L);
	cr_expect_eq(curl_easy_perform(h), CURLE_OPERATION_TIMEDOUT);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	http(&t, "GET", "/sandboxes", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 0, "created before the delay ran out");
	json_decref(j);
	resp_free(&r);
	usleep(1200 * 1000);
	http(&t, "GET", "/sandboxes", TEST_KEY, NULL, &r);
	j = resp_json(&r);
	cr_expect_eq(json_array_size(j), 1, "the delayed create was dropped: %s", r.body);
	json_decref(j);
	resp_free(&r);
}
