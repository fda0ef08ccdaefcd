/* api/: the E2B control-plane API sbxd serves.  The route table, request
 * bodies and query strings, the key check, the handlers that turn a routed,
 * authenticated, fully read request into a JSON reply, and the fault and
 * stats state its control routes expose.  Uses registry/ and base/; knows
 * nothing of the server that feeds it (http/), and no HTTP library types
 * beyond the connection handle used for query lookups. */
#ifndef SBXD_HANDLERS_H
#define SBXD_HANDLERS_H

#include "api/router.h"
#include "registry/sandbox.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct faults;
struct sbxlog;
struct reg;
struct rt;
struct slog;
struct stats;
struct tpl_store;

/* What the routes work on: parts the server owns, borrowed for the
 * server's lifetime.  Each part does its own locking. */
struct api_ctx {
	struct reg *reg;
	struct tpl_store *tpl;
	struct stats *stats;
	struct faults *faults;  /* NULL unless --faults */
	struct rt *rt;          /* what runs sandboxes; NULL: records only */
	const struct slog *log;
	unsigned max_sandboxes;
	unsigned max_timeout;
	unsigned default_timeout;
	struct sbxlog *logs;    /* lifecycle and process events; NULL: none */
	/* Live use of a sandbox for its metrics, or NULL (then all 0):
	 * returns 0 and fills *u, or -errno. */
	int (*usage)(void *ctx, const char *id, struct sbx_usage *u);
	void *usage_ctx;
};

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
void handlers_dispatch(struct api_ctx *s, const struct request *rq, struct reply *rp);

/* Sets an error reply {"code":status,"message":...}. */
void reply_error(struct reply *rp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Maps a registry error for sandbox `id` to its reply. */
void reply_reg_error(struct reply *rp, int rc, const char *id);

/* The stats key for a request: "METHOD /templated/path", or "other" for
 * paths (and methods) that match no route. */
void handlers_stats_key(const char *method, enum route_id id, char *out, size_t outlen);

/* All "METHOD /path" keys of the public API, for zero-initialised stats. */
const char *const *handlers_route_keys(size_t *n);

#endif
