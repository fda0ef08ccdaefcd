/* GET /sandboxes/{id}/metrics, /sandboxes/{id}/logs and
 * /v2/sandboxes/{id}/logs, in the shapes the SDKs and the E2B CLI read. */
#include "api/sbxdata.h"

#include "common/clock.h"
#include "common/rfc3339.h"
#include "registry/registry.h"
#include "registry/sbxlog.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *arg(const struct request *rq, const char *key)
{
	return rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key) : NULL;
}

/* A non-negative integer argument; `dflt` when absent, -1 when bad. */
static long long int_arg(const struct request *rq, const char *key, long long dflt)
{
	const char *v = arg(rq, key);
	char *end;
	long long n;

	if (!v)
		return dflt;
	n = strtoll(v, &end, 10);
	return end == v || *end || n < 0 ? -1 : n;
}

/* The sandbox's record, or a 404 reply. */
static json_t *record(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	json_t *o = NULL;

	if (reg_get(s->reg, rq->m->sandbox_id, SBX_VIEW_DETAIL, &o) < 0)
		reply_error(rp, 404, "sandbox \"%s\" not found", rq->m->sandbox_id);
	return o;
}

void h_metrics(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	long long start = int_arg(rq, "start", 0), end = int_arg(rq, "end", LLONG_MAX);
	int64_t now = clock_wall_ms();
	struct sbx_usage u = { 0 };
	char ts[RFC3339_LEN];
	json_t *o, *arr;

	if (start < 0 || end < 0)
		return reply_error(rp, 400, "start and end must be unix seconds");
	if (!(o = record(s, rq, rp)))
		return;
	if (s->usage)
		s->usage(s->usage_ctx, rq->m->sandbox_id, &u);
	arr = json_array();
	if (now / 1000 >= start && now / 1000 <= end)
		json_array_append_new(arr, json_pack(
			"{s:s, s:I, s:O, s:f, s:I, s:I, s:I, s:I, s:I}",
			"timestamp", rfc3339_format_s(now, ts), "timestampUnix",
			(json_int_t)(now / 1000), "cpuCount", json_object_get(o, "cpuCount"),
			"cpuUsedPct", u.cpu_used_pct, "memUsed", (json_int_t)u.mem_used,
			"memTotal", json_integer_value(json_object_get(o, "memoryMB")) << 20,
			"memCache", (json_int_t)u.mem_cache, "diskUsed", (json_int_t)u.disk_used,
			"diskTotal", json_integer_value(json_object_get(o, "diskSizeMB")) << 20));
	json_decref(o);
	rp->status = 200;
	rp->json = arr;
}

/* Known sandboxes, or gone ones that left logs, have logs. */
static bool has_logs(struct api_ctx *s, const char *id, const json_t *entries)
{
	json_t *o = NULL;

	if (json_array_size(entries))
		return true;
	if (reg_get(s->reg, id, SBX_VIEW_DETAIL, &o) < 0)
		return false;
	json_decref(o);
	return true;
}

/* One entry as the v2 SandboxLogEntry and its v1 "line". */
static json_t *entry(const json_t *e, json_t **line)
{
	char ts[RFC3339_LEN];
	json_t *l = json_deep_copy(json_object_get(e, "fields"));
	char *text;

	rfc3339_format_ms(json_integer_value(json_object_get(e, "timestampMs")), ts);
	json_object_set(l, "level", json_object_get(e, "level"));
	json_object_set(l, "logger", json_object_get(e, "logger"));
	json_object_set(l, "message", json_object_get(e, "message"));
	text = json_dumps(l, JSON_COMPACT);
	*line = json_pack("{s:s, s:s}", "timestamp", ts, "line", text ? text : "{}");
	free(text);
	json_decref(l);
	return json_pack("{s:s, s:O, s:O, s:O}", "timestamp", ts, "level",
			 json_object_get(e, "level"), "message", json_object_get(e, "message"),
			 "fields", json_object_get(e, "fields"));
}

void h_logs_v1(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	long long start = int_arg(rq, "start", 0), limit = int_arg(rq, "limit", 1000);
	struct sbxlog_query q = { start ? start : INT64_MIN, 0, 1, 0, NULL };
	json_t *es, *logs = json_array(), *entries = json_array(), *e;
	size_t i;

	if (start < 0 || limit < 0)
		return reply_error(rp, 400, "start and limit must be non-negative integers");
	q.limit = limit > 1000 || limit == 0 ? 1000 : (unsigned)limit;
	es = sbxlog_query(s->logs, rq->m->sandbox_id, &q);
	if (!has_logs(s, rq->m->sandbox_id, es)) {
		json_decref(es), json_decref(logs), json_decref(entries);
		return reply_error(rp, 404, "sandbox \"%s\" not found", rq->m->sandbox_id);
	}
	json_array_foreach(es, i, e) {
		json_t *line = NULL;

		json_array_append_new(entries, entry(e, &line));
		json_array_append_new(logs, line);
	}
	json_decref(es);
	rp->status = 200;
	rp->json = json_pack("{s:o, s:o}", "logs", logs, "logEntries", entries);
}

void h_logs_v2(struct api_ctx *s, const struct request *rq, struct reply *rp)
{
	long long cursor = int_arg(rq, "cursor", -2), limit = int_arg(rq, "limit", 1000);
	const char *dir = arg(rq, "direction"), *level = arg(rq, "level");
	struct sbxlog_query q = { cursor == -2 ? INT64_MIN : cursor, 0,
				  dir && !strcmp(dir, "forward"), level ? sbxlog_level(level) : 0,
				  arg(rq, "search") };
	json_t *es, *logs = json_array(), *e, *line;
	size_t i;

	if (cursor == -1 || limit < 0 || q.min_level < 0 ||
	    (dir && strcmp(dir, "forward") && strcmp(dir, "backward"))) {
		json_decref(logs);
		return reply_error(rp, 400, "bad cursor, limit, direction or level");
	}
	q.limit = limit > 1000 || limit == 0 ? 1000 : (unsigned)limit;
	es = sbxlog_query(s->logs, rq->m->sandbox_id, &q);
	if (!has_logs(s, rq->m->sandbox_id, es)) {
		json_decref(es), json_decref(logs);
		return reply_error(rp, 404, "sandbox \"%s\" not found", rq->m->sandbox_id);
	}
	json_array_foreach(es, i, e) {
		json_array_append_new(logs, entry(e, &line));
		json_decref(line);
	}
	json_decref(es);
	rp->status = 200;
	rp->json = json_pack("{s:o}", "logs", logs);
}
