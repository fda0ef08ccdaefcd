/* What envd's modules share: the sandbox a call works in and the reply
 * helpers.  Private to envd/. */
#ifndef SBXD_ENVD_PRIV_H
#define SBXD_ENVD_PRIV_H

#include "envd/entry.h"
#include "envd/envd.h"

#include <jansson.h>

/* One call's view of its sandbox, valid for the call. */
struct envd_box {
	char id[65];
	int root;                       /* O_PATH of the sandbox's "/" */
	struct envd_users users;
	const char *user;               /* "user" or "root" (static) */
	uid_t uid;                      /* the chosen user's host ids */
	gid_t gid;
	const char *home;               /* static, from the backend */
	int64_t disk_bytes;             /* the quota; 0: none */
	struct usage *usage;            /* what the sandboxes' files take */
	struct envd_backend be;         /* a copy, for exec */
};

/* Replies; each takes ownership of what it is given. */
void out_json(struct envd_out *out, int status, json_t *o);
/* {"code": status, "message": ...}, envd's plain HTTP errors. */
void out_http_error(struct envd_out *out, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* {"code": "<connect code>", "message": ...} with the code's status. */
void out_cx_error(struct envd_out *out, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool out_add_header(struct envd_out *out, const char *name, const char *value);

struct estream;
struct procs;
struct watchers;

/* A server stream reply: HTTP 200 and the envelopes of `s` (a reference
 * is taken). */
void out_stream(struct envd_out *out, struct estream *s);
/* An error of a server stream: HTTP 200 and one end-of-stream envelope. */
void out_stream_error(struct envd_out *out, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A new stream for a producer thread (its reference in *s), counted
 * against the limit and dropped at shutdown.  0 or -EAGAIN (limit),
 * -ENOMEM. */
int envd_stream_begin(struct envd *e, struct estream **s);
/* The producer is done with s (it has ended it). */
void envd_stream_done(struct envd *e, struct estream *s);

/* WatchDir: a stream fed by a watch thread (watchrpc.c). */
void watch_stream(struct envd *e, const struct envd_box *b, const json_t *req,
		  int keepalive_ms, int64_t deadline_ns, struct envd_out *out);
/* The polled watchers' table and methods (CreateWatcher, ...). */
struct watchers *watchers_new(void);
void watchers_free(struct watchers *ws);
bool watchers_unary(struct watchers *ws, const struct envd_box *b, const char *name,
		    const json_t *req, struct envd_out *out);

/* A server stream's client settings. */
struct proc_stream {
	int keepalive_ms;
	int64_t deadline_ns;            /* 0: none */
};

/* The process table (proc.h) of envd, and where its events go. */
struct procs *envd_procs(struct envd *e);
struct sbxlog *envd_events(struct envd *e);
/* Process RPCs (procrpc.c): Start and Connect streams, the unary rest
 * (false: no such method). */
void proc_start(struct envd *e, const struct envd_box *b, const json_t *req,
		const struct proc_stream *ps, struct envd_out *out);
void proc_connect(struct envd *e, const struct envd_box *b, const json_t *req,
		  const struct proc_stream *ps, struct envd_out *out);
bool proc_unary(struct envd *e, const struct envd_box *b, const char *name, const json_t *req,
		struct envd_out *out);

/* Filesystem RPCs (fsrpc.c): the unary method `name` on request `req`.
 * Returns false when there is no such method. */
bool fsrpc_unary(const struct envd_box *b, const char *name, const json_t *req,
		 struct envd_out *out);

#endif
