/* The private local sbxd of a mount with no backend configured. */
#ifndef SBXFS_EMBEDDED_H
#define SBXFS_EMBEDDED_H

#include "config/backend.h"

struct sbxd;

/* Zero it with listen_fd = -1 before use; embedded_stop() frees it all. */
struct embedded {
	struct sbxd *sbxd;          /* the running server, or NULL */
	int listen_fd;              /* its socket until started, or -1 */
	char *sock_dir;             /* the private 0700 directory, or NULL */
	char *sock_path;            /* the socket in it; both malloc'd */
	char *shown_url;            /* "unix:PATH", for messages and the status */
};

/* Before the fork: makes the socket, and points b (key, url) and the HTTP
 * client at it.  Says why on stderr and returns -1 on failure. */
int embedded_setup(struct embedded *e, struct backend *b);
/* In the daemon: starts sbxd on the socket (it owns it from then on),
 * sandboxes getting `timeout` seconds by default.  Logs and returns -1 on
 * failure. */
int embedded_start(struct embedded *e, const struct backend *b, int timeout,
		   const char *runtime);
/* "unix:PATH" once set up, else NULL. */
const char *embedded_url(const struct embedded *e);
/* Stops the server and removes the socket and its directory. */
void embedded_stop(struct embedded *e);

#endif
