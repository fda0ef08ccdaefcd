/* sbxd-init: PID 1 of a bwrap sandbox.  It reaps every orphan of the
 * sandbox, starts the processes sbxd asks for over its control socket
 * (runtime/initproto.h) and reports their exit.  It never runs anything on
 * its own, and it exits when sbxd closes the control socket, which ends the
 * PID namespace and with it every process of the sandbox.
 *
 * Single-threaded: forking here is always safe. */
#include "runtime/initproto.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define MAX_PROCS 4096

struct child {
	pid_t pid;
	int sock;               /* its process socket; -1 once sbxd let go */
};

struct init {
	int ctl;
	int sigfd;
	struct child procs[MAX_PROCS];
	size_t n;
	char buf[IP_MAX_MSG];
};

static int send_msg(int sock, uint32_t type, int a, int b, const int *fds, int nfds)
{
	struct ip_msg m = { type, a, b };
	struct iovec iov = { &m, sizeof(m) };
	union { struct cmsghdr h; char b[CMSG_SPACE(4 * sizeof(int))]; } cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* The strings of a spawn request, checked to lie within its n bytes. */
static int split_strings(char *p, char *end, char **out, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		char *nul = memchr(p, '\0', (size_t)(end - p));

		if (!nul)
			return -EINVAL;
		out[i] = p;
		p = nul + 1;
	}
	return 0;
}

struct spawn {
	struct ip_spawn h;
	char **argv, **envp;
	const char *cwd;
	int in[2], out[2], err[2];      /* pipes; [0] read, [1] write */
	int pty;                        /* master, or -1 */
	char slave[64];
};

/* Writes text to /proc/self/FILE. */
static int write_self(const char *file, const char *text)
{
	char path[64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, text, strlen(text)) < 0)
		rc = errno;
	close(fd);
	return rc;
}

/* `root` where the sandbox has one uid only (sbxd is not root, so
 * bubblewrap maps `user` alone): uid and gid 0 of a user namespace of the
 * process's own over user's ids, as `unshare -r` makes.  It has root's
 * name and ids and its own capabilities, but no power over the sandbox
 * beyond user's: the sandbox's namespaces belong to the outer one.  0 or
 * an errno. */
static int become_nested_root(void)
{
	char uid_map[32], gid_map[32];
	int rc;

	snprintf(uid_map, sizeof(uid_map), "0 %u 1\n", (unsigned)getuid());
	snprintf(gid_map, sizeof(gid_map), "0 %u 1\n", (unsigned)getgid());
	if (unshare(CLONE_NEWUSER) < 0)
		return errno;
	if ((rc = write_self("setgroups", "deny")) != 0 ||
	    (rc = write_self("uid_map", uid_map)) != 0 ||
	    (rc = write_self("gid_map", gid_map)) != 0)
		return rc;
	return 0;
}

/* In the child: the descriptors, the user, the directory, the program.
 * Returns only on failure, with the errno to report. */
static int child_exec(struct spawn *s)
{
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (s->pty >= 0) {
		fd = open(s->slave, O_RDWR);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			return errno;
		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
	} else {
		dup2(s->in[0], 0), dup2(s->out[1], 1), dup2(s->err[1], 2);
	}
	/* init is shielded from the OOM killer; what it runs is not. */
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t ignored = write(fd, "0", 1);    /* best effort */

		(void)ignored;
		close(fd);
	}
	if (s->h.uid == 0 && geteuid() != 0) {
		int rc = become_nested_root();

		if (rc)
			return rc;
	} else if (getuid() != s->h.uid || getgid() != s->h.gid) {
		if (setgroups(0, NULL) < 0 || setresgid(s->h.gid, s->h.gid, s->h.gid) < 0 ||
		    setresuid(s->h.uid, s->h.uid, s->h.uid) < 0)
			return errno;
	}
	if (s->h.uid != 0)
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (chdir(s->cwd) < 0)
		return errno;
	execvpe(s->argv[0], s->argv, s->envp);
	return errno;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	p[0] = p[1] = -1;
}

static int open_pty(struct spawn *s)
{
	struct winsize ws = { .ws_row = s->h.rows, .ws_col = s->h.cols };

	s->pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->pty < 0)
		return -errno;
	if (grantpt(s->pty) < 0 || unlockpt(s->pty) < 0 ||
	    ptsname_r(s->pty, s->slave, sizeof(s->slave)) != 0)
		return -errno;
	if (ws.ws_row && ws.ws_col)
		ioctl(s->pty, TIOCSWINSZ, &ws);
	return 0;
}

static int open_stdio(struct spawn *s)
{
	if (s->h.pty)
		return open_pty(s);
	if (pipe2(s->in, O_CLOEXEC) < 0 || pipe2(s->out, O_CLOEXEC) < 0 ||
	    pipe2(s->err, O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Forks and execs; the exec's failure comes back through a CLOEXEC pipe, so
 * a 0 return means the program runs.  *pid gets the child. */
static int fork_exec(struct spawn *s, pid_t *pid)
{
	int ep[2], code = 0;

	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	*pid = fork();
	if (*pid == 0) {
		close(ep[0]);
		code = child_exec(s);
		if (write(ep[1], &code, sizeof(code)) < 0)
			_exit(126);
		_exit(127);
	}
	close(ep[1]);
	if (*pid < 0) {
		code = errno;
	} else if (read(ep[0], &code, sizeof(code)) == (ssize_t)sizeof(code)) {
		waitpid(*pid, NULL, 0);
	} else {
		code = 0;
	}
	close(ep[0]);
	return -code;
}

/* Starts what request s asks for and answers on sock. */
static void spawn(struct init *in, struct spawn *s, int sock)
{
	pid_t pid = -1;
	int rc = in->n == MAX_PROCS ? -EAGAIN : open_stdio(s);

	if (rc == 0)
		rc = fork_exec(s, &pid);
	if (rc < 0) {
		send_msg(sock, IP_STARTED, -1, -rc, NULL, 0);
		close(sock);
	} else {
		int fds[3] = { s->in[1], s->out[0], s->err[0] };

		if (s->pty >= 0)
			send_msg(sock, IP_STARTED, pid, 0, &s->pty, 1);
		else
			send_msg(sock, IP_STARTED, pid, 0, fds, 3);
		in->procs[in->n].pid = pid;
		in->procs[in->n].sock = sock;
		in->n++;
	}
	close_pair(s->in), close_pair(s->out), close_pair(s->err);
	if (s->pty >= 0)
		close(s->pty);
}

/* Parses a spawn request of n bytes in in->buf. */
static void on_spawn(struct init *in, size_t n, int sock)
{
	struct spawn s = { .in = { -1, -1 }, .out = { -1, -1 }, .err = { -1, -1 }, .pty = -1 };
	char *end = in->buf + n;

	memcpy(&s.h, in->buf, sizeof(s.h));
	if (s.h.argc == 0 || s.h.argc > n || s.h.envc > n) {
		send_msg(sock, IP_STARTED, -1, EINVAL, NULL, 0);
		close(sock);
		return;
	}
	s.argv = calloc(s.h.argc + 1, sizeof(char *));
	s.envp = calloc(s.h.envc + 1, sizeof(char *));
	char *cwd[1];
	if (!s.argv || !s.envp ||
	    split_strings(in->buf + sizeof(s.h), end, s.argv, s.h.argc) < 0 ||
	    split_strings(s.argv[s.h.argc - 1] + strlen(s.argv[s.h.argc - 1]) + 1, end,
			  s.envp, s.h.envc) < 0 ||
	    split_strings(s.h.envc ? s.envp[s.h.envc - 1] + strlen(s.envp[s.h.envc - 1]) + 1
				   : s.argv[s.h.argc - 1] + strlen(s.argv[s.h.argc - 1]) + 1,
			  end, cwd, 1) < 0) {
		send_msg(sock, IP_STARTED, -1, EINVAL, NULL, 0);
		close(sock);
	} else {
		s.cwd = cwd[0];
		spawn(in, &s, sock);
	}
	free(s.argv);
	free(s.envp);
}

/* One message on the control socket; -1 when sbxd is gone. */
static int on_ctl(struct init *in)
{
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct iovec iov = { in->buf, sizeof(in->buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	ssize_t n = recvmsg(in->ctl, &mh, MSG_CMSG_CLOEXEC);
	int sock = -1;

	if (n <= 0)
		return n < 0 && errno == EINTR ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&sock, CMSG_DATA(c), sizeof(int));
	uint32_t type = 0;
	if ((size_t)n >= sizeof(type))
		memcpy(&type, in->buf, sizeof(type));
	if (type == IP_SPAWN && sock >= 0 && (size_t)n >= sizeof(struct ip_spawn))
		on_spawn(in, (size_t)n, sock);
	else if (sock >= 0)
		close(sock);
	if (type == IP_STOPALL)
		kill(-1, SIGSTOP);
	else if (type == IP_CONTALL)
		kill(-1, SIGCONT);
	return 0;
}

static void on_exit_status(struct init *in, pid_t pid, int status)
{
	for (size_t i = 0; i < in->n; i++) {
		if (in->procs[i].pid != pid)
			continue;
		if (in->procs[i].sock >= 0) {
			send_msg(in->procs[i].sock, IP_EXITED, status, 0, NULL, 0);
			close(in->procs[i].sock);
		}
		in->procs[i] = in->procs[--in->n];
		return;
	}
}

static void reap(struct init *in)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(in->sigfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		on_exit_status(in, pid, status);
}

/* A message from sbxd on process socket i (a signal), or its end. */
static void on_proc(struct init *in, size_t i)
{
	struct ip_msg m;
	ssize_t n = recv(in->procs[i].sock, &m, sizeof(m), MSG_DONTWAIT);

	if (n == (ssize_t)sizeof(m) && m.type == IP_SIGNAL) {
		kill(in->procs[i].pid, m.a);
	} else if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(in->procs[i].sock);
		in->procs[i].sock = -1;
	}
}

static void serve(struct init *in)
{
	static struct pollfd pfd[MAX_PROCS + 2];

	for (;;) {
		size_t np = 2;

		pfd[0] = (struct pollfd){ in->ctl, POLLIN, 0 };
		pfd[1] = (struct pollfd){ in->sigfd, POLLIN, 0 };
		for (size_t i = 0; i < in->n; i++)
			pfd[np++] = (struct pollfd){ in->procs[i].sock, POLLIN, 0 };
		if (poll(pfd, np, -1) < 0 && errno != EINTR)
			return;
		if (pfd[1].revents)
			reap(in);
		/* Walk backwards: reaping above may have moved entries. */
		for (size_t i = np - 2; i-- > 0;)
			if (i < in->n && in->procs[i].sock == pfd[i + 2].fd && pfd[i + 2].revents)
				on_proc(in, i);
		if (pfd[0].revents && on_ctl(in) < 0)
			return;
	}
}

int main(void)
{
	static struct init in;
	sigset_t chld;
	int null = open("/dev/null", O_RDWR);

	/* Nothing of ours may reach sbxd's stdio or bwrap's error pipe. */
	if (null >= 0) {
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		if (null > 2)
			close(null);
	}
	in.ctl = IP_CTL_FD;
	fcntl(in.ctl, F_SETFD, FD_CLOEXEC);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	in.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	if (in.sigfd < 0 || send_msg(in.ctl, IP_READY, getpid(), 0, NULL, 0) < 0)
		return 1;
	serve(&in);
	return 0;
}
