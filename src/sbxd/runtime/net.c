/* Outbound network for a sandbox through a user-mode stack attached to its
 * network namespace: pasta (package passt), else slirp4netns.  Neither may
 * reach the host's loopback: pasta gets --no-map-gw and no port forwarding
 * in either direction (its defaults would forward the host's bound
 * loopback ports into the sandbox, sbxd's own included); slirp4netns gets
 * --disable-host-loopback. */
#include "runtime/rt_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int net_start(struct rt *rt, struct rt_box *b)
{
	char pid[16], runas[32];
	const char *tool = strrchr(rt->net_tool, '/') + 1;
	/* As root, pasta would drop to nobody before joining the sandbox's
	 * user namespace; the namespace's owner may join it. */
	const char *pasta[] = { rt->net_tool, "--quiet", "--foreground", "--config-net",
				"--runas", runas,
				"--no-map-gw", "-t", "none", "-u", "none", "-T", "none",
				"-U", "none", pid, NULL };
	const char *slirp[] = { rt->net_tool, "--configure", "--mtu=65520",
				"--disable-host-loopback", pid, "tap0", NULL };
	posix_spawn_file_actions_t fa;
	pid_t child;
	int rc;

	snprintf(pid, sizeof(pid), "%d", (int)b->init_pid);
	snprintf(runas, sizeof(runas), "%u:%u", (unsigned)rootfs_host_uid(rt, 0),
		 (unsigned)rootfs_host_gid(rt, 0));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&child, rt->net_tool, &fa, NULL,
			 (char *const *)(strcmp(tool, "pasta") == 0 ? pasta : slirp), environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -rc;
	b->net_pid = child;
	return 0;
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
	b->net_pid = 0;
}
