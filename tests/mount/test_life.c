/* Mount tests of the program's life: startup failures, the embedded
 * default, request counts, a backend that goes away, SIGHUP. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mnt.h"
#include "sbxd.h"

static void teardown(void)
{
	mnt_stop();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- request counts ---- */

static void setup_counts(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 60 });
}

Test(life, request_counts, .init = setup_counts, .fini = teardown, .timeout = 90)
{
	const char *list = "GET /v2/sandboxes", *get = "GET /sandboxes/{id}";
	long l0, g0, t0;

	for (int i = 0; i < 250; i++) {
		char name[32];

		snprintf(name, sizeof(name), "box%03d", i);
		free(rest_create("base", i % 2 ? name : NULL, NULL));
	}
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	l0 = stats(list);
	g0 = stats(get);
	t0 = stats(NULL);
	cr_assert_eq(sh("ls -l \"$MNT\" | wc -l | grep -qx 251"), 0, "ls -l shows 250 sandboxes");
	cr_expect_eq(stats(list) - l0, 3, "ls -l of 250 sandboxes: %ld list requests",
		     stats(list) - l0);
	cr_expect_eq(stats(get) - g0, 0);
	cr_expect_eq(stats(NULL) - t0, 3);
	t0 = stats(NULL);
	cr_assert_eq(sh("ls -l \"$MNT\" > /dev/null"), 0);
	cr_expect_eq(stats(NULL) - t0, 0, "a second ls -l within the TTL sent requests");
	cr_assert_eq(sh("cat \"$MNT\"/*/info | grep -c '^sandbox_id=' | grep -qx 250"), 0);
	cr_expect_eq(stats(NULL) - t0, 0, "cat */info sent requests");
}

/* ---- a backend that goes away ---- */

static void setup_short(void)
{
	mnt_start(&(struct mnt_opts){
		.cache_ttl = 1,
		.extra = "connect_timeout=1,request_timeout=2,retry_deadline=3,stale_ttl=0",
		.allow_log = true,
	});
}

static void setup_short_stale(void)
{
	mnt_start(&(struct mnt_opts){
		.cache_ttl = 1,
		.extra = "connect_timeout=1,request_timeout=2,retry_deadline=3,stale_ttl=6",
		.allow_log = true,
	});
}

Test(life, backend_stopped_and_restarted, .init = setup_short, .fini = teardown, .timeout = 60)
{
	struct stat st;
	double t;
	char *text;

	free(rest_create("base", "alpha", NULL));
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert_eq(stat(P("alpha"), &st), 0);
	mnt_backend_stop();
	sleep(2);
	t = now_s();
	cr_expect_eq(stat(P("alpha/info"), &st), -1);
	cr_expect_eq(errno, ECONNREFUSED, "stat with the backend down: %s", strerror(errno));
	cr_expect_lt(now_s() - t, 5.0, "took %.1f s", now_s() - t);
	cr_expect_neq(sh("ls \"$MNT\" > /dev/null 2>&1"), 0, "ls worked with the backend down");
	text = slurp(P(".sbxfs/status"), NULL);
	cr_assert_not_null(text, "status must stay readable");
	cr_expect(strstr(text, "reachable=no\n"), "%s", text);
	cr_expect(strstr(text, "last_error=ECONNREFUSED"), "%s", text);
	free(text);

	mnt_backend_start();   /* same port and key, empty registry */
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_expect_eq(mkdir(P("again"), 0755), 0, "after restart: %s", strerror(errno));
	cr_expect_eq(stat(P("again/state"), &st), 0);
	cr_expect_eq(rest_count(), 1);
}

/* Within stale_ttl a dead backend costs reads nothing: they are served from
 * the last listing while the refreshes behind it fail, and status says so.
 * Past it they fail as with stale_ttl=0. */
Test(life, backend_stopped_reads_served_stale, .init = setup_short_stale, .fini = teardown,
     .timeout = 60)
{
	struct stat st;
	double t;
	char *text;

	free(rest_create("base", "alpha", NULL));
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_assert_eq(stat(P("alpha"), &st), 0);
	mnt_backend_stop();
	sleep(2);
	for (int i = 0; i < 10; i++) {
		t = now_s();
		cr_expect_eq(stat(P("alpha/info"), &st), 0, "stale read: %s", strerror(errno));
		cr_expect_lt(now_s() - t, 0.5, "a stale read took %.2f s", now_s() - t);
		usleep(100 * 1000);
	}
	/* the refresh behind those reads retries until retry_deadline (3 s) */
	for (int i = 0; i < 50; i++) {
		text = slurp(P(".sbxfs/status"), NULL);
		cr_assert_not_null(text);
		if (strstr(text, "listing_refresh_failing=since "))
			break;
		free(text);
		text = NULL;
		usleep(100 * 1000);
	}
	cr_assert_not_null(text, "no failing refresh in status after 5 s");
	cr_expect(strstr(text, "ECONNREFUSED"), "%s", text);
	free(text);
	cr_expect_neq(mkdir(P("beta"), 0755), 0, "a create with the backend down");
	sleep(6);   /* past stale_ttl: reads wait for a refresh, which fails */
	cr_expect_eq(stat(P("alpha/info"), &st), -1);
	cr_expect_eq(errno, ECONNREFUSED, "past stale_ttl: %s", strerror(errno));
}

/* ---- SIGHUP ---- */

static void setup_hup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1, .allow_log = true,
				      .log_level = "warn" });
}

Test(life, sighup_rereads_the_key, .init = setup_hup, .fini = teardown)
{
	struct stat st;
	FILE *f;

	cr_assert_eq(sbxd_reload(M.sbxd, "sk_rotated_key_1234"), 0);
	snprintf(M.key, sizeof(M.key), "sk_rotated_key_1234");
	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	cr_expect_eq(stat(P("nothing"), &st), -1);
	cr_expect_eq(errno, EACCES, "old key: %s", strerror(errno));
	f = fopen(M.keyfile, "w");
	fprintf(f, "sk_rotated_key_1234\n");
	fclose(f);
	cr_assert_eq(kill(M.pid, SIGHUP), 0);
	usleep(300 * 1000);
	cr_expect_eq(mkdir(P("rotated"), 0755), 0, "new key: %s", strerror(errno));
	cr_expect_eq(stat(P("rotated"), &st), 0);
}

/* ---- the key never shows in the debug log ---- */

static void setup_debug(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1, .allow_log = true,
				      .log_level = "debug" });
}

Test(life, key_not_in_debug_log, .init = setup_debug, .fini = teardown)
{
	char *log;

	cr_assert_eq(mkdir(P("alpha"), 0755), 0);
	cr_assert_eq(sh("cd \"$MNT\" && cat alpha/info alpha/info.json alpha/state alpha/timeout .sbxfs/status > /dev/null"), 0);
	cr_assert_eq(sh("echo 100 > \"$MNT/alpha/timeout\""), 0);
	cr_assert_eq(rmdir(P("alpha")), 0);
	log = slurp(M.logfile, NULL);
	cr_assert_not_null(log);
	cr_expect(log[0] != '\0', "no debug output at all");
	cr_expect_null(strstr(log, M.key), "the key is in the log");
	free(log);
}

/* ---- startup failures (no fixture mount) ---- */

/* Runs sbxfs with argv in env (NULL-terminated "K=V" list added to a clean
 * backend environment); returns its wait status, stderr in *err. */
static int run_sbxfs(const char *const *argv, const char *const *env, char **err,
		     const char *tmp)
{
	const char *exe = sbxfs_exe();
	char errfile[256];
	int status;
	pid_t pid;

	snprintf(errfile, sizeof(errfile), "%s/stderr", tmp);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		static const char *const vars[] = {
			"NOVITA_API_URL", "E2B_API_URL", "NOVITA_DOMAIN", "E2B_DOMAIN",
			"NOVITA_API_KEY", "E2B_API_KEY",
		};

		dup2(fd, 1);
		dup2(fd, 2);
		for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
			unsetenv(vars[i]);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	*err = slurp(errfile, NULL);
	return status;
}

/* The startup tests' scratch directory: per test process, like M. */
static char tmpdir[64];

static void setup_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sbxfs-life-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	memset(&M, 0, sizeof(M));
}

static void teardown_tmp(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "fusermount3 -uz '%s/m' 2>/dev/null; rm -rf '%s'", tmpdir,
		 tmpdir);
	if (system(cmd) != 0)
		cr_expect_fail("cleanup failed");
}

static bool is_mounted(const char *dir)
{
	struct stat a, b;

	return stat(dir, &a) == 0 && stat(tmpdir, &b) == 0 && a.st_dev != b.st_dev;
}

Test(startup, unreachable_backend_fails_at_the_terminal, .init = setup_tmp,
     .fini = teardown_tmp, .timeout = 30)
{
	char mnt[128], key[128], opt[300], *err;
	const char *argv[] = { "sbxfs", mnt, "-f", "-o", opt, NULL };
	FILE *f;
	int st;

	snprintf(mnt, sizeof(mnt), "%s/m", tmpdir);
	snprintf(key, sizeof(key), "%s/key", tmpdir);
	mkdir(mnt, 0755);
	f = fopen(key, "w");
	fputs("k\n", f);
	fclose(f);
	snprintf(opt, sizeof(opt), "api_url=http://127.0.0.1:1,api_key_file=%s,"
		 "connect_timeout=1,request_timeout=1,retry_deadline=2", key);
	st = run_sbxfs(argv, NULL, &err, tmpdir);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	cr_expect(strstr(err, "sbxfs: cannot reach http://127.0.0.1:1 (provider=custom): "
			  "Connection refused"),
		  "%s", err);
	cr_expect_not(is_mounted(mnt));
	free(err);
}

Test(startup, bad_options, .init = setup_tmp, .fini = teardown_tmp)
{
	char mnt[128], *err;
	const char *unknown[] = { "sbxfs", mnt, "-o", "foo=1", NULL };
	const char *nokey[] = { "sbxfs", mnt, "-o", "api_url=http://127.0.0.1:1", NULL };
	const char *version[] = { "sbxfs", "--version", NULL };
	int st;

	snprintf(mnt, sizeof(mnt), "%s/m", tmpdir);
	mkdir(mnt, 0755);
	st = run_sbxfs(unknown, NULL, &err, tmpdir);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	cr_expect(strstr(err, "sbxfs: unknown option 'foo=1'"), "%s", err);
	free(err);
	st = run_sbxfs(nokey, NULL, &err, tmpdir);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	cr_expect(strstr(err, "no API key"), "%s", err);
	free(err);
	st = run_sbxfs(version, NULL, &err, tmpdir);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_expect(strstr(err, "sbxfs 0."), "%s", err);
	cr_expect(strstr(err, "b_sanitize="), "%s", err);
	free(err);
	cr_expect_not(is_mounted(mnt));
}

Test(startup, rejected_key, .fini = teardown, .timeout = 30)
{
	char mnt[128], key[128], opt[300], *err;
	const char *argv[] = { "sbxfs", mnt, "-f", "-o", opt, NULL };
	FILE *f;
	int st;

	mnt_start(&(struct mnt_opts){ .cache_ttl = 1 });
	snprintf(mnt, sizeof(mnt), "%s/m2", M.tmp);
	snprintf(key, sizeof(key), "%s/badkey", M.tmp);
	mkdir(mnt, 0755);
	f = fopen(key, "w");
	fputs("sk_wrong\n", f);
	fclose(f);
	snprintf(opt, sizeof(opt), "api_url=%s,api_key_file=%s", M.url, key);
	st = run_sbxfs(argv, NULL, &err, M.tmp);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	cr_expect(strstr(err, "sbxfs: the backend at http://127.0.0.1:"), "%s", err);
	cr_expect(strstr(err, " (provider=custom) rejected the API key (401)"), "%s", err);
	cr_expect_null(strstr(err, "sk_wrong"));
	free(err);
}

/* Which host a key alone is sent to, read from the error of a mount that
 * cannot reach it.  The CA file does not exist, so even a machine with a
 * network never sends the made-up key: TLS fails before the request. */
static void expect_host(const char *const *env, const char *url_and_provider,
			const char *key, const char *notice)
{
	char mnt[128], *err;
	const char *argv[] = { "sbxfs", mnt, "-f", "-o", "connect_timeout=1,request_timeout=1,"
			       "retry_deadline=2,cafile=/nonexistent/ca.pem", NULL };
	int st;

	snprintf(mnt, sizeof(mnt), "%s/m", tmpdir);
	mkdir(mnt, 0755);
	st = run_sbxfs(argv, env, &err, tmpdir);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	cr_expect(strstr(err, url_and_provider), "want %s in: %s", url_and_provider, err);
	cr_expect(strstr(err, "sbxfs: cannot reach ") || strstr(err, "sbxfs: the backend at "),
		  "%s", err);
	cr_expect_null(strstr(err, key), "the key is in the message: %s", err);
	if (notice)
		cr_expect(strstr(err, notice), "want %s in: %s", notice, err);
	else
		cr_expect_null(strstr(err, "are set; using"), "%s", err);
	cr_expect_not(is_mounted(mnt));
	free(err);
}

Test(startup, each_key_alone_goes_to_its_own_provider, .init = setup_tmp,
     .fini = teardown_tmp, .timeout = 60)
{
	const char *e2b[] = { "E2B_API_KEY=sk_e2b_made_up_key_1", NULL };
	const char *e2b_novita_domain[] = { "E2B_API_KEY=sk_e2b_made_up_key_1",
					    "NOVITA_DOMAIN=novita.invalid", NULL };
	const char *novita[] = { "NOVITA_API_KEY=sk_nov_made_up_key_2", NULL };
	const char *both[] = { "NOVITA_API_KEY=sk_nov_made_up_key_2",
			       "E2B_API_KEY=sk_e2b_made_up_key_1", NULL };

	expect_host(e2b, "https://api.e2b.app (provider=e2b)", "made_up_key", NULL);
	expect_host(e2b_novita_domain, "https://api.e2b.app (provider=e2b)", "made_up_key",
		    NULL);
	expect_host(novita, "https://api.us-phx-1.sandbox.novita.ai (provider=novita)",
		    "made_up_key", NULL);
	expect_host(both, "https://api.us-phx-1.sandbox.novita.ai (provider=novita)",
		    "made_up_key", "sbxfs: both NOVITA_API_KEY and E2B_API_KEY are set; using novita");
}

Test(startup, version_names_the_provider, .init = setup_tmp, .fini = teardown_tmp)
{
	const char *argv[] = { "sbxfs", "--version", NULL };
	const char *e2b[] = { "E2B_API_KEY=k", "E2B_DOMAIN=e2b.example", NULL };
	char *err;
	int st;

	st = run_sbxfs(argv, e2b, &err, tmpdir);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_expect(strstr(err, "provider=e2b url=https://api.e2b.example\n"), "%s", err);
	free(err);
	st = run_sbxfs(argv, NULL, &err, tmpdir);
	cr_expect(strstr(err, "provider=embedded"), "%s", err);
	free(err);
}

/* ---- the embedded default, in the background ---- */

/* The pid of the sbxfs process serving dir, or 0. */
static pid_t find_daemon(const char *dir)
{
	DIR *proc = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	while (proc && (e = readdir(proc)) != NULL) {
		char path[300], cmd[1024] = "";
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		if (n <= 0)
			continue;
		cmd[n] = '\0';
		if (strstr(cmd, "sbxfs") && strcmp(cmd + strlen(cmd) + 1, dir) == 0)
			found = (pid_t)atoi(e->d_name);
	}
	if (proc)
		closedir(proc);
	return found;
}

static bool alive(pid_t pid)
{
	char path[64], stat[256] = "";
	int fd;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return false;
	if (read(fd, stat, sizeof(stat) - 1) < 0)
		stat[0] = '\0';
	close(fd);
	p = strrchr(stat, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool unix_open(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok;

	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* The inodes of pid's sockets that /proc/net/FILE lists as listening. */
static int tcp_listeners(pid_t pid, const char *file)
{
	char path[64], line[512], target[64];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return 0;       /* no IPv6 here */
	while (fgets(line, sizeof(line), f)) {
		unsigned st;
		unsigned long inode;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st, &inode) != 2 ||
		    st != 0x0A)     /* TCP_LISTEN */
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		DIR *d = opendir(path);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			ssize_t n;

			n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			char want[40];
			snprintf(want, sizeof(want), "socket:[%lu]", inode);
			found += strcmp(target, want) == 0;
		}
		if (d)
			closedir(d);
	}
	fclose(f);
	return found;
}

/* tcp_listeners() finds a listening socket of this process, so its 0 for
 * sbxfs below is a finding, not a parse that never matches. */
static void expect_tcp_listeners_seen(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	cr_assert_eq(listen(fd, 1), 0);
	cr_expect_eq(tcp_listeners(getpid(), "tcp"), 1, "a listening socket not found");
	close(fd);
}

/* The embedded sbxd is private: a Unix socket in a 0700 directory of the
 * mounting user, and no TCP port at all. */
Test(startup, embedded_default_in_background, .init = setup_tmp, .fini = teardown_tmp,
     .timeout = 60)
{
	char mnt[128], asan[256], sock[200], dir[200], *err, *p, *text;
	const char *argv[] = { "sbxfs", mnt, NULL };
	const char *env[] = { asan, NULL };
	struct stat st;
	pid_t daemon;
	int status;

	snprintf(mnt, sizeof(mnt), "%s/m", tmpdir);
	mkdir(mnt, 0755);
	/* Sanitizer reports of the daemon (whose stderr is /dev/null) go to files. */
	snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%slog_path=%s/asan",
		 getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "",
		 getenv("ASAN_OPTIONS") ? ":" : "", tmpdir);
	status = run_sbxfs(argv, env, &err, tmpdir);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, err);
	p = strstr(err, "serving sandboxes from a private local sbxd on unix:/tmp/sbxfs-");
	cr_assert_not_null(p, "%s", err);
	p = strchr(p, '/');
	snprintf(sock, sizeof(sock), "%.*s", (int)strcspn(p, "\n"), p);
	free(err);
	snprintf(dir, sizeof(dir), "%.*s", (int)(strrchr(sock, '/') - sock), sock);
	cr_assert(is_mounted(mnt));
	daemon = find_daemon(mnt);
	cr_expect_gt(daemon, 0, "no sbxfs process for %s", mnt);

	cr_assert_eq(stat(dir, &st), 0, "%s: %s", dir, strerror(errno));
	cr_expect_eq(st.st_mode & 07777, 0700, "%s has mode %o", dir, st.st_mode & 07777);
	cr_expect_eq(st.st_uid, getuid());
	cr_expect(unix_open(sock), "nothing listens on %s", sock);
	expect_tcp_listeners_seen();
	cr_expect_eq(tcp_listeners(daemon, "tcp"), 0, "sbxfs listens on TCP");
	cr_expect_eq(tcp_listeners(daemon, "tcp6"), 0, "sbxfs listens on TCP over IPv6");

	snprintf(asan, sizeof(asan), "%s/m/hello", tmpdir);
	cr_expect_eq(mkdir(asan, 0755), 0, "mkdir: %s", strerror(errno));
	snprintf(asan, sizeof(asan), "%s/m/hello/state", tmpdir);
	text = slurp(asan, NULL);
	cr_expect_str_eq(text ? text : "", "running\n");
	free(text);
	snprintf(asan, sizeof(asan), "%s/m/.sbxfs/status", tmpdir);
	text = slurp(asan, NULL);
	cr_expect(text && strstr(text, "embedded=yes\n"), "%s", text);
	cr_expect(text && strstr(text, "provider=embedded\n"), "%s", text);
	snprintf(asan, sizeof(asan), "backend=unix:%s\n", sock);
	cr_expect(text && strstr(text, asan), "%s", text);
	free(text);

	snprintf(asan, sizeof(asan), "fusermount3 -u '%s'", mnt);
	cr_assert_eq(system(asan), 0);
	for (int i = 0; i < 500 && daemon > 0 && alive(daemon); i++)
		usleep(10 * 1000);
	cr_expect(daemon <= 0 || !alive(daemon), "sbxfs still runs after the unmount");
	cr_expect_neq(stat(dir, &st), 0, "%s outlived the mount", dir);
	cr_expect_not(is_mounted(mnt));
	snprintf(asan, sizeof(asan), "ls %s/asan* >/dev/null 2>&1", tmpdir);
	cr_expect_neq(system(asan), 0, "the daemon wrote a sanitizer report");
	if (system(asan) == 0) {
		snprintf(asan, sizeof(asan), "cat %s/asan* >&2", tmpdir);
		if (system(asan) != 0)
			cr_log_warn("cannot show the report");
	}
}

/* A private $XDG_RUNTIME_DIR is used; one open to others is not. */
Test(startup, embedded_socket_in_runtime_dir, .init = setup_tmp, .fini = teardown_tmp,
     .timeout = 60)
{
	char mnt[128], run[160], env0[200], want[200], *err;
	const char *argv[] = { "sbxfs", mnt, NULL };
	const char *env[] = { env0, NULL };

	snprintf(mnt, sizeof(mnt), "%s/m", tmpdir);
	snprintf(run, sizeof(run), "%s/run", tmpdir);
	mkdir(mnt, 0755);
	mkdir(run, 0700);
	snprintf(env0, sizeof(env0), "XDG_RUNTIME_DIR=%s", run);
	int status = run_sbxfs(argv, env, &err, tmpdir);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, err);
	snprintf(want, sizeof(want), "local sbxd on unix:%s/sbxfs-", run);
	cr_expect(strstr(err, want), "%s", err);
	free(err);
	snprintf(want, sizeof(want), "fusermount3 -u '%s'", mnt);
	cr_assert_eq(system(want), 0);
	for (int i = 0; i < 500 && is_mounted(mnt); i++)
		usleep(10 * 1000);

	chmod(run, 0755);
	status = run_sbxfs(argv, env, &err, tmpdir);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status, err);
	cr_expect(strstr(err, "local sbxd on unix:/tmp/sbxfs-"), "%s", err);
	free(err);
	cr_assert_eq(system(want), 0);
}

/* ---- allow_other brings default_permissions ---- */

static void setup_allow_other(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1, .extra = "allow_other" });
}

Test(life, allow_other_adds_default_permissions, .init = setup_allow_other, .fini = teardown)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "grep ' %s ' /proc/mounts | grep allow_other | "
		 "grep -q default_permissions", M.dir);
	cr_expect_eq(system(cmd), 0, "allow_other without default_permissions");
	cr_expect_eq(mkdir(P("shared"), 0755), 0, "%s", strerror(errno));
	cr_expect_eq(put(P("shared/timeout"), "120"), 0);
	cr_expect_eq(open(P("shared/info"), O_WRONLY), -1);
}

/* ---- SIGTERM unmounts cleanly ---- */

static void setup_plain(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1 });
}

Test(life, sigterm_unmounts, .init = setup_plain, .fini = teardown)
{
	struct stat a, b;
	int status = 0;
	bool exited = false;

	cr_assert_eq(mkdir(P("alpha"), 0755), 0);
	cr_assert_eq(kill(M.pid, SIGTERM), 0);
	for (int i = 0; i < 500 && !exited; i++) {
		exited = waitpid(M.pid, &status, WNOHANG) == M.pid;
		if (!exited)
			usleep(10 * 1000);
	}
	cr_assert(exited, "sbxfs ignored SIGTERM");
	M.pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	cr_expect(stat(M.dir, &a) == 0 && stat(M.tmp, &b) == 0 && a.st_dev == b.st_dev,
		  "still mounted after SIGTERM");
}
