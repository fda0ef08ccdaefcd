/* No key in any output, one warn line per failure: sbxfs against a
 * stand-in backend that echoes the X-API-Key header of each request in
 * every error body (as a misconfigured gateway might), at log levels warn
 * and debug, logging to stderr (-f) and to a file (-o log=FILE). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"

/* The stand-in backend.  Fields written by the test and read by the
 * server thread are atomics. */
static struct {
	int lfd;
	uint16_t port;
	pthread_t thread;
	int stop;              /* atomic: ends the accept loop */
	int fail_probe;        /* atomic: the probe gets an error too */
	int fail_list;         /* atomic: listings get 500 */
	int errors;            /* atomic: error replies sent */
} S;

/* Reads one request's head (and drops its body); the X-API-Key value in
 * key.  Returns the request line's length, or -1. */
static int read_request(int fd, char *req, size_t size, char *key, size_t keysize)
{
	size_t got = 0;
	char *end = NULL, *h;
	long clen = 0;

	while (!end && got + 1 < size) {
		ssize_t n = read(fd, req + got, size - 1 - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
		req[got] = '\0';
		end = strstr(req, "\r\n\r\n");
	}
	if (!end)
		return -1;
	key[0] = '\0';
	if ((h = strcasestr(req, "\r\nX-API-Key: ")) != NULL)
		snprintf(key, keysize, "%.*s", (int)strcspn(h + 13, "\r\n"), h + 13);
	if ((h = strcasestr(req, "\r\nContent-Length: ")) != NULL)
		clen = atol(h + 18);
	for (long rest = clen - (long)(got - (size_t)(end + 4 - req)); rest > 0;) {
		char sink[4096];
		ssize_t n = read(fd, sink, sizeof(sink));

		if (n <= 0)
			break;
		rest -= n;
	}
	return (int)strcspn(req, "\r\n");
}

/* The key as a URL would carry it. */
static void percent(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		if (strchr("/+", *s))
			o += (size_t)snprintf(out + o, size - o, "%%%02X", (unsigned char)*s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
}

static void reply(int fd, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(body));

	if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void serve_one(int fd)
{
	char req[8192], key[256], enc[768], body[1400];
	int line = read_request(fd, req, sizeof(req), key, sizeof(key));
	bool probe, list;

	if (line < 0)
		return;
	probe = strncmp(req, "GET /v2/sandboxes?limit=1 ", 26) == 0;
	list = strncmp(req, "GET /v2/sandboxes", 17) == 0;
	if ((probe && !__atomic_load_n(&S.fail_probe, __ATOMIC_ACQUIRE)) ||
	    (list && !probe && !__atomic_load_n(&S.fail_list, __ATOMIC_ACQUIRE))) {
		reply(fd, 200, "[]");
		return;
	}
	percent(key, enc, sizeof(enc));
	snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"internal error for key %s "
		 "(as a query: ?api_key=%s)\"}", list ? 500 : 400, key, enc);
	__atomic_add_fetch(&S.errors, 1, __ATOMIC_ACQ_REL);
	reply(fd, list ? 500 : 400, body);
}

static void *server_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&S.stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { S.lfd, POLLIN, 0 };
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((fd = accept4(S.lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve_one(fd);
		close(fd);
	}
	return NULL;
}

static void server_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	memset(&S, 0, sizeof(S));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(S.lfd, 0);
	cr_assert_eq(bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(S.lfd, 16), 0);
	cr_assert_eq(getsockname(S.lfd, (struct sockaddr *)&sa, &len), 0);
	S.port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&S.thread, NULL, server_main, NULL), 0);
}

static void server_stop(void)
{
	__atomic_store_n(&S.stop, 1, __ATOMIC_RELEASE);
	pthread_join(S.thread, NULL);
	close(S.lfd);
}

/* A key that reads differently %-encoded, in the fixture's key file. */
static void prepare(void)
{
	FILE *f;

	mnt_prepare("scrub", &(struct mnt_opts){ .allow_log = true });
	snprintf(M.key, sizeof(M.key), "sk_scrub/%08lx+%08lx", (unsigned long)random(),
		 (unsigned long)getpid());
	f = fopen(M.keyfile, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s\n", M.key);
	fclose(f);
	server_start();
}

static void finish(void)
{
	mnt_stop();
	server_stop();
}

static bool is_mounted(void)
{
	struct stat a, b;

	return stat(M.dir, &a) == 0 && stat(M.tmp, &b) == 0 && a.st_dev != b.st_dev;
}

/* Starts sbxfs -f on the stand-in; file: also -o log=FILE. */
static void start(const char *level, const char *file)
{
	char opts[512];
	int status;

	snprintf(opts, sizeof(opts), "api_url=http://127.0.0.1:%u,api_key_file=%s,cache_ttl=0,"
		 "log_level=%s%s%s", S.port, M.keyfile, level, file ? ",log=" : "",
		 file ? file : "");
	M.pid = mnt_spawn_sbxfs(M.dir, opts, M.logfile);
	for (int i = 0; i < 200 && !is_mounted(); i++) {
		if (waitpid(M.pid, &status, WNOHANG) == M.pid) {
			M.pid = 0;
			cr_assert_fail("sbxfs exited before mounting: %s", slurp(M.logfile, NULL));
		}
		usleep(50 * 1000);
	}
	cr_assert(is_mounted(), "%s did not get mounted", M.dir);
}

/* Unmounts and waits for sbxfs, so its output is complete. */
static void stop(void)
{
	int status;

	cr_assert_eq(sh("fusermount3 -u \"$MNT\""), 0);
	for (int i = 0; i < 1000 && waitpid(M.pid, &status, WNOHANG) != M.pid; i++)
		usleep(10 * 1000);
	M.pid = 0;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

/* The part of the key after its prefix: no piece of it may show. */
static void expect_no_key(const char *text, const char *where)
{
	char enc[128];

	percent(M.key, enc, sizeof(enc));
	cr_expect_null(strstr(text, M.key), "the key is in %s:\n%s", where, text);
	cr_expect_null(strstr(text, enc), "the %%-encoded key is in %s:\n%s", where, text);
	cr_expect_null(strstr(text, M.key + 9), "part of the key is in %s:\n%s", where, text);
}

/* Failing operations, each answered by the stand-in with the key: a
 * create, an ls of the root and a lookup, each one request. */
#define FAILED_OPS 3

static void fail_operations(void)
{
	char *status;

	cr_expect_eq(mkdir(P("alpha"), 0755), -1);
	cr_expect_eq(errno, EINVAL, "a 400 on create: %s", strerror(errno));
	status = slurp(P(".sbxfs/status"), NULL);
	cr_assert_not_null(status);
	cr_expect(strstr(status, "last_error=400 internal error for key *** (as a query: "
			 "?api_key=***) ("), "%s", status);
	expect_no_key(status, ".sbxfs/status");
	free(status);
	__atomic_store_n(&S.fail_list, 1, __ATOMIC_RELEASE);
	cr_expect_neq(sh("ls \"$MNT\" >/dev/null 2>&1"), 0);
	cr_expect_eq(access(P("beta/state"), F_OK), -1);
	cr_expect_eq(errno, EIO, "%s", strerror(errno));
}

static void run(const char *level, bool to_file)
{
	char file[128], *out, *log = NULL;
	int errors, warns;

	snprintf(file, sizeof(file), "%s/own.log", M.tmp);
	start(level, to_file ? file : NULL);
	fail_operations();
	stop();
	errors = __atomic_load_n(&S.errors, __ATOMIC_ACQUIRE);
	out = slurp(M.logfile, NULL);
	cr_assert_not_null(out);
	expect_no_key(out, "stderr");
	if (to_file) {
		log = slurp(file, NULL);
		cr_assert_not_null(log);
		expect_no_key(log, "the log file");
		cr_expect_eq(count(out, " warn: "), 0, "stderr has log lines:\n%s", out);
	}
	warns = count(log ? log : out, " warn: ");
	/* None of these failures is retried (400, 500): one request each. */
	cr_expect_eq(errors, FAILED_OPS, "the stand-in answered %d errors", errors);
	cr_expect_eq(warns, FAILED_OPS, "%d failed operations, %d warn lines:\n%s", FAILED_OPS,
		     warns, log ? log : out);
	cr_expect_eq(count(log ? log : out, "internal error for key ***"), errors,
		     "%s", log ? log : out);
	cr_expect((count(log ? log : out, " debug: ") > 0) == (strcmp(level, "debug") == 0),
		  "%s", log ? log : out);
	free(out);
	free(log);
}

Test(scrub, warn_to_stderr, .init = prepare, .fini = finish, .timeout = 60)
{
	run("warn", false);
}

Test(scrub, warn_to_a_file, .init = prepare, .fini = finish, .timeout = 60)
{
	run("warn", true);
}

Test(scrub, debug_to_stderr, .init = prepare, .fini = finish, .timeout = 60)
{
	run("debug", false);
}

Test(scrub, debug_to_a_file, .init = prepare, .fini = finish, .timeout = 60)
{
	run("debug", true);
}

/* A probe answered with the key: the terminal message hides it. */
Test(scrub, startup_error_message, .init = prepare, .fini = finish, .timeout = 60)
{
	char opts[512];
	char *out;
	int status;

	__atomic_store_n(&S.fail_probe, 1, __ATOMIC_RELEASE);
	snprintf(opts, sizeof(opts), "api_url=http://127.0.0.1:%u,api_key_file=%s,log_level=debug",
		 S.port, M.keyfile);
	M.pid = mnt_spawn_sbxfs(M.dir, opts, M.logfile);
	cr_assert_eq(waitpid(M.pid, &status, 0), M.pid);
	M.pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
	out = slurp(M.logfile, NULL);
	cr_assert_not_null(out);
	cr_expect(strstr(out, "(provider=custom) answered 500: internal error for key ***"),
		  "%s", out);
	expect_no_key(out, "the startup error");
	free(out);
}
