/* Outbound network for a sandbox through a user-mode stack attached to its
 * network namespace: pasta (package passt) or slirp4netns.  Neither may
 * reach the host's loopback: pasta gets --no-map-gw and no port forwarding
 * in either direction (its defaults would forward the host's bound
 * loopback ports into the sandbox, sbxd's own included); slirp4netns gets
 * --disable-host-loopback.
 *
 * Which one (rt->net_tool, chosen at start by net_pick):
 *   - sbxd not root: pasta, else slirp4netns, as sbxd's own uid, where
 *     /dev/net/tun is open to it;
 *   - sbxd root: pasta only where /dev/net/tun is open to everyone, run as
 *     the sandbox's host root (as root it drops to nobody, or into a user
 *     namespace of its own, before it could join the sandbox's); else
 *     slirp4netns run as root, which needs nothing from the device's mode,
 *     with --enable-sandbox (its own mount namespace, every capability
 *     dropped but CAP_NET_BIND_SERVICE) and --enable-seccomp.
 * slirp4netns ends when the pipe on its --exit-fd closes: when sbxd stops
 * it or dies, even by SIGKILL.  It takes tens of milliseconds to configure
 * the sandbox's interface (more on a loaded machine), so the create does
 * not wait for it: the first process started in the sandbox does (at most
 * READY_MS, net_await), and finds the network up. */
#include "runtime/rt_priv.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define READY_MS 3000

extern char **environ;

void net_pick(struct rt *rt)
{
	struct stat st;
	bool all = stat("/dev/net/tun", &st) == 0 && (st.st_mode & 0006) == 0006;
	bool mine = access("/dev/net/tun", R_OK | W_OK) == 0;

	rt->net_as_root = false;
	if (rt->mapped && all && rt_find_program("pasta", rt->net_tool, sizeof(rt->net_tool)))
		return;
	if (rt->mapped && mine &&
	    rt_find_program("slirp4netns", rt->net_tool, sizeof(rt->net_tool))) {
		rt->net_as_root = true;
		return;
	}
	if (!rt->mapped && mine &&
	    (rt_find_program("pasta", rt->net_tool, sizeof(rt->net_tool)) ||
	     rt_find_program("slirp4netns", rt->net_tool, sizeof(rt->net_tool))))
		return;
	rt->net_tool[0] = '\0';
}

/* Waits for slirp4netns's "1" on the ready pipe. */
static int await_ready(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c = 0;

	if (poll(&p, 1, READY_MS) <= 0 || read(fd, &c, 1) != 1 || c != '1')
		return -ETIMEDOUT;
	return 0;
}

static int spawn(struct rt *rt, const char *const *argv, int exit_r, int ready_w,
		 pid_t *child)
{
	posix_spawn_file_actions_t fa;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (exit_r >= 0) {
		posix_spawn_file_actions_adddup2(&fa, exit_r, 3);
		posix_spawn_file_actions_adddup2(&fa, ready_w, 4);
	}
	rc = posix_spawn(child, rt->net_tool, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

static int start_slirp(struct rt *rt, struct rt_box *b, const char *pid)
{
	const char *argv[12] = { rt->net_tool, "--configure", "--mtu=65520",
				 "--disable-host-loopback", "--exit-fd=3", "--ready-fd=4" };
	int ex[2], ready[2], rc, n = 6;

	if (rt->net_as_root)
		argv[n++] = "--enable-sandbox", argv[n++] = "--enable-seccomp";
	argv[n++] = pid, argv[n++] = "tap0", argv[n] = NULL;

	if (pipe2(ex, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ready, O_CLOEXEC) < 0) {
		close(ex[0]), close(ex[1]);
		return -errno;
	}
	rc = spawn(rt, argv, ex[0], ready[1], &b->net_pid);
	close(ex[0]), close(ready[1]);
	if (rc < 0) {
		close(ex[1]), close(ready[0]);
		return rc;
	}
	b->net_exit = ex[1];
	b->net_ready = ready[0];
	return 0;
}

void net_await(struct rt_box *b)
{
	if (b->net_ready < 0)
		return;
	if (await_ready(b->net_ready) < 0)
		net_stop(b);        /* the sandbox is offline, as without a stack */
	if (b->net_ready >= 0)
		close(b->net_ready);
	b->net_ready = -1;
}

int net_start(struct rt *rt, struct rt_box *b)
{
	char pid[16], runas[32];
	const char *tool = strrchr(rt->net_tool, '/') + 1;
	const char *pasta[] = { rt->net_tool, "--quiet", "--foreground", "--config-net",
				"--runas", runas,
				"--no-map-gw", "-t", "none", "-u", "none", "-T", "none",
				"-U", "none", pid, NULL };

	snprintf(pid, sizeof(pid), "%d", (int)b->init_pid);
	if (strcmp(tool, "pasta") != 0)
		return start_slirp(rt, b, pid);
	snprintf(runas, sizeof(runas), "%u:%u", (unsigned)rootfs_host_uid(rt, 0),
		 (unsigned)rootfs_host_gid(rt, 0));
	return spawn(rt, pasta, -1, -1, &b->net_pid);
}

void net_stop(struct rt_box *b)
{
	if (b->net_pid <= 0)
		return;
	int fd = (int)syscall(SYS_pidfd_open, b->net_pid, 0);
	kill(b->net_pid, SIGKILL);
	rt_reap(b->net_pid, fd, 2000);
	if (fd >= 0)
		close(fd);
	if (b->net_exit >= 0)
		close(b->net_exit);
	if (b->net_ready >= 0)
		close(b->net_ready);
	b->net_exit = b->net_ready = -1;
	b->net_pid = 0;
}
