/* The mount test fixture; see mnt.h. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mnt.h"
#include "sbxd.h"
#include "model/values.h"

struct mnt M;

void mnt_require_fuse(void)
{
	struct stat st;

	/* Only a missing device skips; one we may not open is a failure. */
	if (stat("/dev/fuse", &st) != 0 && errno == ENOENT) {
		fprintf(stderr, "skipping the mount tests: /dev/fuse does not exist\n");
		exit(77);
	}
}

const char *sbxfs_exe(void)
{
	const char *e = getenv("SBXFS_EXE");

	cr_assert(e && *e, "SBXFS_EXE is not set (meson test sets it)");
	return e;
}

const char *P(const char *fmt, ...)
{
	/* Rotating results, used by the test's one thread only (see M). */
	static char bufs[8][512];
	static unsigned next;
	char *b = bufs[next++ % 8];
	int n = snprintf(b, sizeof(bufs[0]), "%s/", M.dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(bufs[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	return b;
}

int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	setenv("MNT", M.dir, 1);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	size_t cap = 4096, n = 0;
	char *buf;
	ssize_t r;

	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
	}
	if (r < 0) {
		int e = errno;

		close(fd);
		free(buf);
		errno = e;
		return NULL;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int put(const char *path, const char *buf)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t r;
	int err = 0;

	if (fd < 0)
		return -errno;
	r = write(fd, buf, strlen(buf));
	if (r < 0)
		err = -errno;
	else if ((size_t)r != strlen(buf))
		err = -EIO;
	if (close(fd) < 0 && err == 0)
		err = -errno;
	return err;
}

/* ---- backend ---- */

static int listen_on(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, 128), 0);
	return fd;
}

void mnt_backend_start(void)
{
	struct sbxd_config cfg = {
		.listen_fd = listen_on(M.port),
		.api_key = M.key,
		.templates_file = M.tplfile,
		.faults = true,
		.max_sandboxes = M.opts.sbxd_max_sandboxes ? M.opts.sbxd_max_sandboxes : 2000,
		.runtime = M.opts.runtime,
		.log_level = SBXD_LOG_ERROR,
	};
	char *err = NULL;

	M.sbxd = sbxd_start(&cfg, &err);
	cr_assert_not_null(M.sbxd, "sbxd_start: %s", err ? err : "?");
	M.port = sbxd_port(M.sbxd);
	snprintf(M.url, sizeof(M.url), "http://127.0.0.1:%u", M.port);
	if (M.opts.on_backend)
		M.opts.on_backend(M.sbxd);
}

void mnt_backend_stop(void)
{
	if (M.sbxd)
		sbxd_stop(M.sbxd);
	M.sbxd = NULL;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* ---- sbxfs ---- */

static bool mounted(void)
{
	struct stat a, b;
	char parent[128];

	snprintf(parent, sizeof(parent), "%s", M.tmp);
	return stat(M.dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

pid_t mnt_spawn_sbxfs(const char *mountpoint, const char *opts, const char *logfile)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		/* Never outlive the test process, even if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		/* Only what the test passes may configure the backend or TLS. */
		unsetenv("NOVITA_API_KEY");
		unsetenv("E2B_API_KEY");
		unsetenv("SSL_CERT_FILE");
		unsetenv("CURL_CA_BUNDLE");
		execl(sbxfs_exe(), "sbxfs", mountpoint, "-f", "-o", opts, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void spawn_sbxfs(void)
{
	char opts[1024];

	snprintf(opts, sizeof(opts), "api_url=%s,api_key_file=%s,cache_ttl=%u,log_level=%s%s%s",
		 M.url, M.keyfile, M.opts.cache_ttl,
		 M.opts.log_level ? M.opts.log_level : "error",
		 M.opts.extra ? "," : "", M.opts.extra ? M.opts.extra : "");
	M.pid = mnt_spawn_sbxfs(M.dir, opts, M.logfile);
}

void mnt_prepare(const char *tag, const struct mnt_opts *o)
{
	char keyline[96];

	memset(&M, 0, sizeof(M));
	M.opts = *o;
	snprintf(M.tmp, sizeof(M.tmp), "/tmp/sbxfs-%s-XXXXXX", tag);
	cr_assert_not_null(mkdtemp(M.tmp));
	snprintf(M.dir, sizeof(M.dir), "%s/mnt", M.tmp);
	snprintf(M.keyfile, sizeof(M.keyfile), "%s/key", M.tmp);
	snprintf(M.logfile, sizeof(M.logfile), "%s/sbxfs.log", M.tmp);
	snprintf(M.tplfile, sizeof(M.tplfile), "%s/templates.json", M.tmp);
	snprintf(M.key, sizeof(M.key), "sk_%s_%08lx%08lx", tag, (unsigned long)random(),
		 (unsigned long)getpid());
	cr_assert_eq(mkdir(M.dir, 0755), 0);
	write_file(M.tplfile, o->templates_json ? o->templates_json
		   : "[{\"templateID\":\"py3tpl\",\"aliases\":[\"python\"]}]\n");
	snprintf(keyline, sizeof(keyline), "%s\n", M.key);
	write_file(M.keyfile, keyline);
}

void mnt_start(const struct mnt_opts *o)
{
	mnt_prepare("test", o);
	mnt_mount();
}

void mnt_mount(void)
{
	int status;

	mnt_backend_start();
	spawn_sbxfs();
	for (int i = 0; i < 200 && !mounted(); i++) {
		if (waitpid(M.pid, &status, WNOHANG) == M.pid) {
			M.pid = 0;
			char *log = slurp(M.logfile, NULL);

			cr_assert_fail("sbxfs exited before mounting: %s", log ? log : "");
		}
		usleep(50 * 1000);
	}
	if (!mounted()) {
		char *log = slurp(M.logfile, NULL);

		cr_assert_fail("%s did not get mounted: %s", M.dir, log ? log : "");
	}
}

/* Waits up to ms for pid; returns true with *status when it exited. */
static bool reap(pid_t pid, int *status, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

static int run_fusermount(const char *flags)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "fusermount3 %s '%s' 2>/dev/null", flags, M.dir);
	return system(cmd);
}

/* True if the log has anything the test did not allow. */
static void check_log(void)
{
	char *log = slurp(M.logfile, NULL);
	bool bad;

	if (log == NULL)
		return;
	bad = strstr(log, "Sanitizer") || strstr(log, "runtime error") ||
	      (!M.opts.allow_log && log[0] != '\0');
	if (bad)
		cr_expect_fail("unexpected sbxfs output:\n%s", log);
	free(log);
}

void mnt_stop(void)
{
	int status = 0;

	if (M.pid > 0) {
		if (mounted() && run_fusermount("-u") != 0)
			run_fusermount("-uz");
		if (!reap(M.pid, &status, 10000)) {
			kill(M.pid, SIGTERM);
			if (!reap(M.pid, &status, 3000)) {
				kill(M.pid, SIGKILL);
				waitpid(M.pid, &status, 0);
			}
			cr_expect_fail("sbxfs did not exit after the unmount");
		} else {
			cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				  "sbxfs exited with status %#x", status);
		}
		M.pid = 0;
	}
	if (mounted())
		run_fusermount("-uz");
	mnt_backend_stop();
	if (M.tmp[0]) {
		check_log();
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", M.tmp);
		if (system(cmd) != 0)
			cr_expect_fail("cannot remove %s", M.tmp);
		M.tmp[0] = '\0';
	}
}

/* ---- REST ---- */

static size_t collect(char *p, size_t sz, size_t n, void *ctx)
{
	FILE *f = ctx;

	return fwrite(p, sz, n, f);
}

long rest(const char *method, const char *path, const char *req, json_t **body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[1024], hdr[128];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", M.url, path);
	snprintf(hdr, sizeof(hdr), "X-API-Key: %s", M.key);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (req)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	fclose(f);
	if (body)
		*body = len ? json_loadb(buf, len, 0, NULL) : NULL;
	free(buf);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

char *rest_create(const char *tpl, const char *name, const char *extra_meta_json)
{
	char req[1024], meta[512];
	json_t *o = NULL;
	char *id;
	long st;

	if (name)
		snprintf(meta, sizeof(meta), "{\"sbxfs.name\":\"%s\"%s%s}", name,
			 extra_meta_json ? "," : "", extra_meta_json ? extra_meta_json : "");
	else
		snprintf(meta, sizeof(meta), "{%s}", extra_meta_json ? extra_meta_json : "");
	snprintf(req, sizeof(req), "{\"templateID\":\"%s\",\"timeout\":300,\"metadata\":%s}",
		 tpl, meta);
	st = rest("POST", "/sandboxes", req, &o);
	cr_assert(st == 201 || st == 200, "create: HTTP %ld", st);
	id = strdup(json_string_value(json_object_get(o, "sandboxID")));
	json_decref(o);
	return id;
}

size_t rest_count(void)
{
	json_t *o = NULL;
	long st = rest("GET", "/v2/sandboxes?state=running,paused&limit=100", NULL, &o);
	size_t n;

	cr_assert_eq(st, 200, "list: HTTP %ld", st);
	cr_assert(json_is_array(o));
	n = json_array_size(o);
	json_decref(o);
	return n;
}

long stats(const char *route)
{
	json_t *o = NULL;
	long st = rest("GET", "/sbxd/stats", NULL, &o);
	long v;

	cr_assert_eq(st, 200, "stats: HTTP %ld", st);
	if (route)
		v = (long)json_integer_value(json_object_get(json_object_get(o, "routes"), route));
	else
		v = (long)json_integer_value(json_object_get(o, "requests"));
	json_decref(o);
	return v;
}

char *rest_field(const char *id, const char *field)
{
	char path[256];
	json_t *o = NULL;
	char *v = NULL;

	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	if (rest("GET", path, NULL, &o) == 200 && json_is_string(json_object_get(o, field)))
		v = strdup(json_string_value(json_object_get(o, field)));
	json_decref(o);
	return v;
}

time_t rest_end_at(const char *id)
{
	char *s = rest_field(id, "endAt");
	time_t t = 0;

	if (s)
		sbx_parse_time(s, &t);
	free(s);
	return t;
}
