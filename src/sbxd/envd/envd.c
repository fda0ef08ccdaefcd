/* envd's entry points: the sandbox lookup, auth, user and the dispatch to
 * files.c, upload.c and fsrpc.c; see envd.h. */
#include "envd/envd.h"

#include "envd/connect.h"
#include "envd/files.h"
#include "envd/priv.h"
#include "envd/route.h"
#include "base/log.h"
#include "base/util.h"
#include "common/buf.h"
#include "registry/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FS_PREFIX "/filesystem.Filesystem/"
#define PROC_PREFIX "/process.Process/"

struct envd {
	struct reg *reg;
	struct slog *log;
	pthread_mutex_t lock;           /* guards backend, swapped by tests */
	struct envd_backend backend;
	bool has_backend;
};

enum call_kind { CALL_UNARY, CALL_UPLOAD, CALL_COMPOSE };

struct envd_call {
	struct envd *e;
	struct envd_box box;
	enum call_kind kind;
	char method[64];                /* the RPC's method name */
	struct buf body;                /* unary and compose bodies, capped */
	struct upload *up;
};

/* ---- replies ---- */

void out_json(struct envd_out *out, int status, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	out->status = text ? status : 500;
	out->content_type = "application/json";
	out->body = text;
	out->len = text ? strlen(text) : 0;
}

void out_http_error(struct envd_out *out, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_json(out, status, json_pack("{s:i, s:s}", "code", status, "message", msg));
}

void out_cx_error(struct envd_out *out, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out_json(out, cx_code_status(code), cx_error_json(code, msg));
}

bool out_add_header(struct envd_out *out, const char *name, const char *value)
{
	if (out->nhdr >= ENVD_MAX_HEADERS)
		return false;
	out->hdr[out->nhdr].name = name;
	snprintf(out->hdr[out->nhdr].value, sizeof(out->hdr[0].value), "%s", value);
	out->nhdr++;
	return true;
}

void envd_out_release(struct envd_out *out)
{
	free(out->body);
	out->body = NULL;
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
}

/* ---- the server side ---- */

struct envd *envd_new(struct reg *reg, struct slog *log)
{
	struct envd *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->reg = reg;
	e->log = log;
	pthread_mutex_init(&e->lock, NULL);
	return e;
}

void envd_free(struct envd *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->lock);
	free(e);
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

/* An error of a server stream: HTTP 200, then the end-of-stream envelope
 * carrying it, as the Connect protocol wants. */
static void out_stream_error(struct envd_out *out, const char *code, const char *msg)
{
	size_t len = 0;

	out->body = (char *)cx_frame_end(code, msg, &len);
	out->len = out->body ? len : 0;
	out->status = out->body ? 200 : 500;
	out->content_type = "application/connect+json";
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
		out_stream_error(out, "unimplemented", "streams are not served yet");
		return false;
	}
	if (!is_unary_method(service, m)) {
		out_cx_error(out, "unimplemented", "no method %s", in->path);
		out->status = 404;
		return false;
	}
	if (!content_type_is(in->content_type, "application/json")) {
		out_cx_error(out, "invalid_argument", "unsupported content type: %s",
			     in->content_type ? in->content_type : "(none)");
		out->status = 415;
		return false;
	}
	if (!fs) {
		out_cx_error(out, "unimplemented", "processes need a runtime that runs them");
		return false;
	}
	snprintf(c->method, sizeof(c->method), "%s", m);
	c->kind = CALL_UNARY;
	return true;
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

void envd_end(struct envd_call *c, struct envd_out *out)
{
	json_t *req;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (c->kind == CALL_UPLOAD)
		return upload_finish(c->up, out);
	if (!(req = body_object(c, out, c->kind == CALL_COMPOSE)))
		return;
	if (c->kind == CALL_COMPOSE)
		files_compose(&c->box, req, out);
	else if (!fsrpc_unary(&c->box, c->method, req, out))
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
