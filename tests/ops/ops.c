/* Helpers of the operations tests; see ops.h. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"
#include "ops.h"

void ops_backend(void)
{
	mnt_prepare("ops", &(struct mnt_opts){ .allow_log = true });
	mnt_backend_start();
}

int notify_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(len, sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa,
			  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0,
		     "bind %s: %s", path, strerror(errno));
	return fd;
}

bool notify_wait(int fd, const char *want, char *buf, size_t size, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, ms) == 1) {
		ssize_t n = recv(fd, buf, size - 1, 0);

		if (n < 0)
			return false;
		buf[n] = '\0';
		if (strstr(buf, want))
			return true;
	}
	return false;
}

pid_t spawn(const char *const *argv, const char *const *env)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(M.logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		unsetenv("NOVITA_API_KEY");
		unsetenv("E2B_API_KEY");
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

bool wait_exit(pid_t pid, int *status, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

bool is_mounted(void)
{
	struct stat a, b;

	return stat(M.dir, &a) == 0 && stat(M.tmp, &b) == 0 && a.st_dev != b.st_dev;
}

bool file_has(const char *path, const char *want, int ms)
{
	for (int i = 0; i <= ms / 20; i++) {
		char *t = slurp(path, NULL);
		bool has = t && strstr(t, want);

		free(t);
		if (has)
			return true;
		usleep(20 * 1000);
	}
	return false;
}

bool rest_has_name(const char *name)
{
	json_t *list = NULL, *s;
	size_t i;
	bool found = false;

	if (rest("GET", "/v2/sandboxes?state=running,paused&limit=100", NULL, &list) != 200)
		return false;
	json_array_foreach(list, i, s) {
		const char *n = json_string_value(json_object_get(json_object_get(s, "metadata"),
								  "sbxfs.name"));

		found = found || (n && strcmp(n, name) == 0);
	}
	json_decref(list);
	return found;
}

void ops_teardown(void)
{
	mnt_stop();
}
