/* The listening socket: TCP on a loopback (or, when allowed, any) address,
 * or a Unix domain socket. */
#ifndef SBXD_LISTEN_H
#define SBXD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Binds host:port with SO_REUSEADDR (so a restarted server gets its port
 * back at once) and listens.  Returns the fd or -errno with *err set
 * (malloc'd; the caller frees). */
/* Sets *err (when err is not NULL) to a malloc'd message, the caller's
 * to free; NULL if that fails.  Shared by the server's start-up. */
void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int listen_tcp(const char *host, uint16_t port, bool allow_remote, int backlog, char **err);

/* Binds a Unix socket at `path`, mode 0600, and listens.  A stale socket
 * left by a server that died is replaced; a live one, or any other file,
 * is an error (-EADDRINUSE / -EEXIST). */
int listen_unix(const char *path, int backlog, char **err);

/* The address of a listening socket for messages, "http://HOST:PORT" or
 * "unix:PATH", into out; returns the TCP port, 0 for a Unix socket. */
uint16_t listen_describe(int fd, char *out, size_t outlen);

#endif
