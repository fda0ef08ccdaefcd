/* Maps request paths to routes.  Pure string work, no server state. */
#ifndef SBXD_ROUTER_H
#define SBXD_ROUTER_H

#include <stdbool.h>

enum route_id {
	RT_NONE = -1,
	RT_HEALTH,
	RT_SANDBOXES,           /* /sandboxes */
	RT_V2_SANDBOXES,        /* /v2/sandboxes */
	RT_SANDBOX,             /* /sandboxes/{id} */
	RT_SANDBOX_TIMEOUT,
	RT_SANDBOX_REFRESHES,
	RT_SANDBOX_PAUSE,
	RT_SANDBOX_RESUME,
	RT_SANDBOX_CONNECT,
	RT_V2_SANDBOX_CONNECT,  /* /v2/sandboxes/{id}/connect */
	RT_SANDBOX_METRICS,
	RT_SANDBOX_LOGS,
	RT_V2_SANDBOX_LOGS,     /* /v2/sandboxes/{id}/logs */
	RT_TEMPLATES,
	RT_SBXD_STATS,
	RT_SBXD_FAULTS,
	RT_COUNT
};

struct route_match {
	enum route_id id;
	/* The {id} path segment when the route has one.  `id_ok` is false
	 * for segments that cannot be a sandbox ID (odd characters, too
	 * long, "." or ".."): those get a 400 before any lookup. */
	char sandbox_id[65];
	bool id_ok;
};

/* Fills *m for `path` (already URL-decoded, no query).  Returns m->id. */
enum route_id router_match(const char *path, struct route_match *m);

/* The templated path of a route ("/sandboxes/{id}"), for stats and logs. */
const char *router_template(enum route_id id);

/* True for the server's own /sbxd/ routes (no stats, no faults). */
bool router_is_internal(const char *path);

/* True for the listing routes (a GET of a collection: its fault bodies
 * are arrays). */
bool router_is_list(const char *method, enum route_id id);

#endif
