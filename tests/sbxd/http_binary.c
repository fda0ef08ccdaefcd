/* The sbxd program itself: --listen refusal, the generated key file, the
 * ready file, --api-key-file precedence, SIGHUP reload, clean SIGTERM. */
#include "httputil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct proc {
	pid_t pid;
	char errfile[128];
};

static char dir[64];

static void mk(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sbxd-bin-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(binary, .init = mk, .fini = rm, .timeout = 30);

static const char *bin(void)
{
	const char *b = getenv("SBXD_BIN");

	cr_assert_not_null(b, "SBXD_BIN not set");
	return b;
}

/* Starts sbxd with argv (NULL-terminated, without argv[0]); stderr goes to
 * a file in the test dir.  `env_key` NULL unsets SBXD_API_KEY. */
static void spawn(struct proc *p, const char *env_key, const char *const *args)
{
	const char *argv[32] = { "sbxd" };
	int n = 1;

	for (; args[n - 1]; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	snprintf(p->errfile, sizeof(p->errfile), "%s/stderr.%d", dir, rand());
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (p->pid == 0) {
		int fd = open(p->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		close(fd);
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		if (env_key)
			setenv("SBXD_API_KEY", env_key, 1);
		else
			unsetenv("SBXD_API_KEY");
		setenv("XDG_RUNTIME_DIR", dir, 1);
		execv(bin(), (char *const *)argv);
		_exit(127);
	}
}

static int wait_exit(struct proc *p)
{
	int st;

	cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Waits for the ready file and points t at the server. */
static void wait_ready(const char *ready, struct tsrv *t)
{
	for (int i = 0; i < 200; i++) {
		char *s = slurp(ready);

		if (s[0] && strchr(s, '\n')) {
			snprintf(t->base, sizeof(t->base), "http://localhost:%d", atoi(s));
			return;
		}
		usleep(20000);
	}
	cr_assert_fail("sbxd never wrote its ready file");
}

static long get_status(const struct tsrv *t, const char *key)
{
	struct resp r;

	http(t, "GET", "/v2/sandboxes", key, NULL, &r);
	resp_free(&r);
	return r.status;
}

Test(binary, refuses_remote_listen)
{
	struct proc p;
	const char *args[] = { "--listen", "0.0.0.0:0", NULL };

	spawn(&p, "k", args);
	cr_expect_neq(wait_exit(&p), 0);
	cr_expect_not_null(strstr(slurp(p.errfile), "non-loopback"), "%s", slurp(p.errfile));
}

Test(binary, allow_remote_permits_any_address)
{
	struct proc p;
	struct tsrv t;
	char ready[128];

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	const char *args[] = { "--listen", "0.0.0.0:0", "--allow-remote", "--ready-file", ready,
			       "--log-level", "warn", NULL };
	spawn(&p, "k", args);
	wait_ready(ready, &t);
	cr_expect_eq(get_status(&t, "k"), 200);
	kill(p.pid, SIGTERM);
	cr_expect_eq(wait_exit(&p), 0);
}

Test(binary, sigterm_saves_and_a_restart_restores)
{
	struct proc p;
	struct tsrv t;
	char ready[128], state[128], id[21], path[160], port[16];
	struct resp r;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	const char *args[] = { "--listen", "127.0.0.1:0", "--ready-file", ready, "--state-dir",
			       state, "--log-level", "warn", NULL };
	spawn(&p, "k", args);
	wait_ready(ready, &t);
	http(&t, "POST", "/sandboxes", "k", "{\"templateID\":\"base\",\"metadata\":{\"m\":\"1\"}}",
	     &r);
	cr_assert_eq(r.status, 201);
	json_t *j = resp_json(&r);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	json_decref(j);
	resp_free(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	http(&t, "GET", path, "k", NULL, &r);
	json_t *before = resp_json(&r);
	resp_free(&r);
	kill(p.pid, SIGTERM);
	cr_assert_eq(wait_exit(&p), 0);

	/* Same port again at once, same sandbox. */
	snprintf(port, sizeof(port), "%s", slurp(ready));
	port[strcspn(port, "\n")] = '\0';
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
	unlink(ready);
	const char *args2[] = { "--listen", listen, "--ready-file", ready, "--state-dir", state,
				"--log-level", "warn", NULL };
	spawn(&p, "k", args2);
	wait_ready(ready, &t);
	http(&t, "GET", path, "k", NULL, &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	json_t *after = resp_json(&r);
	cr_expect(json_equal(before, after), "before %s", r.body);
	json_decref(before);
	json_decref(after);
	resp_free(&r);
	kill(p.pid, SIGTERM);
	cr_expect_eq(wait_exit(&p), 0);
	cr_expect_str_eq(slurp(p.errfile), "");
}

Test(binary, rejects_bad_options)
{
	struct proc p;
	const char *a1[] = { "--listen", "nonsense", NULL };
	const char *a2[] = { "--max-sandboxes", "-3", NULL };
	const char *a3[] = { "--log-level", "loud", NULL };
	const char *bad[][3] = {
		{ "--threads", "0", NULL }, { "--max-connections", "0", NULL },
		{ "--max-connections-per-ip", "x", NULL }, { "--request-timeout", "0", NULL },
		{ "--idle-timeout", "-1", NULL }, { "--listen", "unix:", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spawn(&p, "k", bad[i]);
		cr_expect_eq(wait_exit(&p), 2, "%s %s", bad[i][0], bad[i][1]);
		cr_expect(strstr(slurp(p.errfile), "invalid value for"), "%s", slurp(p.errfile));
	}
	spawn(&p, "k", a1);
	cr_expect_neq(wait_exit(&p), 0);
	spawn(&p, "k", a2);
	cr_expect_neq(wait_exit(&p), 0);
	spawn(&p, "k", a3);
	cr_expect_neq(wait_exit(&p), 0);
}

Test(binary, generated_key_file)
{
	struct proc p;
	struct tsrv t;
	char ready[128], keypath[128], key[128];
	struct stat st;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	const char *args[] = { "--listen", "127.0.0.1:0", "--ready-file", ready, NULL };
	spawn(&p, NULL, args);
	wait_ready(ready, &t);
	snprintf(keypath, sizeof(keypath), "%s/sbxd/api-key", dir);
	cr_assert_eq(stat(keypath, &st), 0, "no key at %s", keypath);
	cr_expect_eq(st.st_mode & 0777, 0600);
	snprintf(key, sizeof(key), "%s", slurp(keypath));
	key[strcspn(key, "\n")] = '\0';
	cr_assert_geq(strlen(key), 32);
	cr_expect_eq(get_status(&t, key), 200);
	cr_expect_eq(get_status(&t, "wrong"), 401);

	kill(p.pid, SIGTERM);
	cr_expect_eq(wait_exit(&p), 0);
	char *err = slurp(p.errfile);
	cr_expect_not_null(strstr(err, keypath), "key path not printed: %s", err);
	cr_expect_null(strstr(err, key), "the key itself was printed");
	cr_expect_not_null(strstr(err, "sbxd listening on http://127.0.0.1:"), "%s", err);
	cr_expect_not_null(strstr(err, "GET /v2/sandboxes 200"), "no request log: %s", err);
}

/* --listen unix:PATH: the ready file names the socket, which answers
 * (through curl) and goes away at the stop. */
Test(binary, listen_on_unix_socket)
{
	struct proc p;
	char ready[128], sock[128], cmd[512];
	struct stat st;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(sock, sizeof(sock), "%s/sbxd.sock", dir);
	char listen[160];
	snprintf(listen, sizeof(listen), "unix:%s", sock);
	const char *args[] = { "--listen", listen, "--ready-file", ready, "--threads", "2",
			       "--max-connections", "100", "--request-timeout", "5",
			       "--idle-timeout", "30", NULL };
	spawn(&p, "k", args);
	for (int i = 0; i < 200 && !strchr(slurp(ready), '\n'); i++)
		usleep(20000);
	snprintf(cmd, sizeof(cmd), "%s\n", sock);
	cr_assert_str_eq(slurp(ready), cmd);
	cr_assert_eq(stat(sock, &st), 0);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 0777, 0600);
	snprintf(cmd, sizeof(cmd), "curl -sf --unix-socket %s -H 'X-API-Key: k' "
		 "http://localhost/v2/sandboxes >%s/out", sock, dir);
	cr_expect_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof(cmd), "%s/out", dir);
	cr_expect_str_eq(slurp(cmd), "[]");
	kill(p.pid, SIGTERM);
	cr_expect_eq(wait_exit(&p), 0);
	cr_expect(strstr(slurp(p.errfile), "sbxd listening on unix:"), "%s", slurp(p.errfile));
	cr_expect_neq(stat(sock, &st), 0, "the socket outlived sbxd");
}

Test(binary, key_file_wins_and_sighup_rereads_it)
{
	struct proc p;
	struct tsrv t;
	char ready[128], keyfile[128];
	FILE *f;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/key", dir);
	f = fopen(keyfile, "w");
	fputs("from-file\n", f);
	fclose(f);
	const char *args[] = { "--listen", "127.0.0.1:0", "--ready-file", ready,
			       "--api-key-file", keyfile, "--log-level", "warn", NULL };
	spawn(&p, "from-env", args);
	wait_ready(ready, &t);
	cr_expect_eq(get_status(&t, "from-file"), 200);
	cr_expect_eq(get_status(&t, "from-env"), 401);

	f = fopen(keyfile, "w");
	fputs("rotated\n", f);
	fclose(f);
	kill(p.pid, SIGHUP);
	long s = 0;
	for (int i = 0; i < 100 && s != 200; i++) {
		usleep(20000);
		s = get_status(&t, "rotated");
	}
	cr_expect_eq(s, 200);
	cr_expect_eq(get_status(&t, "from-file"), 401);
	kill(p.pid, SIGINT);
	cr_expect_eq(wait_exit(&p), 0);
	cr_expect_str_eq(slurp(p.errfile), "", "warn level should be quiet");
}

/* Runs every route once; with an ASan build of sbxd, a leak anywhere on
 * these paths shows up on its stderr at exit. */
static void exercise(const struct tsrv *t, const char *key)
{
	static const char *const calls[][3] = {
		{ "POST", "/sandboxes", "{\"templateID\":\"base\",\"metadata\":{\"a\":\"b\"}}" },
		{ "POST", "/v2/sandboxes", "{\"templateID\":\"base\",\"autoPause\":true}" },
		{ "POST", "/sandboxes", "{\"templateID\":\"nope\"}" },
		{ "POST", "/sandboxes", "{bad" },
		{ "GET", "/sandboxes?metadata=a%3Db", NULL },
		{ "GET", "/v2/sandboxes?limit=1&state=running,paused", NULL },
		{ "GET", "/v2/sandboxes?nextToken=junk", NULL },
		{ "GET", "/templates", NULL },
		{ "GET", "/sbxd/stats", NULL },
		{ "POST", "/sbxd/faults", "{\"status\":503,\"count\":1,\"retry_after\":1}" },
		{ "GET", "/health", NULL },
		{ "POST", "/sbxd/faults", "{\"body\":\"oversize\",\"count\":1}" },
		{ "GET", "/v2/sandboxes", NULL },
		{ "POST", "/sbxd/faults", "{\"body\":\"truncated\",\"count\":1}" },
		{ "GET", "/sandboxes/x", NULL },
		{ "GET", "/sbxd/faults", NULL },
		{ "DELETE", "/sbxd/faults", NULL },
		{ "PUT", "/templates", NULL },
		{ "GET", "/elsewhere", NULL },
	};
	char id[21], path[128];
	struct resp r;

	for (size_t i = 0; i < sizeof(calls) / sizeof(*calls); i++) {
		http(t, calls[i][0], calls[i][1], key, calls[i][2], &r);
		cr_expect_gt(r.status, 0, "%s %s", calls[i][0], calls[i][1]);
		resp_free(&r);
	}
	http(t, "POST", "/sandboxes", key, "{\"templateID\":\"base\"}", &r);
	json_t *j = resp_json(&r);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "sandboxID")));
	json_decref(j);
	resp_free(&r);
	static const char *const per[][3] = {
		{ "GET", "", NULL }, { "POST", "/timeout", "{\"timeout\":50}" },
		{ "POST", "/refreshes", "{\"duration\":10}" }, { "POST", "/pause", NULL },
		{ "POST", "/pause", NULL }, { "POST", "/resume", "{\"timeout\":20}" },
		{ "POST", "/connect", "{\"timeout\":20}" }, { "DELETE", "", NULL },
	};
	for (size_t i = 0; i < sizeof(per) / sizeof(*per); i++) {
		snprintf(path, sizeof(path), "/sandboxes/%s%s", id, per[i][1]);
		http(t, per[i][0], path, key, per[i][2], &r);
		cr_expect_lt(r.status, 500, "%s %s: %ld", per[i][0], path, r.status);
		resp_free(&r);
	}
}

Test(binary, every_route_then_clean_exit)
{
	struct proc p;
	struct tsrv t;
	char ready[128], state[128];

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	const char *args[] = { "--listen", "localhost:0", "--ready-file", ready, "--faults",
			       "--state-dir", state, "--log-level", "warn", NULL };
	spawn(&p, "k", args);
	wait_ready(ready, &t);
	exercise(&t, "k");
	kill(p.pid, SIGTERM);
	cr_expect_eq(wait_exit(&p), 0);
	cr_expect_str_eq(slurp(p.errfile), "", "unexpected stderr");
}

Test(binary, version_and_help)
{
	struct proc p;
	const char *a1[] = { "--version", NULL };
	const char *a2[] = { "--help", NULL };

	spawn(&p, "k", a1);
	cr_expect_eq(wait_exit(&p), 0);
	spawn(&p, "k", a2);
	cr_expect_eq(wait_exit(&p), 0);
}
