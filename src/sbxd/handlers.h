/* The route handlers: turn a routed, authenticated, fully read request
 * into a reply.  No HTTP library types beyond the connection handle used
 * for query lookups. */
#ifndef SBXD_HANDLERS_H
#define SBXD_HANDLERS_H

#include "router.h"
#include "server.h"

#include <jansson.h>
#include <stddef.h>

struct MHD_Connection;

struct request {
	const char *method;
	const char *path;
	struct MHD_Connection *conn;
	const char *body;
	size_t body_len;
	const struct route_match *m;
};

struct reply {
	int status;
	json_t *json;           /* owned; NULL: empty body */
	const char *hdr_name;   /* one optional extra header */
	char hdr_value[64];
};

/* Runs the handler for rq (405 / 404 replies included). */
void handlers_dispatch(struct sbxd *s, const struct request *rq, struct reply *rp);

/* Sets an error reply {"code":status,"message":...}. */
void reply_error(struct reply *rp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The stats key for a request: "METHOD /templated/path", or "other" for
 * paths (and methods) that match no route. */
void handlers_stats_key(const char *method, enum route_id id, char *out, size_t outlen);

/* All "METHOD /path" keys of the public API, for zero-initialised stats. */
const char *const *handlers_route_keys(size_t *n);

#endif
