/* Processes in a sandbox: rt_exec asks the sandbox's init over its control
 * socket (initproto.h) and gets back, on a process socket of its own, the
 * pid and the stdio descriptors, later the exit status.  The data never
 * passes through init: the pipes or the pty go straight to the caller. */
#include "runtime/rt_priv.h"

#include "runtime/initproto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define REPLY_MS 10000          /* longest wait for init to answer a spawn */

struct rt_proc {
	int sock;                   /* process socket: exit, signals */
	int in, out, err, pty;
	int pid;
	bool exited;
	int status;
};

void rt_reap(pid_t pid, int pidfd, int grace_ms)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	if (pidfd >= 0)
		poll(&p, 1, grace_ms);
	if (waitpid(pid, NULL, WNOHANG) != 0)
		return;
	kill(pid, SIGKILL);
	/* SIGKILL ends it unless it is stuck in the kernel; wait that out
	 * only so long, leaving a zombie rather than a hung server. */
	if (pidfd >= 0)
		poll(&p, 1, 5000);
	waitpid(pid, NULL, pidfd >= 0 ? WNOHANG : 0);
}

/* The environment of a process: the basics, the sandbox's envVars, the
 * request's envs, later ones winning.  NULL on allocation failure. */
static json_t *compose_env(const struct rt_box *b, const struct rt_exec_spec *spec,
			   bool root, const char *home)
{
	json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s}",
		"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME", home, "USER", root ? "root" : "user", "LOGNAME", root ? "root" : "user",
		"SHELL", "/bin/bash");

	if (env && spec->pty)
		json_object_set_new(env, "TERM", json_string("xterm-256color"));
	if (env && b->env)
		json_object_update(env, b->env);
	if (env && spec->envs && json_is_object(spec->envs))
		json_object_update(env, (json_t *)spec->envs);
	return env;
}

static bool put_str(char *buf, size_t *used, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*used + n > IP_MAX_MSG)
		return false;
	memcpy(buf + *used, s, n);
	*used += n;
	return true;
}

/* The IP_SPAWN request into buf; its length or -E2BIG / -EINVAL. */
static ssize_t build_request(char *buf, const struct rt_exec_spec *spec, const json_t *env,
			     unsigned uid, const char *cwd)
{
	struct ip_spawn h = { .type = IP_SPAWN, .uid = uid, .gid = uid, .pty = spec->pty,
			      .cols = spec->cols, .rows = spec->rows };
	size_t used = sizeof(h);
	char kv[8192];
	const char *k;
	json_t *v;

	for (; spec->argv[h.argc]; h.argc++)
		if (!put_str(buf, &used, spec->argv[h.argc]))
			return -E2BIG;
	json_object_foreach((json_t *)env, k, v) {
		if (!json_is_string(v) || strchr(k, '=') || !*k)
			continue;
		if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v)) >=
		    sizeof(kv) || !put_str(buf, &used, kv))
			return -E2BIG;
		h.envc++;
	}
	if (!put_str(buf, &used, cwd))
		return -E2BIG;
	memcpy(buf, &h, sizeof(h));
	return (ssize_t)used;
}

/* Sends the request with the process socket's other end. */
static int send_request(int ctl, const char *buf, size_t len, int fd)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memset(&cm, 0, sizeof(cm));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ctl, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Waits for IP_STARTED and takes its descriptors into p. */
static int await_started(struct rt_proc *p, bool pty)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(3 * sizeof(int))]; } cm;
	struct ip_msg m;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct pollfd pf = { p->sock, POLLIN, 0 };
	int fds[3] = { -1, -1, -1 };

	if (poll(&pf, 1, REPLY_MS) <= 0)
		return -ETIMEDOUT;
	if (recvmsg(p->sock, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(m) ||
	    m.type != IP_STARTED)
		return -EIO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fds, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0));
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	if (pty) {
		p->pty = fds[0];
	} else {
		p->in = fds[0], p->out = fds[1], p->err = fds[2];
	}
	p->pid = m.a;
	return m.a > 0 ? 0 : -(m.b ? m.b : EIO);
}

/* Checks the request and names the user: *uid inside, *home. */
static int check_spec(const struct rt_exec_spec *spec, unsigned *uid,
		      const char **home, char *err, size_t errlen)
{
	bool root = spec->user && strcmp(spec->user, "root") == 0;

	if (!spec->argv || !spec->argv[0] || !spec->argv[0][0]) {
		snprintf(err, errlen, "no command");
		return -EINVAL;
	}
	if (spec->user && !root && strcmp(spec->user, "user") != 0) {
		snprintf(err, errlen, "unknown user \"%s\" (user or root)", spec->user);
		return -EINVAL;
	}
	*uid = root ? 0 : RT_USER_UID;
	*home = root ? "/root" : "/home/user";
	return 0;
}

static int exec_in(struct rt_box *b, const struct rt_exec_spec *spec,
		   struct rt_proc *p, char *err, size_t errlen)
{
	const char *home;
	unsigned uid;
	int sv[2], rc = check_spec(spec, &uid, &home, err, errlen);

	if (rc < 0)
		return rc;
	json_t *env = compose_env(b, spec, uid == 0, home);
	char *buf = malloc(IP_MAX_MSG);
	ssize_t len = !env || !buf ? -ENOMEM
		: build_request(buf, spec, env, uid,
				spec->cwd ? spec->cwd : home);
	if (len >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		len = -errno;
	if (len >= 0) {
		p->sock = sv[0];
		pthread_mutex_lock(&b->lock);
		if (!b->gone && !b->frozen)
			net_await(b);   /* the first process finds the network up */
		rc = b->gone || b->ctl < 0 ? -ENOENT : b->frozen ? -EBUSY
			: send_request(b->ctl, buf, (size_t)len, sv[1]);
		pthread_mutex_unlock(&b->lock);
		close(sv[1]);
		if (rc == 0)
			rc = await_started(p, spec->pty);
	}
	json_decref(env);
	free(buf);
	return len < 0 ? (int)len : rc;
}

int rt_exec(struct rt *rt, const char *id, const struct rt_exec_spec *spec,
	    struct rt_proc **out, char *err, size_t errlen)
{
	struct rt_proc *p;
	int rc;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (rt->kind != RT_BWRAP) {
		snprintf(err, errlen, "the %s runtime runs no processes (sbxd --runtime bwrap)",
			 rt_kind_name(rt->kind));
		return -EOPNOTSUPP;
	}
	struct rt_box *b = box_get(rt, id);
	if (!b)
		return -ENOENT;
	p = calloc(1, sizeof(*p));
	if (!p) {
		box_put(rt, b);
		return -ENOMEM;
	}
	p->sock = p->in = p->out = p->err = p->pty = -1;
	rc = exec_in(b, spec, p, err, errlen);
	box_put(rt, b);
	if (rc < 0) {
		if (!err[0] && errlen)
			snprintf(err, errlen, "cannot start %s: %s", spec->argv && spec->argv[0] ?
				 spec->argv[0] : "?", strerror(-rc));
		rt_proc_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int rt_proc_pid(const struct rt_proc *p) { return p->pid; }
int rt_proc_stdin(const struct rt_proc *p) { return p->in; }
int rt_proc_stdout(const struct rt_proc *p) { return p->out; }
int rt_proc_stderr(const struct rt_proc *p) { return p->err; }
int rt_proc_pty(const struct rt_proc *p) { return p->pty; }
int rt_proc_exit_fd(const struct rt_proc *p) { return p->sock; }

int rt_proc_close_stdin(struct rt_proc *p)
{
	if (p->in < 0)
		return -EBADF;
	close(p->in);
	p->in = -1;
	return 0;
}

int rt_proc_signal(struct rt_proc *p, int sig)
{
	struct ip_msg m = { IP_SIGNAL, sig, 0 };

	if (p->exited)
		return -ESRCH;
	return send(p->sock, &m, sizeof(m), MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int rt_proc_resize(struct rt_proc *p, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	if (p->pty < 0)
		return -ENOTTY;
	return ioctl(p->pty, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int rt_proc_status(struct rt_proc *p, int *wstatus)
{
	struct ip_msg m;

	if (!p->exited) {
		ssize_t n = recv(p->sock, &m, sizeof(m), MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
		p->exited = true;
		/* No message: init is gone, and with it the whole sandbox
		 * (killed), so report the process as killed too. */
		p->status = n == (ssize_t)sizeof(m) && m.type == IP_EXITED ? m.a : SIGKILL;
	}
	*wstatus = p->status;
	return 0;
}

void rt_proc_free(struct rt_proc *p)
{
	if (!p)
		return;
	int *fds[] = { &p->sock, &p->in, &p->out, &p->err, &p->pty };
	for (size_t i = 0; i < 5; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	free(p);
}
