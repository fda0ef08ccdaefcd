/* The bwrap runtime: each sandbox is bubblewrap with its own mount, PID,
 * IPC, UTS, network and user namespaces, and our init as PID 1.
 *
 * Start, step by step (every wait bounded by START_MS):
 *   1. the root (rootfs.c) and the cgroups with the template's limits;
 *   2. fork; the child waits until the parent has put it in the cgroups,
 *      so bwrap and all it starts are counted from the first instant; as
 *      root it then binds the sandbox's root and init at fixed anchors
 *      (RT_ANCHOR_ROOT, RT_ANCHOR_INIT) in a mount namespace of its own,
 *      because bwrap, run as the sandbox's unprivileged host uid, could not
 *      walk to them through a private state dir (bwrap resolves sources by
 *      path, so a descriptor would not do); then it drops to that uid and
 *      runs bwrap as PID 1 of a PID namespace of its own (run_in_pidns),
 *      staying as bwrap's parent;
 *   3. bwrap reports its child on --info-fd (its host pid we read from
 *      /proc: the info numbers it in bwrap's namespace); as root we write
 *      that user namespace's uid and gid maps (sandbox 0..65535 ->
 *      host base..base+65535, so both `root` and `user` exist and neither
 *      is the host's root), then let it go on --userns-block-fd;
 *   4. init says IP_READY on the control socket (fd 3); anything bwrap
 *      printed instead is the error message. */
#include "runtime/rt_priv.h"

#include "common/clock.h"
#include "runtime/initproto.h"
#include "runtime/launcher.h"
#include "runtime/nsclean.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_MS 10000
#define MAX_ARGS 96
#define INIT_IN_BOX "/run/sbxd/init"

struct args {
	const char *v[MAX_ARGS + 1];
	int n;
	char num[4][32];
};

static void add(struct args *a, const char *s)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void add2(struct args *a, const char *opt, const char *val)
{
	add(a, opt), add(a, val);
}

static void add3(struct args *a, const char *opt, const char *x, const char *y)
{
	add(a, opt), add(a, x), add(a, y);
}

/* The host's /bin, /lib... as they are: links into /usr, or directories. */
static void add_top_dirs(struct args *a)
{
	static const char *const top[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64",
					   "/libx32" };
	static char link[6][64];    /* written once per process, same values */
	struct stat st;

	for (int i = 0; i < 6; i++) {
		if (lstat(top[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(top[i], link[i], sizeof(link[i]) - 1);

			if (n <= 0)
				continue;
			link[i][n] = '\0';
			add3(a, "--symlink", link[i], top[i]);
		} else if (S_ISDIR(st.st_mode)) {
			add3(a, "--ro-bind", top[i], top[i]);
		}
	}
}

static void add_base_fs(struct args *a, const char *root, char paths[5][PATH_MAX])
{
	static const char *const host_etc[] = { "/etc/alternatives", "/etc/ssl",
		"/etc/ca-certificates", "/etc/ld.so.cache", "/etc/localtime" };
	static const char *const at[] = { "/etc", "/home", "/root", "/tmp", "/var" };

	add3(a, "--ro-bind", "/usr", "/usr");
	add_top_dirs(a);
	/* The writable parts, from the root kept for this sandbox. */
	for (int i = 0; i < 5; i++) {
		snprintf(paths[i], PATH_MAX, "%s%s", root, at[i]);
		add3(a, "--bind", paths[i], at[i]);
	}
	for (size_t i = 0; i < sizeof(host_etc) / sizeof(*host_etc); i++)
		add3(a, "--ro-bind-try", host_etc[i], host_etc[i]);
}

static void build_args(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		       struct args *a, char paths[5][PATH_MAX])
{
	add(a, rt->bwrap);
	add(a, "--unshare-all"), add(a, "--unshare-user");
	add(a, "--die-with-parent"), add(a, "--as-pid-1"), add(a, "--new-session");
	add2(a, "--hostname", b->id);
	add2(a, "--info-fd", "4");
	if (rt->mapped) {
		add2(a, "--userns-block-fd", "5");
		add2(a, "--uid", "0"), add2(a, "--gid", "0");
		add2(a, "--cap-add", "ALL");
	} else {
		snprintf(a->num[0], sizeof(a->num[0]), "%d", RT_USER_UID);
		add2(a, "--uid", a->num[0]), add2(a, "--gid", a->num[0]);
	}
	const char *root = rt->mapped ? RT_ANCHOR_ROOT : b->root;
	if (spec->rootfs)
		add3(a, "--bind", root, "/");
	else
		add_base_fs(a, root, paths);
	add2(a, "--proc", "/proc"), add2(a, "--dev", "/dev");
	add2(a, "--tmpfs", "/run");
	add3(a, "--ro-bind", rt->mapped ? RT_ANCHOR_INIT : rt->init, INIT_IN_BOX);
	add2(a, "--chdir", "/");
	add(a, INIT_IN_BOX);
}

struct launch {
	int ctl[2], info[2], block[2], errp[2], go[2];
	int devnull;
	const char *root;           /* the box's root on the host */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void launch_close(struct launch *l)
{
	int *all = &l->ctl[0];	/* the 11 descriptors above */

	for (int i = 0; i < 11; i++)
		close_fd(&all[i]);
}

/* Runs bwrap as PID 1 of the PID namespace we unshared (as root, or in a
 * user namespace of our own) and waits for it.  Why:
 * bwrap's child waits (on an eventfd) for bwrap to let it go after we
 * wrote its uid maps, and only then ties itself to bwrap's death; if sbxd
 * dies in that window, bwrap dies (--die-with-parent) and the child would
 * wait for ever.  As PID 1 here, bwrap's death ends every process of the
 * namespace, that child included.  We stay as bwrap's parent, dying with
 * sbxd (PR_SET_PDEATHSIG), so that bwrap dies with us.  Exits with
 * bwrap's status.  Async-signal-safe calls only. */
static void run_in_pidns(const struct args *a, char *const *envp)
{
	int st = 0;

	pid_t pid = fork();
	if (pid == 0) {
		/* Our parent is outside the namespace: getppid() says 0, so a
		 * death before this line goes unseen; bwrap then dies of
		 * SIGPIPE on its --info-fd, sbxd's end being closed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execve(a->v[0], (char *const *)a->v, envp);
		_exit(127);
	}
	/* bwrap keeps the pipes: no copy of ours may hold them open. */
	syscall(SYS_close_range, 0, ~0U, 0);
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	_exit(pid < 0 ? 123 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* "N N 1\n" into out (async-signal-safe: no stdio). */
static void self_map(char *out, unsigned n)
{
	char digits[16];
	int len = 0;

	do
		digits[len++] = (char)('0' + n % 10);
	while ((n /= 10) && len < 16);
	for (int rep = 0; rep < 2; rep++) {
		for (int i = len - 1; i >= 0; i--)
			*out++ = digits[i];
		*out++ = ' ';
	}
	memcpy(out, "1\n", 3);
}

static int write_self(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY | O_CLOEXEC), rc = -1;

	if (fd >= 0) {
		rc = write(fd, text, strlen(text)) < 0 ? -1 : 0;
		close(fd);
	}
	return rc;
}

/* Not root: a PID namespace for run_in_pidns needs a user namespace of
 * our own first, mapping our uid and gid to themselves, so bwrap (which
 * loses these capabilities at exec, its uid not being 0) still maps the
 * sandbox's `user` to sbxd's uid.  Async-signal-safe. */
static int unshare_own_pidns(void)
{
	char uid_map[48], gid_map[48];

	self_map(uid_map, (unsigned)getuid());
	self_map(gid_map, (unsigned)getgid());
	/* A process that changed its uids is not dumpable, and its /proc
	 * files are then root's: we could not write our maps. */
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0 ||
	    write_self("/proc/self/setgroups", "deny") < 0 ||
	    write_self("/proc/self/uid_map", uid_map) < 0 ||
	    write_self("/proc/self/gid_map", gid_map) < 0)
		return -1;
	return 0;
}

/* In the forked child: async-signal-safe calls only.  It keeps only its
 * own descriptors, at once: a copy of another launch's pipe held here would
 * keep that launch waiting if sbxd died.  It dies with sbxd until bwrap
 * takes over (--die-with-parent; our own signal stays set in bwrap). */
static void child(struct rt *rt, struct launch *l, const struct args *a, pid_t parent)
{
	static char path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path, NULL };
	const int keep[7] = { l->devnull, l->errp[1], l->errp[1], l->ctl[1], l->info[1],
			      l->block[0], l->go[0] };
	int moved[7];
	sigset_t none;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	for (int i = 0; i < 7; i++)
		moved[i] = fcntl(keep[i], F_DUPFD, 100);
	for (int i = 0; i < 7; i++)
		dup2(moved[i], i);      /* 0-2 stdio, 3 ctl, 4 info, 5 block, 6 go */
	syscall(SYS_close_range, 7, ~0U, 0);
	if (read(6, &c, 1) != 1)
		_exit(126);
	close(6);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* CLONE_NEWPID for run_in_pidns, while we may. */
	if (rt->mapped && (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0 ||
			   mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
		_exit(124);
	if (rt->mapped)
		nsclean_detach_fuse();
	if (rt->mapped && (mount(l->root, RT_ANCHOR_ROOT, NULL, MS_BIND | MS_REC, NULL) < 0 ||
			   mount(rt->init, RT_ANCHOR_INIT, NULL, MS_BIND, NULL) < 0))
		_exit(124);
	if (rt->mapped && (setgroups(0, NULL) < 0 || setresgid(rt->base_gid, rt->base_gid,
				rt->base_gid) < 0 || setresuid(rt->base_uid, rt->base_uid,
				rt->base_uid) < 0))
		_exit(125);
	if (!rt->mapped && unshare_own_pidns() < 0)
		_exit(124);
	/* The uid (or namespace) change cleared the parent-death signal. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);
	run_in_pidns(a, envp);
}

static int launch_open(struct launch *l, const char *root)
{
	memset(l, -1, sizeof(*l));
	l->root = root;
	l->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (l->devnull < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->ctl) < 0 ||
	    pipe2(l->info, O_CLOEXEC) < 0 || pipe2(l->block, O_CLOEXEC) < 0 ||
	    pipe2(l->errp, O_CLOEXEC) < 0 || pipe2(l->go, O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Reads from fd until `until` what fits in buf; stops at EOF or when
 * `stop` (if not NULL) appears.  Bytes read. */
static size_t read_until(int fd, char *buf, size_t len, const char *stop, int64_t until)
{
	size_t got = 0;

	buf[0] = '\0';
	while (got + 1 < len && (!stop || !strstr(buf, stop))) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = (until - clock_mono_ns()) / 1000000;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
	}
	return got;
}

/* The only child of host pid `pid` (its first), or 0. */
static pid_t first_child(pid_t pid)
{
	char path[64], buf[64];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return (pid_t)atoi(buf);
}

/* Steps 3 and 4: *init gets init's host pid.  0, or -EIO with err. */
static int await_init(struct rt *rt, struct launch *l, pid_t bwrap_pid, pid_t *init,
		      int64_t until)
{
	char info[1024];
	struct ip_msg m;
	const char *p;

	read_until(l->info[0], info, sizeof(info), "}", until);
	p = strstr(info, "\"child-pid\"");
	/* bwrap names its child as its own PID namespace numbers it: the
	 * host's pid is the child of bwrap, itself our child's child. */
	*init = p ? first_child(first_child(bwrap_pid)) : 0;
	if (*init <= 0)
		return -EIO;
	if (rt->mapped && (rootfs_write_map(*init, "uid_map", rt->base_uid) < 0 ||
			   rootfs_write_map(*init, "gid_map", rt->base_gid) < 0 ||
			   write(l->block[1], "1", 1) != 1))
		return -EIO;
	close_fd(&l->block[1]);
	struct pollfd pf = { l->ctl[0], POLLIN, 0 };
	int64_t left = (until - clock_mono_ns()) / 1000000;
	if (left <= 0 || poll(&pf, 1, (int)left) <= 0 ||
	    recv(l->ctl[0], &m, sizeof(m), 0) != (ssize_t)sizeof(m) || m.type != IP_READY)
		return -EIO;
	return 0;
}

static void set_oom_adj(pid_t pid, const char *val)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* Best effort: without it init may be the OOM killer's pick. */
		ssize_t ignored = write(fd, val, strlen(val));

		(void)ignored;
		close(fd);
	}
}

/* The error bwrap printed, as the message of a failed start. */
static void bwrap_error(struct launch *l, char *err, size_t errlen, int64_t until)
{
	char msg[512];

	close_fd(&l->errp[1]);
	read_until(l->errp[0], msg, sizeof(msg), NULL, until);
	msg[strcspn(msg, "\n")] = '\0';
	snprintf(err, errlen, "bwrap failed to start the sandbox: %s",
		 msg[0] ? msg : "no message (init did not start)");
}

struct fork_job {
	struct rt *rt;
	struct rt_box *b;
	struct launch *l;
	const struct args *a;
};

static int fork_bwrap(void *arg);

/* Forks on the runtime's launcher thread (see launcher.c). */
static int start_bwrap(struct rt *rt, struct rt_box *b, struct launch *l,
		       const struct args *a)
{
	struct fork_job j = { rt, b, l, a };

	return launcher_run(rt->launcher, fork_bwrap, &j);
}

static int fork_bwrap(void *arg)
{
	struct fork_job *j = arg;
	struct rt *rt = j->rt;
	struct rt_box *b = j->b;
	struct launch *l = j->l;
	const struct args *a = j->a;
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		child(rt, l, a, parent);
	if (pid < 0)
		return -errno;
	b->bwrap_pid = pid;
	b->bwrap_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int rc = b->cg ? cg_enter(b->cg, pid) : 0;
	if (write(l->go[1], "g", 1) != 1 && rc == 0)
		rc = -EIO;
	close_fd(&l->ctl[1]), close_fd(&l->info[1]), close_fd(&l->block[0]);
	close_fd(&l->go[0]), close_fd(&l->go[1]);
	return rc;
}

void bwrap_stop(struct rt *rt, struct rt_box *b);

static int bw_run(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		  char *err, size_t errlen)
{
	int64_t until = clock_mono_ns() + (int64_t)START_MS * 1000000;
	struct launch l;
	struct args *a = calloc(1, sizeof(*a));
	char (*paths)[PATH_MAX] = calloc(5, PATH_MAX);
	int rc = !a || !paths ? -ENOMEM : launch_open(&l, b->root);

	if (rc == 0) {
		build_args(rt, b, spec, a, paths);
		rc = start_bwrap(rt, b, &l, a);
	}
	if (rc == 0 && (rc = await_init(rt, &l, b->bwrap_pid, &b->init_pid, until)) < 0)
		bwrap_error(&l, err, errlen, until);
	if (rc == 0) {
		b->ctl = l.ctl[0];
		l.ctl[0] = -1;
		b->init_pidfd = (int)syscall(SYS_pidfd_open, b->init_pid, 0);
		set_oom_adj(b->init_pid, "-1000");
		set_oom_adj(b->bwrap_pid, "-1000");
		/* bwrap itself, below the launcher's child */
		set_oom_adj(first_child(b->bwrap_pid), "-1000");
	}
	if (rc < 0 && b->bwrap_pid > 0)
		bwrap_stop(rt, b);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "cannot start the sandbox: %s", strerror(-rc));
	launch_close(&l);
	free(a);
	free(paths);
	return rc;
}

static int bw_start(struct rt *rt, struct rt_box *b, const struct rt_box_spec *spec,
		    char *err, size_t errlen)
{
	int cpus = spec->cpu_count > 0 ? spec->cpu_count : 1;
	int rc = rootfs_build(rt, b, spec, err, errlen);

	if (rc < 0)
		return rc;
	b->cg = cg_new(&rt->cgs, b->id, spec->memory_mb, 256 * cpus, cpus, &rc);
	if (rc < 0) {
		snprintf(err, errlen, "cannot make the cgroups of the sandbox: %s", strerror(-rc));
		return rc;
	}
	rc = bw_run(rt, b, spec, err, errlen);
	if (rc < 0)
		return rc == -ENOENT ? -EIO : rc;
	if (spec->internet && rt->net_tool[0])
		net_start(rt, b);   /* without it the sandbox is offline; no error */
	return 0;
}

/* Sends an IP_STOPALL / IP_CONTALL to init: the SIGSTOP fallback. */
static int tell_init(struct rt_box *b, uint32_t type)
{
	struct ip_msg m = { type, 0, 0 };

	if (b->ctl < 0)
		return -ESRCH;
	return send(b->ctl, &m, sizeof(m), MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int bw_freeze(struct rt *rt, struct rt_box *b)
{
	int rc = rt->cgs.has_freeze && b->cg ? cg_freeze(b->cg, true)
					     : tell_init(b, IP_STOPALL);

	(void)rt;
	if (rc == 0)
		b->frozen = true;
	return rc;
}

static int bw_thaw(struct rt *rt, struct rt_box *b)
{
	int rc = rt->cgs.has_freeze && b->cg ? cg_freeze(b->cg, false)
					     : tell_init(b, IP_CONTALL);

	if (rc == 0)
		b->frozen = false;
	return rc;
}

void bwrap_stop(struct rt *rt, struct rt_box *b)
{
	(void)rt;
	net_stop(b);
	/* Init first: PID 1's death ends the namespace and every process in
	 * it, and bwrap, its parent, reaps it and exits.  Killing bwrap first
	 * would leave init's zombie to the host's PID 1. */
	if (b->init_pidfd >= 0)
		syscall(SYS_pidfd_send_signal, b->init_pidfd, SIGKILL, NULL, 0);
	else if (b->bwrap_pid > 0)
		kill(b->bwrap_pid, SIGKILL);        /* a start that failed */
	if (b->frozen && b->cg)
		cg_freeze(b->cg, false);    /* a frozen task dies only once thawed */
	if (b->bwrap_pid > 0)
		rt_reap(b->bwrap_pid, b->bwrap_pidfd, 2000);
	/* What is left in the cgroups (nothing, normally) goes the hard way. */
	if (b->cg)
		cg_kill(b->cg);
	close_fd(&b->ctl);
	close_fd(&b->bwrap_pidfd);
	close_fd(&b->init_pidfd);
	b->bwrap_pid = b->init_pid = 0;
	cg_free(b->cg);
	b->cg = NULL;
	b->frozen = false;
}

static void bw_stop(struct rt *rt, struct rt_box *b)
{
	bwrap_stop(rt, b);
}

const struct rt_ops rt_bwrap_ops = { bw_start, bw_freeze, bw_thaw, bw_stop };
