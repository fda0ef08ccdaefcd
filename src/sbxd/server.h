/* The server's parts, shared by server.c (HTTP plumbing, start/stop) and
 * handlers.c (the routes).  Private to the library. */
#ifndef SBXD_SERVER_H
#define SBXD_SERVER_H

#include "auth.h"
#include "conns.h"
#include "faults.h"
#include "lifecycle.h"
#include "log.h"
#include "persist.h"
#include "registry.h"
#include "stats.h"
#include "templates.h"

#include <stdint.h>

struct MHD_Daemon;

struct sbxd {
	struct slog log;
	struct MHD_Daemon *mhd;
	uint16_t port;
	unsigned max_sandboxes;
	unsigned max_timeout;
	unsigned default_timeout;
	unsigned threads, max_connections, max_per_ip;
	unsigned request_timeout, idle_timeout;         /* seconds */
	char *unix_path;        /* the socket we made and remove; or NULL */
	char *templates_file;   /* NULL: built-in only */
	char *state_dir;        /* NULL: memory only */

	/* Each part below does its own locking. */
	struct auth *auth;
	struct tpl_store *tpl;
	struct reg *reg;
	struct stats *stats;
	struct faults *faults;  /* NULL unless --faults */
	struct lifecycle *life;
	struct persist *persist;
	struct conns *conns;
};

#endif
