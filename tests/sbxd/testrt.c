/* A stand-in for the runtime's processes in tests: runtime.h's rt_exec
 * and rt_proc_* semantics with plain fork/exec on the host, the working
 * directory inside the test root.  No isolation: tests only. */
#include "testrt.h"

#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

struct rt_proc {
	pid_t pid;
	int in, out, err, pty, exitfd;
	pthread_mutex_t lock;           /* status, reaped: the pump reaps while */
	int status;                     /* another thread may signal */
	bool reaped;
};

static int nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The child's environment: a fixed base plus the request's. */
static char **child_env(const struct rt_exec_spec *spec, const char *home)
{
	size_t n = json_object_size(spec->envs) + 5, i = 0;
	char **env = calloc(n, sizeof(*env));
	const char *k;
	json_t *v;

	if (asprintf(&env[i++], "HOME=%s", home) < 0 ||
	    asprintf(&env[i++], "USER=%s", spec->user ? spec->user : "user") < 0 ||
	    !(env[i++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin")))
		return env;
	json_object_foreach((json_t *)spec->envs, k, v)
		if (asprintf(&env[i], "%s=%s", k, json_string_value(v)) >= 0)
			i++;
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* In the child: only async-signal-safe calls. */
static void child(const struct rt_exec_spec *spec, int fds[3], const char *slave,
		  const char *cwd, char **env)
{
	setsid();
	if (slave) {
		int s = open(slave, O_RDWR);

		ioctl(s, TIOCSCTTY, 0);
		fds[0] = fds[1] = fds[2] = s;
	}
	for (int i = 0; i < 3; i++)
		dup2(fds[i], i);
	if (chdir(cwd) < 0)
		_exit(126);
	execvpe(spec->argv[0], (char *const *)spec->argv, env);
	_exit(127);
}

static int make_pty(struct rt_proc *p, const struct rt_exec_spec *spec, char *slave, size_t n)
{
	struct winsize ws = { spec->rows, spec->cols, 0, 0 };

	p->pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->pty < 0 || grantpt(p->pty) < 0 || unlockpt(p->pty) < 0 ||
	    ptsname_r(p->pty, slave, n) != 0)
		return -errno;
	ioctl(p->pty, TIOCSWINSZ, &ws);
	return nonblock(p->pty);
}

int testrt_exec(void *ctx, const char *id, const struct rt_exec_spec *spec,
		struct rt_proc **out, char *err, size_t errlen)
{
	struct rt_proc *p = calloc(1, sizeof(*p));
	int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 };
	char cwd[4096], slave[128];
	const char *home = spec->user && !strcmp(spec->user, "root") ? "/root" : "/home/user";
	char **env = child_env(spec, home);

	(void)id;
	(void)err;
	(void)errlen;
	p->in = p->out = p->err = p->pty = -1;
	snprintf(cwd, sizeof(cwd), "%s%s", (const char *)ctx, spec->cwd ? spec->cwd : home);
	if (spec->pty ? make_pty(p, spec, slave, sizeof(slave)) < 0
		      : pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
		return free_env(env), free(p), -errno;
	int fds[3] = { in[0], o[1], e[1] };

	p->pid = fork();
	if (p->pid == 0)
		child(spec, fds, spec->pty ? slave : NULL, cwd, env);
	free_env(env);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	p->in = in[1], p->out = o[0], p->err = e[0];
	if (!spec->pty) {
		nonblock(p->in), nonblock(p->out), nonblock(p->err);
	}
	p->exitfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

static int t_pid(const struct rt_proc *p) { return p->pid; }
static int t_stdin(const struct rt_proc *p) { return p->in; }
static int t_stdout(const struct rt_proc *p) { return p->out; }
static int t_stderr(const struct rt_proc *p) { return p->err; }
static int t_pty(const struct rt_proc *p) { return p->pty; }
static int t_exit_fd(const struct rt_proc *p) { return p->exitfd; }

static int t_close_stdin(struct rt_proc *p)
{
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	return 0;
}

static int t_signal(struct rt_proc *p, int sig)
{
	int rc;

	pthread_mutex_lock(&p->lock);
	/* The group, and the child itself should it not have made its group
	 * yet (setsid runs in the child after fork). */
	rc = p->reaped ? -ESRCH : kill(p->pid, sig) < 0 ? -errno : 0;
	if (!p->reaped)
		kill(-p->pid, sig);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static int t_resize(struct rt_proc *p, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { rows, cols, 0, 0 };

	return p->pty < 0 ? -ENOTTY : ioctl(p->pty, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

static int t_status(struct rt_proc *p, int *wstatus)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->reaped) {
		if (waitpid(p->pid, &p->status, WNOHANG) == 0)
			rc = -EAGAIN;
		else
			p->reaped = true;
	}
	*wstatus = p->status;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void t_free(struct rt_proc *p)
{
	if (!p->reaped) {
		kill(p->pid, SIGKILL);
		kill(-p->pid, SIGKILL);
		waitpid(p->pid, &p->status, 0);
	}
	int fds[] = { p->in, p->out, p->err, p->pty, p->exitfd };

	for (size_t i = 0; i < 5; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

const struct envd_proc_ops testrt_proc_ops = {
	t_pid, t_stdin, t_stdout, t_stderr, t_pty, t_close_stdin, t_signal, t_resize,
	t_exit_fd, t_status, t_free,
};

static int root_open(void *ctx, const char *id)
{
	int fd = open(ctx, O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)id;
	return fd < 0 ? -errno : fd;
}

static int user_of(void *ctx, const char *id, const char *user, uid_t *uid, gid_t *gid,
		   const char **home)
{
	(void)ctx;
	(void)id;
	if (strcmp(user, "user") != 0 && strcmp(user, "root") != 0)
		return -ENOENT;
	*uid = getuid();
	*gid = getgid();
	*home = strcmp(user, "root") == 0 ? "/root" : "/home/user";
	return 0;
}

void testrt_backend(struct envd_backend *out, const char *root, bool with_procs)
{
	*out = (struct envd_backend){ root_open, user_of, with_procs ? testrt_exec : NULL,
				      with_procs ? &testrt_proc_ops : NULL, (void *)root, NULL };
}
