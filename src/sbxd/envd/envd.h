/* envd/: the in-sandbox API (what E2B's envd agent serves inside each
 * sandbox), served by sbxd on its own listener for every sandbox it runs:
 * /health, /files, the Connect filesystem.Filesystem and process.Process
 * services.  A request names its sandbox by header or Host (route.c); its
 * files are reached only through the runtime's root descriptor (path.c).
 *
 * Knows no HTTP library: http/ turns a request into a struct envd_in, feeds
 * the body in pieces and sends what struct envd_out says.  Uses registry/
 * (tokens and states) and a backend for roots and users (the runtime's
 * rt_root_open and rt_user, or a test's). */
#ifndef SBXD_ENVD_H
#define SBXD_ENVD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct reg;
struct sbx_usage;
struct sbxlog;
struct slog;
struct envd;
struct envd_call;

struct rt_exec_spec;
struct rt_proc;
struct rt_usage;

/* A started process, exactly runtime.h's rt_proc_* functions (the real
 * backend's table is made of them). */
struct envd_proc_ops {
	int (*pid)(const struct rt_proc *p);
	int (*stdin_fd)(const struct rt_proc *p);
	int (*stdout_fd)(const struct rt_proc *p);
	int (*stderr_fd)(const struct rt_proc *p);
	int (*pty_fd)(const struct rt_proc *p);
	int (*close_stdin)(struct rt_proc *p);
	int (*signal)(struct rt_proc *p, int sig);
	int (*resize)(struct rt_proc *p, unsigned short cols, unsigned short rows);
	int (*exit_fd)(const struct rt_proc *p);
	int (*status)(struct rt_proc *p, int *wstatus);
	void (*free)(struct rt_proc *p);
};

/* Where a sandbox's files and processes are.  Every function is
 * thread-safe and follows runtime.h's rt_root_open, rt_user and rt_exec;
 * exec NULL: the runtime runs no processes. */
struct envd_backend {
	int (*root_open)(void *ctx, const char *id);
	int (*user)(void *ctx, const char *id, const char *user, uid_t *uid, gid_t *gid,
		    const char **home);
	int (*exec)(void *ctx, const char *id, const struct rt_exec_spec *spec,
		    struct rt_proc **out, char *err, size_t errlen);
	const struct envd_proc_ops *proc;
	void *ctx;
	/* NULL: CPU and memory are not counted (their metrics show 0). */
	int (*usage)(void *ctx, const char *id, struct rt_usage *u);
};

struct rt;

/* The backend of runtime `rt` (borrowed; it must outlive envd's use):
 * roots and users from it, and processes when it runs them (bwrap). */
void envd_backend_rt(struct rt *rt, struct envd_backend *out);
/* Serves `rt`'s sandboxes: envd_set_backend of envd_backend_rt. */
void envd_use_runtime(struct envd *e, struct rt *rt);

/* What http/ extracts from a request; every pointer borrowed for the
 * call to envd_begin only (envd copies what it keeps).  NULL: absent. */
struct envd_in {
	const char *method;
	const char *path;               /* decoded, no query */
	const char *sandbox_id;         /* from route_sandbox_id() */
	const char *access_token;       /* X-Access-Token */
	const char *authorization;
	const char *content_type;
	const char *content_encoding;
	const char *content_length;
	const char *range;
	const char *q_path;             /* query path= (decoded) */
	const char *q_username;         /* query username= */
	const char *keepalive;          /* Keepalive-Ping-Interval */
	const char *timeout_ms;         /* Connect-Timeout-Ms */
	bool bad_query;                 /* a query value held a NUL */
};

#define ENVD_MAX_HEADERS 4

struct estream;

/* The reply.  At most one of: body (malloc'd, owned), fd (owned; `len`
 * bytes from `off`), stream (a reference: the envelopes of a server
 * stream, made as they come; see stream.h). */
struct envd_out {
	int status;
	const char *content_type;       /* static */
	char *body;
	size_t len;
	int fd;
	uint64_t off;
	struct estream *stream;
	struct { const char *name; char value[160]; } hdr[ENVD_MAX_HEADERS];
	int nhdr;
};

/* `reg`, `log` and `events` (process starts and exits go there; may be
 * NULL) are borrowed for envd's lifetime.  NULL on ENOMEM. */
struct envd *envd_new(struct reg *reg, struct slog *log, struct sbxlog *events);

/* What sandbox `id` uses, for its metrics (api_ctx's usage hook; ctx is
 * the envd): the disk its root takes; CPU and memory are 0 until the
 * runtime reports them.  0 or -errno. */
int envd_usage(void *ctx, const char *id, struct sbx_usage *u);
void envd_free(struct envd *e);

/* Ends every server stream and waits (10 s at most) for their threads;
 * call before the HTTP server stops, so no connection stays suspended. */
void envd_shutdown(struct envd *e);

/* Sets (or with NULL clears) where roots come from; copied.  Sandboxes
 * without a root (no backend, record runtime) answer every file call
 * with 502 as if not running. */
void envd_set_backend(struct envd *e, const struct envd_backend *b);

/* The sandbox a request is for: the E2b-Sandbox-Id or Novita-Sandbox-Id
 * header, else a Host "49983-<id>.<domain>".  Copies it into id (65
 * bytes) and returns true when the request is envd's at all. */
bool envd_route(const char *e2b_hdr, const char *novita_hdr, const char *host, char id[65]);

/* Starts a call.  Returns it (free with envd_call_free), or NULL with
 * *out set to the whole reply (auth, routing errors: nothing to read). */
struct envd_call *envd_begin(struct envd *e, const struct envd_in *in, struct envd_out *out);

/* Takes the next piece of the body.  Returns 0, or -errno once the call
 * failed (more body is then discarded; envd_end says why). */
int envd_body(struct envd_call *c, const char *data, size_t n);

/* The body is complete: does the work and fills *out. */
void envd_end(struct envd_call *c, struct envd_out *out);

void envd_call_free(struct envd_call *c);

/* Frees what *out owns (a reply that could not be sent). */
void envd_out_release(struct envd_out *out);

#endif
