/* Helpers for the runtime tests; see rtutil.h. */
#include "rtutil.h"

#include "common/clock.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *rtu_bwrap_missing(void)
{
	static char why[256];
	int st;

	if (system("command -v bwrap >/dev/null 2>&1") != 0)
		return "bwrap is not installed (package bubblewrap)";
	st = system("bwrap --unshare-all --unshare-user --die-with-parent --ro-bind / / "
		    "true >/dev/null 2>&1");
	if (st != 0) {
		snprintf(why, sizeof(why), "bwrap cannot make namespaces here (status %d)", st);
		return why;
	}
	return NULL;
}

void rtu_require_bwrap(void)
{
	const char *why = rtu_bwrap_missing();

	if (why)
		cr_skip("%s", why);
}

/* Drains fd into out (until EOF); false on EOF. */
static bool drain(int fd, char *out, size_t outlen, size_t *got)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));

	if (n == 0)
		return false;
	if (n > 0 && *got + 1 < outlen) {
		size_t take = (size_t)n < outlen - 1 - *got ? (size_t)n : outlen - 1 - *got;

		memcpy(out + *got, tmp, take);
		*got += take;
		out[*got] = '\0';
	}
	return n > 0 || errno == EAGAIN || errno == EINTR;
}

int rtu_run(struct rt *rt, const char *id, const char *user, const char *const *argv,
	    char *out, size_t outlen, int timeout_ms)
{
	struct rt_exec_spec spec = { .argv = argv, .user = user };
	struct rt_proc *p;
	char err[256], sink[2];
	size_t got = 0;
	int64_t until = clock_mono_ms() + timeout_ms;
	int rc = rt_exec(rt, id, &spec, &p, err, sizeof(err)), st = 0;
	bool open_out = true, exited = false;

	if (!out || !outlen)
		out = sink, outlen = sizeof(sink);
	out[0] = '\0';
	if (rc < 0)
		return rc;
	rt_proc_close_stdin(p);
	while ((open_out || !exited) && clock_mono_ms() < until) {
		struct pollfd pf[2] = { { exited ? -1 : rt_proc_exit_fd(p), POLLIN, 0 },
					{ open_out ? rt_proc_stdout(p) : -1, POLLIN, 0 } };

		poll(pf, 2, 50);
		if (pf[1].revents)
			open_out = drain(rt_proc_stdout(p), out, outlen, &got);
		if (pf[0].revents)
			exited = rt_proc_status(p, &st) == 0;
	}
	rt_proc_free(p);
	return exited ? st : -ETIMEDOUT;
}

int rtu_sh(struct rt *rt, const char *id, const char *user, const char *script, char *out,
	   size_t outlen)
{
	const char *argv[] = { "sh", "-c", script, NULL };

	return rtu_run(rt, id, user, argv, out, outlen, 20000);
}

bool rtu_cg_file(const char *id, const char *v1ctl, const char *file, char *out, size_t len)
{
	if (!out || !len)
		return false;
	snprintf(out, len, "/sys/fs/cgroup/sbxd/%s/%s", id, file);
	if (rtu_exists(out))
		return true;
	snprintf(out, len, "/sys/fs/cgroup/%s/sbxd/%s/%s", v1ctl, id, file);
	return rtu_exists(out);
}

int rtu_cg_pids(const char *id, pid_t *pids, int max)
{
	char path[512];
	FILE *f;
	int n = 0, pid;

	if (!rtu_cg_file(id, "pids", "cgroup.procs", path, sizeof(path)) ||
	    !(f = fopen(path, "re")))
		return -1;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

long rtu_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	/* After ") ": state, then fields 4..13, utime is 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return -1;
	return (long)(ut + st);
}

long rtu_host_uid(pid_t pid)
{
	char path[64], line[256];
	long uid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

bool rtu_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

void rtu_make_image(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "set -e; D=%s; mkdir -p $D/bin $D/etc; echo ID=sbxd-test-image > $D/etc/os-release;"
		 " for f in /bin/sh /bin/cat /bin/ls \"$SBXD_INIT\"; do ldd \"$f\"; done |"
		 " grep -o '/[^ ]*' | sort -u | while read l; do cp --parents -L \"$l\" $D; done;"
		 " cp -L /bin/sh /bin/cat /bin/ls $D/bin/", dir);
	cr_assert_eq(system(cmd), 0, "cannot build the test image: %s", cmd);
}
