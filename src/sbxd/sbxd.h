/* sbxd: a local server for the E2B/Novita sandbox control-plane REST API.
 *
 * This is the library face of sbxd: the `sbxd` program is a thin main around
 * it, sbxfs embeds it when no backend is configured, and the tests run it
 * in-process.  Everything else in src/sbxd/ is private to the library.
 */
#ifndef SBXD_H
#define SBXD_H

#include <stdbool.h>
#include <stdint.h>

struct sbxd;

enum sbxd_log_level { SBXD_LOG_ERROR, SBXD_LOG_WARN, SBXD_LOG_INFO, SBXD_LOG_DEBUG };

/* Called from server threads; must be thread-safe.  `msg` has no newline. */
typedef void (*sbxd_log_fn)(void *ctx, enum sbxd_log_level level, const char *msg);

struct sbxd_config {
	/* Where to listen.  host NULL means "127.0.0.1"; port 0 picks a free
	 * port (read it back with sbxd_port()).  Ignored when listen_fd >= 0. */
	const char *host;
	uint16_t port;
	/* An already bound and listening socket to serve on, or -1.  Lets a
	 * caller bind before fork() and start the threads afterwards.
	 * sbxd_start takes it over: sbxd_stop closes it, and so does a failed
	 * sbxd_start. */
	int listen_fd;
	bool allow_remote;          /* permit a non-loopback host */
	/* Listen on a Unix domain socket at this path instead of TCP (host
	 * and port ignored); made mode 0600, removed by sbxd_stop.  A
	 * listen_fd may also be an AF_UNIX socket; its path is the caller's. */
	const char *unix_path;

	/* Serving (0: the default in parentheses; see sbxd(8)). */
	unsigned threads;           /* worker threads (8) */
	unsigned max_connections;   /* served at once; more get a 503 (4096) */
	unsigned max_per_ip;        /* per non-loopback peer (256) */
	unsigned request_timeout;   /* seconds to receive a request (10) */
	unsigned idle_timeout;      /* seconds a kept-alive connection may idle (60) */

	const char *api_key;        /* required; borrowed for the call only */
	const char *state_dir;      /* NULL: in-memory registry */
	const char *templates_file; /* NULL: only the built-in `base` */

	unsigned max_sandboxes;     /* 0: default 1000 */
	unsigned max_timeout;       /* seconds; 0: default 86400 */
	unsigned default_timeout;   /* seconds; 0: default 300 */
	bool faults;                /* enable the /sbxd/faults test API */

	/* What a sandbox is (see sbxd(8)): "record" (NULL: records only, no
	 * files, no processes), "dir" (a private root directory each),
	 * "bwrap" (isolated processes under bubblewrap; fails to start
	 * where it cannot run) or "auto" (bwrap where it runs, else record). */
	const char *runtime;
	/* With bwrap and sbxd running as root: the host uid of a sandbox's
	 * root; its `user` is this + 1000 (0: 1000000). */
	unsigned sandbox_uid;

	sbxd_log_fn log;            /* NULL: log to stderr */
	void *log_ctx;
	enum sbxd_log_level log_level;
};

/* Starts serving (threads included).  Raises the soft RLIMIT_NOFILE, up to
 * the hard one, to fit max_connections.  On failure returns NULL and, if err is
 * not NULL, sets *err to a malloc'd message the caller frees. */
struct sbxd *sbxd_start(const struct sbxd_config *cfg, char **err);

/* The TCP port actually bound; 0 on a Unix socket. */
uint16_t sbxd_port(const struct sbxd *s);

/* Re-reads the templates file and (if given) the key; used on SIGHUP.
 * Returns 0 or -errno. */
int sbxd_reload(struct sbxd *s, const char *new_api_key);

/* Stops the threads, closes the state database (every change is already
 * saved), frees everything. */
void sbxd_stop(struct sbxd *s);

#endif
