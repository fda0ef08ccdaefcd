/* The envd client against a scripted loopback server that misbehaves as
 * envd or its proxy may: slow, 502, a body cut short, a token rejected.
 * Every call ends within its documented bound with its errno. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "envd/client.h"
#include "util/log.h"

enum mode { SLOW, BAD_GATEWAY, CUT_SHORT, TOKEN_REJECTED };

static struct {
	int lfd, port;
	enum mode mode;
	int requests;
	pthread_t thread;
} S;

static struct envdc *ec;
static const struct envdc_target tg = { "sbx1", "tok-abcdefgh-12345678", NULL };

/* Reads one request's headers and body (by Content-Length). */
static void read_request(int fd)
{
	char buf[8192];
	size_t len = 0;
	char *end = NULL, *cl;

	while (len < sizeof(buf) - 1 && !end) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (k <= 0)
			return;
		len += (size_t)k;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (end && (cl = strcasestr(buf, "\r\nContent-Length:"))) {
		size_t want = strtoul(cl + 17, NULL, 10), have = len - (size_t)(end + 4 - buf);

		while (have < want) {
			ssize_t k = read(fd, buf, sizeof(buf));

			if (k <= 0)
				return;
			have += (size_t)k;
		}
	}
}

static void reply(int fd, const char *text)
{
	(void)!write(fd, text, strlen(text));
}

/* A whole reply: status line, JSON body and its length. */
static void reply_json(int fd, const char *status, const char *body)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s", status, strlen(body), body);
	reply(fd, buf);
}

static void serve(int fd)
{
	read_request(fd);
	__atomic_add_fetch(&S.requests, 1, __ATOMIC_SEQ_CST);
	switch (S.mode) {
	case SLOW:
		sleep(3);
		reply(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
		break;
	case BAD_GATEWAY:
		reply_json(fd, "502 Bad Gateway", "{\"sandboxId\":\"sbx1\",\"message\":"
			   "\"The sandbox was not found\",\"code\":502}");
		break;
	case CUT_SHORT:
		reply(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			  "Content-Length: 100\r\n\r\n{\"entries\":[{\"name\":");
		break;
	case TOKEN_REJECTED:
		reply_json(fd, "401 Unauthorized", "{\"code\":401,\"message\":\"unauthorized "
			   "access, please provide a valid access token\"}");
		break;
	}
	close(fd);
}

static void *server_main(void *p)
{
	(void)p;
	for (;;) {
		int fd = accept(S.lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
		serve(fd);
	}
}

static void start(enum mode m)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char base[64], *err = NULL;
	struct envdc_config cfg = {
		.sandbox_url = base, .connect_timeout_ms = 500, .request_timeout_ms = 500,
		.deadline_ms = 1500,
	};

	log_open("stderr", LOG_LVL_ERROR);
	S.mode = m;
	S.lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(S.lfd, 16), 0);
	getsockname(S.lfd, (struct sockaddr *)&sa, &sl);
	S.port = ntohs(sa.sin_port);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", S.port);
	pthread_create(&S.thread, NULL, server_main, NULL);
	ec = envdc_new(&cfg, &err);
	cr_assert_not_null(ec);
}

static void stop(void)
{
	envdc_free(ec);
	shutdown(S.lfd, SHUT_RDWR);
	close(S.lfd);
	pthread_join(S.thread, NULL);
	log_close();
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

Test(envd_fault, a_slow_envd_times_out_within_the_deadline, .fini = stop, .timeout = 30)
{
	struct envdc_error e;
	struct fentry f;
	long t0;

	start(SLOW);
	t0 = now_ms();
	cr_assert_eq(envdc_stat(ec, &tg, "/x", &f, &e), -ETIMEDOUT);
	/* deadline + one attempt's timeout, with room for a loaded machine */
	cr_assert_lt(now_ms() - t0, 2000 + 500 + 1500);
}

Test(envd_fault, a_502_is_hostdown_after_bounded_retries, .fini = stop, .timeout = 30)
{
	struct envdc_error e;
	struct fentry *v;
	size_t n;

	start(BAD_GATEWAY);
	cr_assert_eq(envdc_list(ec, &tg, "/", &v, &n, &e), -EHOSTDOWN);
	cr_assert_eq(e.http_status, 502);
	cr_assert_str_eq(e.message, "The sandbox was not found");
	cr_assert_leq(S.requests, 4);
}

Test(envd_fault, a_body_cut_short_is_eio, .fini = stop, .timeout = 30)
{
	struct envdc_error e;
	struct fentry *v;
	size_t n;

	start(CUT_SHORT);
	cr_assert_eq(envdc_list(ec, &tg, "/", &v, &n, &e), -EIO);
}

Test(envd_fault, a_rejected_token_is_eacces_and_never_logged, .fini = stop, .timeout = 30)
{
	struct envdc_error e;
	struct fentry f;

	start(TOKEN_REJECTED);
	cr_assert_eq(envdc_stat(ec, &tg, "/x", &f, &e), -EACCES);
	cr_assert_eq(e.http_status, 401);
	cr_assert_null(strstr(e.message, tg.token));
	cr_assert_eq(S.requests, 1);
}
