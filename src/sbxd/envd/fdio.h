/* Reads and writes on the non-blocking descriptors of processes. */
#ifndef SBXD_ENVD_FDIO_H
#define SBXD_ENVD_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* What fd holds now, at most max bytes: >0 bytes, -1 nothing yet
 * (EAGAIN), 0 at EOF or on an error. */
ssize_t fd_read_chunk(int fd, char *buf, size_t max);

/* Writes all of data within 5 s, polling while the fd is full.  0,
 * -ETIMEDOUT, or -errno. */
int fd_write_all(int fd, const char *data, size_t len);

#endif
