/* envd's entry points: the sandbox lookup, auth, user and the dispatch to
 * files.c, upload.c and fsrpc.c; see envd.h. */
#include "envd/envd.h"

#include "runtime/runtime.h"

#include "envd/connect.h"
#include "envd/files.h"
#include "envd/path.h"
#include "envd/priv.h"
#include "envd/proc.h"
#include "envd/route.h"
#include "envd/stream.h"
#include "envd/usage.h"
#include "base/log.h"
#include "base/util.h"
#include "common/buf.h"
#include "common/clock.h"
#include "registry/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define FS_PREFIX "/filesystem.Filesystem/"
#define PROC_PREFIX "/process.Process/"

/* Server streams open at once, all sandboxes: each has a thread. */
#define MAX_STREAMS 256

struct envd {
	struct reg *reg;
	struct slog *log;
	struct sbxlog *events;
	struct watchers *watchers;
	struct procs *procs;
	struct usage *usage;
	pthread_mutex_t lock;           /* guards what follows */
	pthread_cond_t idle;            /* nstreams went to 0 */
	struct envd_backend backend;
	bool has_backend;
	bool stopping;
	struct estream *streams[MAX_STREAMS];
	unsigned nstreams;
};

enum call_kind { CALL_UNARY, CALL_STREAM, CALL_UPLOAD, CALL_COMPOSE };

struct envd_call {
	struct envd *e;
	struct envd_box box;
	enum call_kind kind;
	bool fs;                        /* filesystem (else process) service */
	char method[64];                /* the RPC's method name */
	int keepalive_ms;               /* streams: Keepalive-Ping-Interval */
	int64_t deadline_ns;            /* streams: Connect-Timeout-Ms; 0: none */
	struct buf body;                /* RPC and compose bodies, capped */
	struct upload *up;
};

/* ---- the server side ---- */

struct envd *envd_new(struct reg *reg, struct slog *log, struct sbxlog *events)
{
	struct envd *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->reg = reg;
	e->log = log;
	e->events = events;
	e->watchers = watchers_new();
	e->procs = procs_new(e);
	e->usage = usage_new(USAGE_TTL_MS);
	if (!e->watchers || !e->procs || !e->usage) {
		watchers_free(e->watchers);
		procs_free(e->procs);
		usage_free(e->usage);
		free(e);
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->idle, NULL);
	return e;
}

void envd_shutdown(struct envd *e)
{
	struct timespec dl;
	int rc = 0;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	/* Each producer sees its stream gone and ends within a poll. */
	for (unsigned i = 0; i < MAX_STREAMS; i++)
		if (e->streams[i])
			estream_drop(e->streams[i], true);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	while (e->nstreams && rc == 0)
		rc = pthread_cond_timedwait(&e->idle, &e->lock, &dl);
	pthread_mutex_unlock(&e->lock);
	if (rc)
		slog_error(e->log, "envd: %u stream(s) did not end", e->nstreams);
	/* The pumps stop (their processes are the runtime's to end). */
	procs_free(e->procs);
	e->procs = NULL;
}

struct procs *envd_procs(struct envd *e)
{
	return e->procs;
}

struct sbxlog *envd_events(struct envd *e)
{
	return e->events;
}

static bool get_backend(struct envd *e, struct envd_backend *b);

int envd_usage(void *ctx, const char *id, struct sbx_usage *u)
{
	struct envd *e = ctx;
	struct envd_backend be;
	int root;

	memset(u, 0, sizeof(*u));
	if (!get_backend(e, &be))
		return -EOPNOTSUPP;
	struct rt_usage ru;

	if ((root = be.root_open(be.ctx, id)) < 0)
		return root;
	u->disk_used = usage_get(e->usage, id, root);
	close(root);
	if (be.usage && be.usage(be.ctx, id, &ru) == 0) {
		u->cpu_used_pct = ru.cpu_pct;
		u->mem_used = (int64_t)ru.mem;
		u->mem_cache = (int64_t)ru.cache;
	}
	return 0;
}

void envd_free(struct envd *e)
{
	if (!e)
		return;
	watchers_free(e->watchers);
	procs_free(e->procs);
	usage_free(e->usage);
	pthread_cond_destroy(&e->idle);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int envd_stream_begin(struct envd *e, struct estream **out)
{
	struct estream *s = estream_new(1u << 20);
	int rc = -EAGAIN;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&e->lock);
	for (unsigned i = 0; i < MAX_STREAMS && rc < 0 && !e->stopping; i++)
		if (!e->streams[i]) {
			e->streams[i] = s;
			e->nstreams++;
			rc = 0;
		}
	pthread_mutex_unlock(&e->lock);
	if (rc < 0) {
		estream_unref(s);
		return rc;
	}
	*out = s;
	return 0;
}

void envd_stream_done(struct envd *e, struct estream *s)
{
	pthread_mutex_lock(&e->lock);
	for (unsigned i = 0; i < MAX_STREAMS; i++)
		if (e->streams[i] == s) {
			e->streams[i] = NULL;
			if (--e->nstreams == 0)
				pthread_cond_broadcast(&e->idle);
		}
	pthread_mutex_unlock(&e->lock);
	estream_unref(s);
}

void envd_set_backend(struct envd *e, const struct envd_backend *b)
{
	pthread_mutex_lock(&e->lock);
	e->has_backend = b != NULL;
	if (b)
		e->backend = *b;
	pthread_mutex_unlock(&e->lock);
}

static bool get_backend(struct envd *e, struct envd_backend *b)
{
	bool has;

	pthread_mutex_lock(&e->lock);
	has = e->has_backend;
	*b = e->backend;
	pthread_mutex_unlock(&e->lock);
	return has;
}

/* The hosted proxy's reply for a sandbox it cannot reach; the SDKs read
 * it as "not running". */
static void out_not_found(struct envd_out *out, const char *id)
{
	out_json(out, 502, json_pack("{s:s, s:s, s:i}", "sandboxId", id, "message",
				     "The sandbox was not found", "code", 502));
}

/* The sandbox's token, disk size and running state, from the registry. */
static int lookup(struct envd *e, const char *id, char token[65], int64_t *disk_bytes)
{
	json_t *o = NULL;
	int rc = *id ? reg_get(e->reg, id, SBX_VIEW_DETAIL, &o) : -ENOENT;

	if (rc < 0)
		return rc;
	const char *st = json_string_value(json_object_get(o, "state"));
	const char *tok = json_string_value(json_object_get(o, "envdAccessToken"));

	snprintf(token, 65, "%s", tok ? tok : "");
	*disk_bytes = json_integer_value(json_object_get(o, "diskSizeMB")) * 1024 * 1024;
	rc = st && strcmp(st, "running") == 0 ? 0 : -EAGAIN;
	json_decref(o);
	return rc;
}

/* Fills the box's root and users.  -ENOENT: unknown user; else -errno
 * of the backend (no root: the sandbox is not reachable). */
static int open_box(struct envd *e, const char *user, struct envd_box *b)
{
	struct envd_backend be;
	const char *h;
	int rc;

	if (!get_backend(e, &be))
		return -EOPNOTSUPP;
	b->be = be;
	if ((rc = be.user(be.ctx, b->id, "root", &b->users.root_uid, &b->users.root_gid, &h)) < 0 ||
	    (rc = be.user(be.ctx, b->id, "user", &b->users.user_uid, &b->users.user_gid, &h)) < 0)
		return rc == -ENOENT ? -ESRCH : rc;
	b->user = strcmp(user, "root") == 0 ? "root" : "user";
	if (*user && strcmp(user, "root") != 0 && strcmp(user, "user") != 0)
		return -ENOENT;
	if ((rc = be.user(be.ctx, b->id, b->user, &b->uid, &b->gid, &b->home)) < 0)
		return rc;
	b->root = be.root_open(be.ctx, b->id);
	return b->root < 0 ? (b->root == -ENOENT ? -ESRCH : b->root) : 0;
}

static bool is_rpc(const char *path)
{
	return strncmp(path, FS_PREFIX, strlen(FS_PREFIX)) == 0 ||
	       strncmp(path, PROC_PREFIX, strlen(PROC_PREFIX)) == 0;
}

/* Who and where, before any route: 502, 401 or 0. */
static bool admit(struct envd *e, const struct envd_in *in, struct envd_box *b,
		  struct envd_out *out)
{
	char token[65], user[64];
	bool rpc = is_rpc(in->path);
	int rc = lookup(e, in->sandbox_id, token, &b->disk_bytes);

	snprintf(b->id, sizeof(b->id), "%s", in->sandbox_id);
	b->usage = e->usage;
	if (rc < 0)
		return out_not_found(out, in->sandbox_id), false;
	if (!strcmp(in->path, "/health") && !strcmp(in->method, "GET")) {
		out->status = 204;
		out_add_header(out, "Cache-Control", "no-store");
		return false;
	}
	if (in->bad_query) {
		out_http_error(out, 400, "a query parameter holds a NUL byte");
		return false;
	}
	if (*token && (!in->access_token || !util_secure_equal(in->access_token, token))) {
		out_http_error(out, 401, "unauthorized access, please provide a valid access "
			       "token or method signing if supported");
		return false;
	}
	if (envd_user_from(in->authorization, rpc ? NULL : in->q_username, user,
			   sizeof(user)) < 0)
		user[0] = '?', user[1] = '\0';
	rc = open_box(e, user, b);
	if (rc == -ENOENT && rpc)
		out_cx_error(out, "unauthenticated", "invalid username: '%s'", user);
	else if (rc == -ENOENT)
		out_http_error(out, 401, "error looking up user '%s': unknown user", user);
	else if (rc < 0)
		out_not_found(out, in->sandbox_id);
	return rc == 0;
}

static bool content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';');
}

static bool is_stream_method(const char *service, const char *m)
{
	if (!strcmp(service, "filesystem"))
		return !strcmp(m, "WatchDir");
	return !strcmp(m, "Start") || !strcmp(m, "Connect") || !strcmp(m, "StreamInput");
}

static bool is_unary_method(const char *service, const char *m)
{
	static const char *const fs[] = { "Stat", "ListDir", "MakeDir", "Move", "Remove",
					  "CreateWatcher", "GetWatcherEvents", "RemoveWatcher" };
	static const char *const proc[] = { "List", "SendInput", "SendSignal", "CloseStdin",
					    "Update" };
	bool isfs = !strcmp(service, "filesystem");
	size_t n = isfs ? sizeof(fs) / sizeof(fs[0]) : sizeof(proc) / sizeof(proc[0]);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(m, isfs ? fs[i] : proc[i]))
			return true;
	return false;
}

/* Keepalive-Ping-Interval in ms: envd's 90 s when absent or bad, at
 * least a second. */
static int stream_keepalive_ms(const char *h)
{
	long v = h ? strtol(h, NULL, 10) : 0;

	return v >= 1 && v <= 3600 ? (int)v * 1000 : 90000;
}

static int64_t stream_deadline_ns(const char *h)
{
	long long ms = h ? strtoll(h, NULL, 10) : 0;

	if (ms <= 0 || ms > 366LL * 86400 * 1000)
		return 0;
	return clock_mono_ns() + ms * 1000000;
}

/* A Connect call of this kind to method m: checks its content type (415
 * otherwise) and records it in c. */
static bool rpc_admit(struct envd_call *c, const struct envd_in *in, struct envd_out *out,
		      const char *m, bool fs, enum call_kind kind)
{
	const char *want = kind == CALL_STREAM ? "application/connect+json" : "application/json";

	if (!content_type_is(in->content_type, want)) {
		out_cx_error(out, "invalid_argument", "unsupported content type: %s",
			     in->content_type ? in->content_type : "(none)");
		out->status = 415;
		return false;
	}
	snprintf(c->method, sizeof(c->method), "%s", m);
	c->fs = fs;
	c->kind = kind;
	return true;
}

static bool rpc_start(struct envd_call *c, const struct envd_in *in, struct envd_out *out)
{
	bool fs = !strncmp(in->path, FS_PREFIX, strlen(FS_PREFIX));
	const char *service = fs ? "filesystem" : "process";
	const char *m = in->path + strlen(fs ? FS_PREFIX : PROC_PREFIX);

	if (strcmp(in->method, "POST") != 0) {
		out_cx_error(out, "unimplemented", "%s %s: use POST", in->method, in->path);
		out->status = 405;
		return false;
	}
	if (is_stream_method(service, m)) {
		if (!rpc_admit(c, in, out, m, fs, CALL_STREAM))
			return false;
		c->keepalive_ms = stream_keepalive_ms(in->keepalive);
		c->deadline_ns = stream_deadline_ns(in->timeout_ms);
		return true;
	}
	if (!is_unary_method(service, m)) {
		out_cx_error(out, "unimplemented", "no method %s", in->path);
		out->status = 404;
		return false;
	}
	return rpc_admit(c, in, out, m, fs, CALL_UNARY);
}

/* GET /metrics as envd answers it (host/metrics.go): bytes unless _mib;
 * the disk is the sandbox's own (what its files take of its template's
 * diskSizeMB), as the control plane's metrics report it. */
static void metrics_get(struct envd *e, const struct envd_box *b, struct envd_out *out)
{
	struct sbx_usage u;
	json_t *o = NULL;
	int64_t mem = 0, cpus = 0;

	envd_usage(e, b->id, &u);
	if (reg_get(e->reg, b->id, SBX_VIEW_DETAIL, &o) == 0) {
		mem = json_integer_value(json_object_get(o, "memoryMB")) * 1024 * 1024;
		cpus = json_integer_value(json_object_get(o, "cpuCount"));
	}
	json_decref(o);
	out_json(out, 200, json_pack("{s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				     "ts", (json_int_t)(clock_wall_ms() / 1000),
				     "cpu_count", (json_int_t)cpus, "cpu_used_pct", u.cpu_used_pct,
				     "mem_total_mib", (json_int_t)(mem >> 20),
				     "mem_used_mib", (json_int_t)(u.mem_used >> 20),
				     "mem_total", (json_int_t)mem, "mem_used", (json_int_t)u.mem_used,
				     "mem_cache", (json_int_t)u.mem_cache,
				     "disk_used", (json_int_t)u.disk_used,
				     "disk_total", (json_int_t)b->disk_bytes));
	out_add_header(out, "Cache-Control", "no-store");
}

/* The routes after admission: a call to feed, or NULL and *out. */
static bool start_route(struct envd_call *c, const struct envd_in *in, struct envd_out *out)
{
	bool post = !strcmp(in->method, "POST");

	if (!strcmp(in->path, "/files") && !strcmp(in->method, "GET")) {
		files_get(&c->box, in, out);
		return false;
	}
	if (!strcmp(in->path, "/files") && post) {
		c->kind = CALL_UPLOAD;
		return (c->up = upload_new(&c->box, in, out)) != NULL;
	}
	if (!strcmp(in->path, "/metrics") && !strcmp(in->method, "GET")) {
		metrics_get(c->e, &c->box, out);
		return false;
	}
	if (!strcmp(in->path, "/files/compose") && post) {
		c->kind = CALL_COMPOSE;
		return true;
	}
	if (!is_rpc(in->path)) {
		out_http_error(out, strcmp(in->path, "/files") ? 404 : 405, "no route %s %s",
			       in->method, in->path);
		return false;
	}
	return rpc_start(c, in, out);
}

struct envd_call *envd_begin(struct envd *e, const struct envd_in *in, struct envd_out *out)
{
	struct envd_call *c = calloc(1, sizeof(*c));

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!c) {
		out_http_error(out, 500, "out of memory");
		return NULL;
	}
	c->e = e;
	c->box.root = -1;
	buf_init(&c->body, CX_MAX_MESSAGE);
	if (!admit(e, in, &c->box, out) || !start_route(c, in, out)) {
		envd_call_free(c);
		return NULL;
	}
	return c;
}

int envd_body(struct envd_call *c, const char *data, size_t n)
{
	if (c->kind == CALL_UPLOAD)
		return upload_feed(c->up, data, n);
	return buf_append(&c->body, data, n);
}

/* The JSON object of a unary body; NULL with *out set. */
static json_t *body_object(struct envd_call *c, struct envd_out *out, bool rest)
{
	json_error_t je;
	json_t *o;

	if (c->body.over) {
		if (rest)
			out_http_error(out, 413, "body larger than %u bytes", CX_MAX_MESSAGE);
		else
			out_cx_error(out, "resource_exhausted", "message larger than %u bytes",
				     CX_MAX_MESSAGE);
		return NULL;
	}
	o = c->body.len ? json_loadb(c->body.data, c->body.len, JSON_REJECT_DUPLICATES, &je)
			: json_object();
	if (!json_is_object(o)) {
		json_decref(o);
		if (rest)
			out_http_error(out, 400, "invalid JSON body");
		else
			out_cx_error(out, "invalid_argument", "invalid JSON message");
		return NULL;
	}
	return o;
}

/* A stream's request: one envelope; its errors go in the stream. */
static void stream_call(struct envd_call *c, struct envd_out *out)
{
	char err[256];
	json_t *req = NULL;
	int rc = c->body.over ? -EMSGSIZE
		: cx_request_message((const unsigned char *)(c->body.data ? c->body.data : ""),
				     c->body.len, &req, err, sizeof(err));

	if (rc < 0) {
		out_stream_error(out, rc == -EMSGSIZE ? "resource_exhausted" : "invalid_argument",
				 "%s", rc == -EMSGSIZE ? "message too large" : err);
		return;
	}
	struct proc_stream ps = { c->keepalive_ms, c->deadline_ns };

	if (c->fs)
		watch_stream(c->e, &c->box, req, c->keepalive_ms, c->deadline_ns, out);
	else if (!strcmp(c->method, "Start"))
		proc_start(c->e, &c->box, req, &ps, out);
	else if (!strcmp(c->method, "Connect"))
		proc_connect(c->e, &c->box, req, &ps, out);
	else
		out_stream_error(out, "unimplemented", "%s: client streams are not served",
				 c->method);
	json_decref(req);
}

void envd_end(struct envd_call *c, struct envd_out *out)
{
	json_t *req;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (c->kind == CALL_UPLOAD)
		return upload_finish(c->up, out);
	if (c->kind == CALL_STREAM)
		return stream_call(c, out);
	if (!(req = body_object(c, out, c->kind == CALL_COMPOSE)))
		return;
	if (c->kind == CALL_COMPOSE)
		files_compose(&c->box, req, out);
	else if (c->fs ? !fsrpc_unary(&c->box, c->method, req, out) &&
			 !watchers_unary(c->e->watchers, &c->box, c->method, req, out)
		       : !proc_unary(c->e, &c->box, c->method, req, out))
		out_cx_error(out, "unimplemented", "no method %s", c->method);
	json_decref(req);
}

void envd_call_free(struct envd_call *c)
{
	if (!c)
		return;
	upload_free(c->up);
	buf_release(&c->body);
	if (c->box.root >= 0)
		close(c->box.root);
	free(c);
}
