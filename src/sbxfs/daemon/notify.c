/* Running as a service: the background daemon whose parent reports the
 * mount's real outcome, and sd_notify(3)'s readiness protocol. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify.h"
#include "util/log.h"

/* Sends state to the service manager: one datagram on the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a leading '@' is the abstract namespace), the
 * protocol of sd_notify(3).  Nothing happens when it is unset. */
void sd_notify_state(const char *path, const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (path == NULL)
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof(sa.sun_path)) {
		log_warn("ignoring NOTIFY_SOCKET %s: not a socket path", path);
		return;
	}
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("cannot notify %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Goes to the background.  Unlike fuse_daemonize(), the parent waits
 * until the mount answers and exits 0, or exits with the daemon's status
 * if it gives up first: so `mount /mnt/sbx` and a Type=forking unit see
 * the real outcome.  Returns 0 in the daemon, -1 when it cannot fork. */
int daemonize(int *ready_fd)
{
	int p[2], nul, status;
	ssize_t n;
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "sbxfs: pipe: %s\n", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "sbxfs: fork: %s\n", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status))
			_exit(WEXITSTATUS(status));
		_exit(1);
	}
	close(p[0]);
	*ready_fd = p[1];
	if (setsid() < 0 || chdir("/") < 0)
		log_warn("daemonize: %s", strerror(errno));
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, STDIN_FILENO);
		close(nul);
	}
	return 0;
}

/* The parent waits on ready_fd (see daemonize): one byte says the mount
 * answers. */
void tell_parent_ready(int *ready_fd)
{
	int nul;

	if (*ready_fd < 0)
		return;
	nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* Detach from the terminal now that there is nothing more to say
	 * on it; messages go to the log. */
	if (nul >= 0) {
		dup2(nul, STDOUT_FILENO);
		dup2(nul, STDERR_FILENO);
		close(nul);
	}
	if (write(*ready_fd, "", 1) != 1)
		log_warn("cannot tell the parent process that the mount is ready");
	close(*ready_fd);
	*ready_fd = -1;
}
