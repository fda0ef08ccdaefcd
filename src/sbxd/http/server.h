/* http/: sbxd's HTTP server.  microhttpd setup and its callbacks
 * (server.c), listening sockets (listen.c), connection limits, deadlines
 * and delayed replies (conns.c), faulted bodies (faultbody.c).  Reads a
 * request, routes it and hands it to api/; the only folder that sees
 * microhttpd's daemon.  Private to the library. */
#ifndef SBXD_SERVER_H
#define SBXD_SERVER_H

#include "api/auth.h"
#include "api/faults.h"
#include "api/handlers.h"
#include "api/stats.h"
#include "envd/envd.h"
#include "base/log.h"
#include "http/conns.h"
#include "registry/lifecycle.h"
#include "registry/persist.h"
#include "registry/registry.h"
#include "registry/templates.h"
#include "runtime/runtime.h"

#include <stdint.h>

struct MHD_Daemon;

struct sbxd {
	struct slog log;
	struct MHD_Daemon *mhd;
	uint16_t port;
	unsigned threads, max_connections, max_per_ip;
	unsigned request_timeout, idle_timeout;         /* seconds */
	char *unix_path;        /* the socket we made and remove; or NULL */
	char *templates_file;   /* NULL: built-in only */
	char *state_dir;        /* NULL: memory only */

	/* Each part below does its own locking. */
	struct auth *auth;
	struct api_ctx api;     /* registry, templates, stats, faults, limits */
	struct lifecycle *life;
	struct persist *persist;
	struct conns *conns;
	struct envd *envd;      /* the in-sandbox API on the same listener */
	struct rt *rt;          /* NULL only before load_parts */
};

/* The server's envd, for tests that give it a backend. */
struct envd *sbxd_envd(struct sbxd *s);

#endif
