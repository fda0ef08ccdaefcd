/* Route handlers; see handlers.h. */
#include "api/handlers.h"

#include "api/boxes.h"
#include "api/faults.h"
#include "api/query.h"
#include "api/reqbody.h"
#include "api/sbxdata.h"
#include "api/stats.h"
#include "base/util.h"
#include "common/clock.h"
#include "registry/registry.h"
#include "registry/sbxlog.h"
#include "registry/templates.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Default for POST /sandboxes/{id}/refreshes without a duration: the
 * spec's default sandbox timeout. */
#define REFRESH_DEFAULT_S 15

typedef void (*handler_fn)(struct api_ctx *s, const struct request *rq, struct reply *rp);

void reply_error(struct reply *rp, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote paths and IDs the client sent, which need not be
	 * UTF-8; jansson refuses such strings, and an error must always
	 * have its JSON body. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	json_decref(rp->json);
	rp->status = status;
	rp->json = json_pack("{s:i, s:s}", "code", status, "message", msg);
}

static void reply_json(struct reply *rp, int status, json_t *json)
{
	rp->status = status;
	rp->json = json;
}

void reply_reg_error(struct reply *rp, int rc, const char *id)
{
	switch (rc) {
	case -ENOENT:
		reply_error(rp, 404, "sandbox \"%s\" not found", id);
		break;
	case -ENOMEM:
		reply_error(rp, 500, "out of memory");
		break;
	case -ENOSPC: case -EDQUOT: case -EROFS: case -EIO: case -ETIMEDOUT:
		/* The journal could not commit: nothing changed. */
		reply_error(rp, 503, "state not saved, nothing changed: %s", strerror(-rc));
		break;
	default:
		reply_error(rp, 500, "internal error: %s", strerror(-rc));
	}
}

static void h_health(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	(void)s;
	(void)rq;
	rp->status = 200;
}

static void h_create(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	struct create_req req;
	struct tpl_info tpl;
	char err[256];
	json_t *out = NULL;

	if (rb_parse_create(rq->body, rq->body_len, s->default_timeout, s->max_timeout,
			    &req, err, sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	if (tpl_resolve(s->tpl, req.template_name, &tpl) < 0) {
		reply_error(rp, 400, "template \"%s\" not found", req.template_name);
		goto out;
	}
	struct sandbox_spec spec = {
		.template_id = tpl.id, .alias = tpl.alias, .envd_version = tpl.envd_version,
		.cpu_count = tpl.cpu_count, .memory_mb = tpl.memory_mb, .disk_mb = tpl.disk_mb,
		.timeout_s = req.timeout_s, .auto_pause = req.auto_pause,
		.allow_internet = req.allow_internet,
		.metadata = req.metadata, .env_vars = req.env_vars,
	};
	int rc = boxes_create(s, &spec, tpl.rootfs, &out, rp);
	if (rp->status) {
		/* the runtime's failure, replied */
	} else if (rc == -EAGAIN) {
		reply_error(rp, 429, "maximum number of concurrent sandboxes (%u) reached",
			    s->max_sandboxes);
	} else if (rc < 0) {
		reply_reg_error(rp, rc, "");
	} else {
		tpl_note_spawn(s->tpl, tpl.id, clock_wall_ms());
		sbxlog_add(s->logs, json_string_value(json_object_get(out, "sandboxID")), "info",
			   "lifecycleSvc", NULL, "Sandbox created from template %s", tpl.id);
		reply_json(rp, 201, out);
	}
out:
	rb_create_free(&req);
}

/* Collects every `state` argument: clients send both state=a,b and the
 * exploded state=a&state=b. */
struct state_acc {
	char buf[256];
	int overflow;
};

static enum MHD_Result collect_state(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct state_acc *acc = cls;
	size_t used = strlen(acc->buf);

	(void)kind;
	if (strcmp(key, "state") != 0 || !value)
		return MHD_YES;
	if (used + strlen(value) + 2 > sizeof(acc->buf)) {
		acc->overflow = 1;
		return MHD_NO;
	}
	snprintf(acc->buf + used, sizeof(acc->buf) - used, "%s%s", used ? "," : "", value);
	return MHD_YES;
}

static void h_list(struct api_ctx *s, const struct request *rq, struct reply *rp, int v2)
{
	struct list_params p;
	struct list_query q;
	struct state_acc states = { "", 0 };
	char err[256];
	json_t *arr;
	uint64_t next;

#define ARG(name) MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name)
	p.metadata = ARG("metadata");
	p.limit = ARG("limit");
	p.next_token = ARG("nextToken");
	p.order = ARG("order");
	p.started_after = ARG("startedAfter");
	p.template_name = ARG("template");
#undef ARG
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, collect_state, &states);
	p.state = states.buf[0] ? states.buf : NULL;
	if (states.overflow) {
		reply_error(rp, 400, "state is too long");
		return;
	}
	if (q_parse_list(&p, v2, &q, err, sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	if (reg_list(s->reg, &q.filter, &arr, &next) < 0) {
		reply_error(rp, 500, "out of memory");
	} else {
		reply_json(rp, 200, arr);
		if (v2 && next) {
			rp->hdr_name = "X-Next-Token";
			q_token_encode(next, rp->hdr_value, sizeof(rp->hdr_value));
		}
	}
	q_list_free(&q);
}

static void h_list_v1(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	h_list(s, rq, rp, 0);
}

static void h_list_v2(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	h_list(s, rq, rp, 1);
}

static void h_get(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	json_t *out;
	int rc = reg_get(s->reg, rq->m->sandbox_id, SBX_VIEW_DETAIL, &out);

	if (rc < 0)
		reply_reg_error(rp, rc, rq->m->sandbox_id);
	else
		reply_json(rp, 200, out);
}

static void h_kill(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	int rc = boxes_kill(s, rq->m->sandbox_id);

	if (rc < 0)
		return reply_reg_error(rp, rc, rq->m->sandbox_id);
	sbxlog_add(s->logs, rq->m->sandbox_id, "info", "lifecycleSvc", NULL, "Sandbox killed");
	rp->status = 204;
}

static void h_timeout(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	unsigned t;
	char err[256];

	if (rb_parse_timeout(rq->body, rq->body_len, s->max_timeout, &t, err, sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	int rc = reg_set_timeout(s->reg, rq->m->sandbox_id, t, clock_wall_ms());
	if (rc < 0)
		reply_reg_error(rp, rc, rq->m->sandbox_id);
	else
		rp->status = 204;
}

static void h_refresh(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	unsigned d;
	char err[256];

	if (rb_parse_refresh(rq->body, rq->body_len, REFRESH_DEFAULT_S, &d, err,
			     sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	int rc = reg_refresh(s->reg, rq->m->sandbox_id, d, clock_wall_ms());
	if (rc < 0)
		reply_reg_error(rp, rc, rq->m->sandbox_id);
	else
		rp->status = 204;
}

static void h_pause(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	char err[256];

	if (rb_parse_pause(rq->body, rq->body_len, err, sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	int rc = boxes_pause(s, rq->m->sandbox_id);
	if (rc == -EBUSY)
		reply_error(rp, 409, "sandbox \"%s\" is already paused", rq->m->sandbox_id);
	else if (rc < 0)
		reply_reg_error(rp, rc, rq->m->sandbox_id);
	else
		rp->status = 204;
	if (rc == 0)
		sbxlog_add(s->logs, rq->m->sandbox_id, "info", "lifecycleSvc", NULL, "Sandbox paused");
}

static void h_resume(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	unsigned t;
	char err[256];
	json_t *out;

	if (rb_parse_resume(rq->body, rq->body_len, s->default_timeout, s->max_timeout,
			    &t, err, sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	int rc = boxes_resume(s, rq->m->sandbox_id, t, &out);
	if (rc == -EBUSY)
		reply_error(rp, 409, "sandbox \"%s\" is already running", rq->m->sandbox_id);
	else if (rc < 0)
		reply_reg_error(rp, rc, rq->m->sandbox_id);
	else
		reply_json(rp, 201, out);
	if (rc == 0)
		sbxlog_add(s->logs, rq->m->sandbox_id, "info", "lifecycleSvc", NULL, "Sandbox resumed");
}

static void h_connect(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	unsigned t;
	char err[256];
	json_t *out;
	int resumed;

	if (rb_parse_connect(rq->body, rq->body_len, s->default_timeout, s->max_timeout, &t,
			     err, sizeof(err)) < 0) {
		reply_error(rp, 400, "%s", err);
		return;
	}
	int rc = boxes_connect(s, rq->m->sandbox_id, t, &out, &resumed);
	if (rc < 0)
		return reply_reg_error(rp, rc, rq->m->sandbox_id);
	if (resumed)
		sbxlog_add(s->logs, rq->m->sandbox_id, "info", "lifecycleSvc", NULL, "Sandbox resumed");
	reply_json(rp, resumed ? 201 : 200, out);
}

static void h_templates(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	(void)rq;
	reply_json(rp, 200, tpl_list_json(s->tpl));
}

static void h_stats_get(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	json_t *o = stats_json(s->stats);

	(void)rq;
	json_object_set_new(o, "sandboxes", json_integer((json_int_t)reg_count(s->reg)));
	json_object_set_new(o, "runtime", s->rt ? rt_info(s->rt) : json_pack("{s:s}", "kind",
									      "record"));
	reply_json(rp, 200, o);
}

static void h_stats_reset(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	(void)rq;
	stats_reset(s->stats);
	rp->status = 204;
}

static void h_faults_get(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	(void)rq;
	reply_json(rp, 200, faults_json(s->faults));
}

static void h_faults_set(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	char err[256];

	if (faults_set(s->faults, rq->body, rq->body_len, err, sizeof(err)) < 0)
		reply_error(rp, 400, "%s", err);
	else
		reply_json(rp, 200, faults_json(s->faults));
}

static void h_faults_clear(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	(void)rq;
	faults_clear(s->faults);
	rp->status = 204;
}

static const struct {
	enum route_id route;
	const char *method;
	handler_fn fn;
	const char *key;        /* stats key */
} table[] = {
	{ RT_HEALTH, "GET", h_health, "GET /health" },
	{ RT_SANDBOXES, "GET", h_list_v1, "GET /sandboxes" },
	{ RT_SANDBOXES, "POST", h_create, "POST /sandboxes" },
	{ RT_V2_SANDBOXES, "GET", h_list_v2, "GET /v2/sandboxes" },
	{ RT_V2_SANDBOXES, "POST", h_create, "POST /v2/sandboxes" },
	{ RT_SANDBOX, "GET", h_get, "GET /sandboxes/{id}" },
	{ RT_SANDBOX, "DELETE", h_kill, "DELETE /sandboxes/{id}" },
	{ RT_SANDBOX_TIMEOUT, "POST", h_timeout, "POST /sandboxes/{id}/timeout" },
	{ RT_SANDBOX_REFRESHES, "POST", h_refresh, "POST /sandboxes/{id}/refreshes" },
	{ RT_SANDBOX_PAUSE, "POST", h_pause, "POST /sandboxes/{id}/pause" },
	{ RT_SANDBOX_RESUME, "POST", h_resume, "POST /sandboxes/{id}/resume" },
	{ RT_SANDBOX_CONNECT, "POST", h_connect, "POST /sandboxes/{id}/connect" },
	{ RT_V2_SANDBOX_CONNECT, "POST", h_connect, "POST /v2/sandboxes/{id}/connect" },
	{ RT_SANDBOX_METRICS, "GET", h_metrics, "GET /sandboxes/{id}/metrics" },
	{ RT_SANDBOX_LOGS, "GET", h_logs_v1, "GET /sandboxes/{id}/logs" },
	{ RT_V2_SANDBOX_LOGS, "GET", h_logs_v2, "GET /v2/sandboxes/{id}/logs" },
	{ RT_TEMPLATES, "GET", h_templates, "GET /templates" },
	/* The server's own routes; never counted in the stats. */
	{ RT_SBXD_STATS, "GET", h_stats_get, NULL },
	{ RT_SBXD_STATS, "DELETE", h_stats_reset, NULL },
	{ RT_SBXD_FAULTS, "GET", h_faults_get, NULL },
	{ RT_SBXD_FAULTS, "POST", h_faults_set, NULL },
	{ RT_SBXD_FAULTS, "DELETE", h_faults_clear, NULL },
};

#define NTABLE (sizeof(table) / sizeof(*table))

static const char *route_keys[NTABLE];
static size_t nroute_keys;
static pthread_once_t route_keys_once = PTHREAD_ONCE_INIT;

static void fill_route_keys(void)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].key)
			route_keys[nroute_keys++] = table[i].key;
}

const char *const *handlers_route_keys(size_t *n)
{
	/* Servers may start concurrently (tests, embedders). */
	pthread_once(&route_keys_once, fill_route_keys);
	*n = nroute_keys;
	return route_keys;
}

static const char *const known_methods[] = {
	"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
};

void handlers_stats_key(const char *method, enum route_id id, char *out, size_t outlen)
{
	int known = 0;

	for (size_t i = 0; i < sizeof(known_methods) / sizeof(*known_methods); i++)
		known |= strcmp(method, known_methods[i]) == 0;
	if (id == RT_NONE || !known)
		snprintf(out, outlen, "other");
	else
		snprintf(out, outlen, "%s %s", method, router_template(id));
}

/* The Allow header value for a route: its methods, comma-separated. */
static void allowed_methods(enum route_id id, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].route == id)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s",
						 used ? ", " : "", table[i].method);
}

void handlers_dispatch(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	const struct route_match *m = rq->m;

	if (m->id == RT_NONE || (m->id == RT_SBXD_FAULTS && !s->faults)) {
		reply_error(rp, 404, "no such route: %s %s", rq->method, rq->path);
		return;
	}
	for (size_t i = 0; i < NTABLE; i++) {
		if (table[i].route != m->id || strcmp(table[i].method, rq->method) != 0)
			continue;
		if (strchr(router_template(m->id), '{') && !m->id_ok)
			reply_error(rp, 400, "invalid sandbox ID \"%s\": expected 1-64 letters,"
				    " digits, - or _", m->sandbox_id);
		else
			table[i].fn(s, rq, rp);
		return;
	}
	reply_error(rp, 405, "method %s not allowed on %s", rq->method, router_template(m->id));
	rp->hdr_name = "Allow";
	allowed_methods(m->id, rp->hdr_value, sizeof(rp->hdr_value));
}
