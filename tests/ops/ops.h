/* Helpers of the operations tests: a backend without the fixture's mount,
 * sbxfs and sbxd started the way a service manager or mount(8) would, and
 * a $NOTIFY_SOCKET to listen on. */
#ifndef SBXFS_TEST_OPS_H
#define SBXFS_TEST_OPS_H

#include <stdbool.h>
#include <sys/types.h>

/* Prepares M (temp dir, mountpoint, key file, templates) and starts the
 * in-process sbxd, like mnt_start() without the mount. */
void ops_backend(void);
/* Binds an AF_UNIX datagram socket at path ('@' = abstract); the fd. */
int notify_listen(const char *path);
/* Waits up to ms for a datagram containing want; the whole datagram in
 * buf.  False on timeout. */
bool notify_wait(int fd, const char *want, char *buf, size_t size, int ms);
/* Forks and execs argv with extra environment ("K=V", NULL-terminated),
 * stdout and stderr appended to M.logfile; the pid. */
pid_t spawn(const char *const *argv, const char *const *env);
/* Waits up to ms for pid; true and *status when it exited. */
bool wait_exit(pid_t pid, int *status, int ms);
/* True when M.dir is a mount point now. */
bool is_mounted(void);
/* Polls until path's contents contain want (up to ms). */
bool file_has(const char *path, const char *want, int ms);
/* True when the server has a sandbox whose sbxfs.name is name. */
bool rest_has_name(const char *name);
void ops_teardown(void);

#endif
