/* Security tests of a real mount: the API key stays out of process
 * arguments, logs (debug included), the tree and error messages; access
 * tokens stay out of info.json; the mount is private unless allow_other,
 * and then the file modes are enforced; https backends are verified and
 * -o cafile= trusts a private CA. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"

static void teardown(void)
{
	mnt_stop();
}

static void setup(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1 });
	/* mkdtemp made it 0700: let other users reach the mountpoint, so only
	 * the mount itself can refuse them. */
	cr_assert_eq(chmod(M.tmp, 0711), 0);
}

static bool is_mounted(const char *dir, const char *parent)
{
	struct stat a, b;

	return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* A file's bytes with NULs turned into spaces (for /proc/PID/cmdline). */
static char *slurp_flat(const char *path)
{
	size_t len = 0;
	char *s = slurp(path, &len);

	for (size_t i = 0; s && i < len; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	return s;
}

/* ---- a second sbxfs on M.tmp/NAME, started by the test ---- */

struct extra {
	char dir[128];
	char log[128];
	pid_t pid;
};

/* Starts sbxfs on a new directory with argv after the mountpoint (NULL
 * terminated) and the environment additions env (NULL or "K=V" list).
 * Returns true once mounted; false (and the exit status in *status) if it
 * exited first. */
static bool extra_start(struct extra *x, const char *name, const char *const *args,
			const char *const *env, int *status)
{
	const char *argv[16] = { "sbxfs" };
	int n = 1;

	snprintf(x->dir, sizeof(x->dir), "%s/%s", M.tmp, name);
	snprintf(x->log, sizeof(x->log), "%s/%s.log", M.tmp, name);
	cr_assert_eq(mkdir(x->dir, 0755), 0);
	argv[n++] = x->dir;
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	x->pid = fork();
	cr_assert_geq(x->pid, 0);
	if (x->pid == 0) {
		int fd = open(x->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("NOVITA_API_KEY");
		unsetenv("E2B_API_KEY");
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(sbxfs_exe(), (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		if (is_mounted(x->dir, M.tmp))
			return true;
		if (waitpid(x->pid, status, WNOHANG) == x->pid) {
			x->pid = 0;
			return false;
		}
		usleep(50 * 1000);
	}
	cr_assert_fail("%s: neither mounted nor exited", x->dir);
	return false;
}

static void extra_stop(struct extra *x)
{
	char cmd[320];
	int status;

	if (x->pid <= 0)
		return;
	snprintf(cmd, sizeof(cmd), "fusermount3 -u '%s' 2>/dev/null || fusermount3 -uz '%s'",
		 x->dir, x->dir);
	cr_expect_eq(system(cmd), 0);
	for (int i = 0; i < 1000 && waitpid(x->pid, &status, WNOHANG) != x->pid; i++)
		usleep(10 * 1000);
	x->pid = 0;
}

static void expect_no_key_in_args(pid_t pid)
{
	char path[64], cmd[128];
	char *args;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	args = slurp_flat(path);
	cr_assert_not_null(args);
	cr_expect(strstr(args, "sbxfs"), "%s", args);
	cr_expect_null(strstr(args, M.key), "the key is in the command line: %s", args);
	free(args);
	/* What ps shows other users. */
	snprintf(cmd, sizeof(cmd), "ps -ww -o args= -p %d | grep -q -F -e '%s'", (int)pid, M.key);
	cr_expect_eq(sh("%s", cmd), 1, "ps shows the key");
	snprintf(cmd, sizeof(cmd), "ps -ww -o args= -p %d | grep -q sbxfs", (int)pid);
	cr_expect_eq(sh("%s", cmd), 0, "ps cannot see sbxfs");
}

/* ---- the key ---- */

Test(security, key_file_not_in_process_args, .init = setup, .fini = teardown)
{
	expect_no_key_in_args(M.pid);
}

Test(security, key_from_env_not_in_process_args, .init = setup, .fini = teardown)
{
	char opt[256], envkey[96], environ_path[64];
	const char *args[] = { "-f", "-o", opt, NULL };
	const char *env[] = { envkey, NULL };
	struct extra x;
	size_t len = 0;
	char *envs;
	int st;

	/* An explicit URL takes the variable's key only when the provider
	 * is named too. */
	snprintf(opt, sizeof(opt), "api_url=%s,provider=novita,cache_ttl=1", M.url);
	snprintf(envkey, sizeof(envkey), "NOVITA_API_KEY=%s", M.key);
	cr_assert(extra_start(&x, "envmnt", args, env, &st), "exited: %#x", st);
	cr_expect_eq(mkdir(P("../envmnt/viaenv"), 0755), 0, "%s", strerror(errno));
	expect_no_key_in_args(x.pid);
	/* Only the process itself (and root) can read its environment. */
	snprintf(environ_path, sizeof(environ_path), "/proc/%d/environ", (int)x.pid);
	envs = slurp(environ_path, &len);
	cr_expect_not_null(envs);
	free(envs);
	struct stat sb;

	cr_expect_eq(stat(environ_path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0077, 0, "environ is readable by others: %o", sb.st_mode);
	extra_stop(&x);
	cr_expect_eq(rest_count(), 1);
}

Test(security, debug_log_and_whole_tree_hold_no_key_or_token, .init = setup,
     .fini = teardown, .timeout = 60)
{
	char opt[256], *log, *tok, *id;
	const char *args[] = { "-d", "-o", opt, NULL };
	struct extra x;
	int st;

	id = rest_create("base", "alpha", "\"owner\":\"ci\"");
	tok = rest_field(id, "envdAccessToken");
	cr_assert_not_null(tok, "sbxd gave no access token: the test would prove nothing");
	cr_assert(strlen(tok) > 8);
	snprintf(opt, sizeof(opt), "api_url=%s,api_key_file=%s,cache_ttl=1", M.url, M.keyfile);
	cr_assert(extra_start(&x, "dbg", args, NULL, &st), "exited: %#x", st);
	setenv("DBG", x.dir, 1);
	/* Every file and operation, the failing ones included. */
	cr_expect_eq(sh("cd \"$DBG\" && mkdir beta && ls -laR . > /dev/null && "
			"find . -type f ! -name refresh -exec cat {} + > /dev/null && "
			"echo 120 > beta/timeout && echo paused > beta/state && "
			"echo running > beta/state && echo x > .sbxfs/refresh"), 0);
	cr_expect_neq(sh("cd \"$DBG\" && (echo 0 > beta/timeout; mkdir 'bad name'; "
			 "rm alpha/info; cat nosuch) 2>/dev/null"), 0);
	/* The whole tree: the key and the access token are nowhere. */
	cr_expect_eq(sh("grep -r -F -l --exclude=refresh -e '%s' \"$DBG\" 2>/dev/null", M.key), 1,
		     "the key is in a file of the mount");
	cr_expect_eq(sh("grep -r -F -l --exclude=refresh -e '%s' \"$DBG\" 2>/dev/null", tok), 1,
		     "an access token is in a file of the mount");
	cr_expect_eq(sh("grep -r -l --exclude=refresh -e AccessToken \"$DBG\" 2>/dev/null"), 1,
		     "info.json names an access token");
	cr_expect_eq(sh("cd \"$DBG\" && mkdir gamma && rmdir gamma beta"), 0);
	extra_stop(&x);
	log = slurp(x.log, NULL);
	cr_assert_not_null(log);
	cr_expect(strstr(log, "opcode: LOOKUP") && strstr(log, "debug: GET /v2/sandboxes"),
		  "no FUSE trace or debug lines: -d did not take");
	cr_expect_null(strstr(log, M.key), "the key is in the -d log");
	cr_expect_null(strstr(log, tok), "an access token is in the -d log");
	free(log);
	free(tok);
	free(id);
}

Test(security, error_messages_hold_no_key, .init = setup, .fini = teardown, .timeout = 60)
{
	char opt[320], badkey[128], keyline[192];
	const char *args[] = { "-f", "-o", opt, NULL };
	struct extra x;
	char *out;
	FILE *f;
	int st;

	/* A rejected key, and a backend that is not there. */
	snprintf(badkey, sizeof(badkey), "%s/badkey", M.tmp);
	snprintf(keyline, sizeof(keyline), "sk_wrong_%.*s\n", (int)sizeof(M.key) - 8, M.key + 8);
	f = fopen(badkey, "w");
	fputs(keyline, f);
	fclose(f);
	keyline[strlen(keyline) - 1] = '\0';
	snprintf(opt, sizeof(opt), "api_url=%s,api_key_file=%s", M.url, badkey);
	cr_assert_not(extra_start(&x, "rej", args, NULL, &st));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	out = slurp(x.log, NULL);
	cr_expect(strstr(out, "rejected the API key"), "%s", out);
	cr_expect_null(strstr(out, keyline), "the rejected key is in the message: %s", out);
	free(out);

	snprintf(opt, sizeof(opt), "api_url=http://127.0.0.1:1,api_key_file=%s,"
		 "connect_timeout=1,retry_deadline=2", M.keyfile);
	cr_assert_not(extra_start(&x, "unreach", args, NULL, &st));
	out = slurp(x.log, NULL);
	cr_expect(strstr(out, "cannot reach"), "%s", out);
	cr_expect_null(strstr(out, M.key), "%s", out);
	free(out);
}

/* ---- who may use the mount ---- */

/* In a child running as nobody: the -errno of op on path (0: success). */
enum op { OP_STAT, OP_READ, OP_WRITE, OP_MKDIR, OP_RMDIR };

static int as_nobody(enum op op, const char *path, const char *arg)
{
	int status, fd;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct stat st;
		int r = 0;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(255);
		switch (op) {
		case OP_STAT:
			r = stat(path, &st);
			break;
		case OP_READ:
			fd = open(path, O_RDONLY);
			r = fd < 0 ? -1 : (int)read(fd, &st, 1) < 0 ? -1 : 0;
			break;
		case OP_WRITE:
			fd = open(path, O_WRONLY);
			r = fd < 0 ? -1 : write(fd, arg, strlen(arg)) < 0 ? -1 : 0;
			break;
		case OP_MKDIR:
			r = mkdir(path, 0755);
			break;
		case OP_RMDIR:
			r = rmdir(path);
			break;
		}
		_exit(r == 0 ? 0 : errno);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 255, "cannot become nobody");
	return -WEXITSTATUS(status);
}

Test(security, private_without_allow_other, .init = setup, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	/* The mountpoint's parent is open to others ... */
	cr_expect_eq(as_nobody(OP_STAT, M.tmp, NULL), 0);
	/* ... the mount is not. */
	cr_expect_eq(as_nobody(OP_STAT, M.dir, NULL), -EACCES);
	cr_expect_eq(as_nobody(OP_STAT, P("alpha/info"), NULL), -EACCES);
	cr_expect_eq(as_nobody(OP_READ, P(".sbxfs/status"), NULL), -EACCES);
	cr_expect_eq(as_nobody(OP_WRITE, P("alpha/state"), "paused"), -EACCES);
	cr_expect_eq(as_nobody(OP_MKDIR, P("intruder"), NULL), -EACCES);
	cr_expect_eq(as_nobody(OP_RMDIR, P("alpha"), NULL), -EACCES);
	cr_expect_eq(rest_count(), 1, "another user changed the sandboxes");
	{
		char *state = rest_field(id, "state");

		cr_expect_str_eq(state, "running");
		free(state);
	}
	free(id);
}

static void setup_allow_other(void)
{
	mnt_start(&(struct mnt_opts){ .cache_ttl = 1, .extra = "allow_other" });
	cr_assert_eq(chmod(M.tmp, 0711), 0);
}

Test(security, allow_other_enforces_the_modes, .init = setup_allow_other, .fini = teardown)
{
	char *id = rest_create("base", "alpha", NULL);
	char *state;

	cr_assert_eq(put(P(".sbxfs/refresh"), "x"), 0);
	/* Others may look (the documented risk: they see sandbox details) ... */
	cr_expect_eq(as_nobody(OP_STAT, P("alpha/info"), NULL), 0);
	cr_expect_eq(as_nobody(OP_READ, P("alpha/info"), NULL), 0);
	/* ... but default_permissions keeps them from changing anything. */
	cr_expect_eq(as_nobody(OP_WRITE, P("alpha/state"), "paused"), -EACCES);
	cr_expect_eq(as_nobody(OP_WRITE, P("alpha/timeout"), "10"), -EACCES);
	cr_expect_eq(as_nobody(OP_WRITE, P(".sbxfs/refresh"), "x"), -EACCES);
	cr_expect_eq(as_nobody(OP_MKDIR, P("intruder"), NULL), -EACCES);
	cr_expect_eq(as_nobody(OP_RMDIR, P("alpha"), NULL), -EACCES);
	cr_expect_eq(rest_count(), 1);
	state = rest_field(id, "state");
	cr_expect_str_eq(state, "running");
	free(state);
	free(id);
}
