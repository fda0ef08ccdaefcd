/* sbxfs and sbxd as services: readiness on $NOTIFY_SOCKET, the background
 * parent that waits for the mount, the sbxfs@ unit's own command line,
 * clean stop on SIGTERM, SIGHUP (caches, key, log file), the debug log's
 * request lines, --version. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"
#include "ops.h"
#include "sbxd.h"

static void teardown(void)
{
	ops_teardown();
}

/* True when the mount lists name right now, without waiting. */
static bool lists(const char *name)
{
	DIR *d = opendir(M.dir);
	struct dirent *e;
	bool found = false;

	if (d == NULL)
		return false;
	while ((e = readdir(d)) != NULL)
		found = found || strcmp(e->d_name, name) == 0;
	closedir(d);
	return found;
}

static char *opts_for(const char *more)
{
	char *o;

	cr_assert_geq(asprintf(&o, "api_url=%s,api_key_file=%s,log=%s,log_level=info%s%s", M.url,
			       M.keyfile, M.logfile, more ? "," : "", more ? more : ""), 0);
	return o;
}

/* Starts sbxfs -f with NOTIFY_SOCKET=sock and checks READY=1 means the
 * mount answers; returns the pid. */
static pid_t start_notified(const char *sock, int fd)
{
	char *opts = opts_for(NULL);
	char env[160], msg[1024], mainpid[32];
	const char *argv[] = { sbxfs_exe(), "sbxfs", M.dir, "-f", "-o", opts, NULL };
	const char *envp[] = { env, NULL };
	pid_t pid;

	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sock);
	free(rest_create("base", "web", NULL));
	pid = spawn(argv, envp);
	M.pid = pid;
	cr_assert(notify_wait(fd, "READY=1", msg, sizeof(msg), 15000),
		  "no READY=1 on %s; log:\n%s", sock, slurp(M.logfile, NULL));
	/* The very next thing: the mount must already answer. */
	cr_expect(lists("web"), "READY=1 came before the mount answered");
	snprintf(mainpid, sizeof(mainpid), "MAINPID=%ld", (long)pid);
	cr_expect(strstr(msg, mainpid), "%s in %s", mainpid, msg);
	cr_expect(strstr(msg, "STATUS="), "%s", msg);
	free(opts);
	return pid;
}

/* SIGTERM, as systemctl stop sends: STOPPING=1, exit 0, unmounted. */
static void stop_like_systemd(pid_t pid, int fd)
{
	char msg[256];
	int status = 0;

	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_expect(notify_wait(fd, "STOPPING=1", msg, sizeof(msg), 10000), "no STOPPING=1");
	cr_assert(wait_exit(pid, &status, 10000), "sbxfs did not exit on SIGTERM");
	M.pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	cr_expect_not(is_mounted(), "still mounted after SIGTERM");
}

Test(ready, notify_socket_path, .init = ops_backend, .fini = teardown)
{
	char sock[128];
	int fd;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/notify", M.tmp);
	fd = notify_listen(sock);
	pid = start_notified(sock, fd);
	stop_like_systemd(pid, fd);
	close(fd);
}

Test(ready, notify_socket_abstract, .init = ops_backend, .fini = teardown)
{
	char sock[128];
	int fd;
	pid_t pid;

	snprintf(sock, sizeof(sock), "@sbxfs-ops-%ld", (long)getpid());
	fd = notify_listen(sock);
	pid = start_notified(sock, fd);
	stop_like_systemd(pid, fd);
	close(fd);
}

/* Without -f the command returns only once the mount answers, 0. */
Test(ready, background_parent_waits_for_the_mount, .init = ops_backend, .fini = teardown)
{
	char *opts = opts_for(NULL);
	const char *argv[] = { sbxfs_exe(), M.dir, "-o", opts, NULL };
	int status = 0;
	pid_t pid;

	free(rest_create("base", "web", NULL));
	pid = spawn(argv, NULL);
	cr_assert(wait_exit(pid, &status, 15000), "sbxfs did not return");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: %s", status,
		  slurp(M.logfile, NULL));
	cr_expect(is_mounted());
	cr_expect(lists("web"), "returned before the mount answered");
	cr_expect_eq(mkdir(P("made"), 0755), 0, "%s", strerror(errno));
	cr_expect(rest_has_name("made"), "not created on the server");
	cr_expect_eq(sh("umount \"$MNT\" 2>/dev/null || fusermount3 -u \"$MNT\""), 0);
	cr_expect(file_has(M.logfile, "unmounting", 5000), "the daemon did not stop");
	free(opts);
}

/* A backend that does not answer fails the command itself, before any
 * mount: what `mount /mnt/sbx` and a Type=forking unit report. */
Test(ready, unreachable_backend_fails_the_command, .init = ops_backend, .fini = teardown)
{
	const char *argv[] = { sbxfs_exe(), M.dir, "-o",
			       "api_url=http://127.0.0.1:1,retry_deadline=1,request_timeout=1",
			       "-o", NULL, NULL };
	char ko[160];
	int status = 0;
	pid_t pid;

	snprintf(ko, sizeof(ko), "api_key_file=%s", M.keyfile);
	argv[5] = ko;
	pid = spawn(argv, NULL);
	cr_assert(wait_exit(pid, &status, 30000));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %#x", status);
	cr_expect_not(is_mounted());
	cr_expect(file_has(M.logfile, "cannot reach http://127.0.0.1:1", 0));
}

/* ---- the sbxfs@ unit's ExecStart, run as systemd would ---- */

/* Expands the specifiers and variables the unit uses. */
static char *expand(const char *line, const char *options)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (const char *p = line; *p; p++) {
		if (strncmp(p, "%f", 2) == 0) {
			fputs(M.dir, f);
			p++;
		} else if (strncmp(p, "${SBXFS_OPTIONS}", 16) == 0) {
			fputs(options, f);
			p += 15;
		} else {
			cr_assert(*p != '%' && *p != '$', "unexpected specifier in %s", line);
			fputc(*p, f);
		}
	}
	fclose(f);
	return out;
}

static char *unit_value(const char *unit, const char *key)
{
	char *text = slurp(unit, NULL), *line, *save = NULL, *v = NULL;
	size_t kl = strlen(key);

	cr_assert_not_null(text, "%s: %s", unit, strerror(errno));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, kl) == 0 && line[kl] == '=')
			v = strdup(line + kl + 1);
	free(text);
	return v;
}

Test(unit, sbxfs_template_execstart_notify_reload_stop, .init = ops_backend, .fini = teardown)
{
	const char *unit = getenv("SBXFS_UNIT");
	char *exec, *cmd, *opts = opts_for("cache_ttl=600"), *save = NULL;
	char *type, *reload;
	const char *argv[16];
	char env[160], sock[128], msg[512];
	const char *envp[] = { env, NULL };
	int argc = 0, fd;
	struct stat st;
	pid_t pid;

	cr_assert(unit && *unit, "SBXFS_UNIT is not set");
	type = unit_value(unit, "Type");
	reload = unit_value(unit, "ExecReload");
	cr_expect_str_eq(type, "notify");
	cr_expect_str_eq(reload, "/bin/kill -HUP $MAINPID");
	free(type);
	free(reload);
	exec = unit_value(unit, "ExecStart");
	cr_assert_not_null(exec);
	cmd = expand(exec, opts);
	for (char *w = strtok_r(cmd, " ", &save); w && argc < 15; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	cr_assert_geq(argc, 2);
	cr_expect(strstr(argv[0], "/sbxfs"), "ExecStart runs %s", argv[0]);
	argv[0] = sbxfs_exe();      /* the built one, not the installed one */

	snprintf(sock, sizeof(sock), "%s/notify", M.tmp);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sock);
	fd = notify_listen(sock);
	pid = spawn(argv, envp);
	M.pid = pid;
	cr_assert(notify_wait(fd, "READY=1", msg, sizeof(msg), 15000), "no READY=1: %s",
		  slurp(M.logfile, NULL));
	cr_expect(is_mounted());
	cr_expect(file_has("/proc/self/mounts", "sbxfs ", 0));

	/* systemctl reload: the cache (10 minutes) is dropped. */
	cr_expect_eq(stat(P("late"), &st), -1);
	free(rest_create("base", "late", NULL));
	cr_expect_eq(stat(P("late"), &st), -1, "the listing should be cached");
	cr_assert_eq(kill(pid, SIGHUP), 0);
	cr_expect(file_has(M.logfile, "SIGHUP: dropped the caches", 5000));
	cr_expect_eq(stat(P("late"), &st), 0, "SIGHUP did not drop the cache");

	stop_like_systemd(pid, fd);
	close(fd);
	free(exec);
	free(cmd);
	free(opts);
}

/* ---- SIGHUP: key rotation and a log file moved by logrotate ---- */

Test(sighup, rotates_key_and_reopens_log, .init = ops_backend, .fini = teardown)
{
	char *opts = opts_for(NULL), *log;
	const char *argv[] = { sbxfs_exe(), M.dir, "-f", "-o", opts, NULL };
	char rotated[128], line[80];
	struct stat st;
	FILE *f;

	M.pid = spawn(argv, NULL);
	cr_assert(file_has(M.logfile, "mounted", 15000), "not mounted");
	cr_assert(is_mounted());

	/* logrotate: move the file away, then SIGHUP. */
	snprintf(rotated, sizeof(rotated), "%s.1", M.logfile);
	cr_assert_eq(rename(M.logfile, rotated), 0);
	/* Rotate the key on the server and in the file. */
	cr_assert_eq(sbxd_reload(M.sbxd, "sk_ops_rotated_0001"), 0);
	snprintf(M.key, sizeof(M.key), "sk_ops_rotated_0001");
	f = fopen(M.keyfile, "w");
	cr_assert_not_null(f);
	snprintf(line, sizeof(line), "%s\n", M.key);
	fputs(line, f);
	fclose(f);
	cr_assert_eq(kill(M.pid, SIGHUP), 0);
	cr_expect(file_has(M.logfile, "SIGHUP: reopened the log", 5000),
		  "no new log file after SIGHUP");
	cr_expect(file_has(M.logfile, "re-read the API key", 0));
	cr_expect_eq(mkdir(P("after"), 0755), 0, "new key: %s", strerror(errno));
	cr_expect_eq(stat(P("after"), &st), 0);
	cr_expect(rest_has_name("after"), "not created on the server");
	log = slurp(M.logfile, NULL);
	cr_expect_null(strstr(log ? log : "", M.key), "key in the log");
	free(log);
	free(opts);
}

/* ---- the debug log ---- */

Test(log, debug_file_has_request_lines_without_key, .init = ops_backend, .fini = teardown)
{
	char *opts = opts_for("log_level=debug");
	const char *argv[] = { sbxfs_exe(), M.dir, "-f", "-o", opts, NULL };
	regex_t re;
	regmatch_t mt[4];
	char *log, *p;
	int lines = 0;
	bool get = false, post = false, del = false;

	M.pid = spawn(argv, NULL);
	cr_assert(file_has(M.logfile, "mounted", 15000), "not mounted");
	cr_assert_eq(mkdir(P("dbg"), 0755), 0);
	cr_assert_eq(sh("cat \"$MNT/dbg/state\" >/dev/null && echo 120 > \"$MNT/dbg/timeout\""), 0);
	cr_assert_eq(rmdir(P("dbg")), 0);
	cr_expect_eq(rest_count(), 0);
	log = slurp(M.logfile, NULL);
	cr_assert_not_null(log);
	/* "... sbxfs[PID] debug: METHOD PATH -> STATUS (N ms)" */
	cr_assert_eq(regcomp(&re, "sbxfs\\[[0-9]+\\] debug: (GET|POST|DELETE) (/[^ ]*) -> "
			     "([0-9]{3}) \\([0-9]+ ms\\)", REG_EXTENDED | REG_NEWLINE), 0);
	for (p = log; regexec(&re, p, 4, mt, 0) == 0; p += mt[0].rm_eo) {
		lines++;
		get = get || (strncmp(p + mt[1].rm_so, "GET", 3) == 0 &&
			      strncmp(p + mt[3].rm_so, "200", 3) == 0);
		post = post || (strncmp(p + mt[1].rm_so, "POST", 4) == 0 &&
				strncmp(p + mt[3].rm_so, "201", 3) == 0);
		del = del || (strncmp(p + mt[1].rm_so, "DELETE", 6) == 0 &&
			      strncmp(p + mt[3].rm_so, "204", 3) == 0);
	}
	regfree(&re);
	cr_expect_geq(lines, 4, "request lines:\n%s", log);
	cr_expect(get && post && del, "GET 200, POST 201 and DELETE 204 lines expected:\n%s", log);
	cr_expect_null(strstr(log, M.key), "the key is in the log");
	free(log);
	free(opts);
}

/* ---- sbxd under a service manager ---- */

Test(unit, sbxd_notify_reload_templates_stop, .init = ops_backend, .fini = teardown)
{
	const char *sbxd = getenv("SBXD_EXE");
	char ready[128], sock[128], env[160], tpl[128], msg[256], url[64];
	const char *envp[] = { env, NULL };
	int fd, status = 0;
	unsigned port = 0;
	json_t *o = NULL;
	regex_t re;
	char *log;
	long st;
	pid_t pid;
	FILE *f;

	cr_assert(sbxd && *sbxd, "SBXD_EXE is not set");
	snprintf(ready, sizeof(ready), "%s/port", M.tmp);
	snprintf(sock, sizeof(sock), "%s/notify-sbxd", M.tmp);
	snprintf(tpl, sizeof(tpl), "%s/tpl2.json", M.tmp);
	snprintf(env, sizeof(env), "NOTIFY_SOCKET=%s", sock);
	f = fopen(tpl, "w");
	fputs("[{\"templateID\":\"one\"}]\n", f);
	fclose(f);
	const char *argv[] = { sbxd, "--listen", "127.0.0.1:0", "--ready-file", ready,
			       "--api-key-file", M.keyfile, "--templates", tpl,
			       "--log-level", "info", NULL };
	fd = notify_listen(sock);
	pid = spawn(argv, envp);
	cr_assert(notify_wait(fd, "READY=1", msg, sizeof(msg), 15000), "no READY=1 from sbxd");
	/* Ready means listening: no retry needed. */
	f = fopen(ready, "r");
	cr_assert_not_null(f, "READY=1 before the ready file");
	cr_assert_eq(fscanf(f, "%u", &port), 1);
	fclose(f);
	/* Point the fixture's REST helpers at this server. */
	snprintf(url, sizeof(url), "%s", M.url);
	snprintf(M.url, sizeof(M.url), "http://127.0.0.1:%u", port);
	cr_expect_eq(rest("GET", "/health", NULL, NULL), 200);
	cr_expect_eq(rest("POST", "/sandboxes", "{\"templateID\":\"two\"}", NULL), 400);

	/* systemctl reload: templates re-read. */
	f = fopen(tpl, "w");
	fputs("[{\"templateID\":\"one\"},{\"templateID\":\"two\"}]\n", f);
	fclose(f);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	st = 0;
	for (int i = 0; i < 100 && st != 201; i++) {
		usleep(20 * 1000);
		st = rest("POST", "/sandboxes", "{\"templateID\":\"two\"}", &o);
		json_decref(o);
		o = NULL;
	}
	cr_expect_eq(st, 201, "template not reloaded on SIGHUP");

	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_expect(notify_wait(fd, "STOPPING=1", msg, sizeof(msg), 10000), "no STOPPING=1");
	cr_assert(wait_exit(pid, &status, 10000));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	snprintf(M.url, sizeof(M.url), "%s", url);
	close(fd);

	/* One line per request at info: method, path, status, latency. */
	log = slurp(M.logfile, NULL);
	cr_assert_not_null(log);
	cr_assert_eq(regcomp(&re, "^sbxd: info: POST /sandboxes 201 [0-9]+\\.[0-9] ms$",
			     REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	cr_expect_eq(regexec(&re, log, 0, NULL, 0), 0, "no request line for the create:\n%s", log);
	regfree(&re);
	cr_expect(strstr(log, "sbxd: info: GET /health 200 "), "%s", log);
	cr_expect(strstr(log, "sbxd: info: POST /sandboxes 400 "), "%s", log);
	cr_expect_null(strstr(log, M.key), "the key is in sbxd's log");
	free(log);
}

/* ---- --version ---- */

Test(version, names_version_build_and_backend, .init = ops_backend, .fini = teardown)
{
	const char *argv[] = { sbxfs_exe(), "--version", NULL };
	char *out;
	int status = 0;
	pid_t pid = spawn(argv, NULL);

	cr_assert(wait_exit(pid, &status, 10000));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	out = slurp(M.logfile, NULL);
	cr_assert_not_null(out);
	cr_expect(strstr(out, "sbxfs 0."), "%s", out);
	cr_expect(strstr(out, "build: buildtype="), "%s", out);
	cr_expect(strstr(out, "FUSE library 3."), "%s", out);
	cr_expect(strstr(out, "backend: E2B/Novita"), "%s", out);
	free(out);
}
