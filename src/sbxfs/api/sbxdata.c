/* A sandbox's metrics and logs from the control plane (not its envd), for
 * MOUNT/<sbx>/metrics and MOUNT/<sbx>/logs: URLs and replies.  Both are
 * reads, retried as a GET (api.c's policy). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_priv.h"

/* How far back the metrics call looks for the newest sample: servers
 * sample every few seconds, and without a start some send every sample
 * since the sandbox started. */
#define METRICS_WINDOW_S 300

/* A 2xx reply whose body is unusable. */
static int bad_reply(struct api *a, const struct call *c, struct api_error *err, int status,
		     int r)
{
	return api_call_failed(a, c, err, status, r == -ENOMEM ? r : -EIO,
			       r == -ENOMEM ? "out of memory" : "bad reply: unexpected shape");
}

/* "{prefix}/sandboxes/{id}{suffix}", id escaped; malloc'd or NULL. */
static char *data_path(const char *prefix, const char *id, const char *suffix)
{
	char *eid = api_url_escape(id), *path;

	if (!eid)
		return NULL;
	if (asprintf(&path, "%s/sandboxes/%s%s", prefix, eid, suffix) < 0)
		path = NULL;
	free(eid);
	return path;
}

static int no_id(struct api_error *err)
{
	if (err) {
		memset(err, 0, sizeof(*err));
		err->err = -EINVAL;
		err->when = time(NULL);
		snprintf(err->message, sizeof(err->message), "no sandbox ID");
	}
	return -EINVAL;
}

int api_metrics(struct api *a, const char *id, struct sbx_metrics *out,
		struct api_error *err)
{
	struct call c = { API_OP_METRICS, "GET", NULL, NULL, NULL, 0 };
	struct http_response rs;
	char suffix[64];
	char *path;
	int r;

	memset(out, 0, sizeof(*out));
	if (!id || !*id)
		return no_id(err);
	snprintf(suffix, sizeof(suffix), "/metrics?start=%lld",
		 (long long)time(NULL) - METRICS_WINDOW_S);
	if (!(path = data_path("", id, suffix)))
		return -ENOMEM;
	c.path = path;
	r = api_call(a, &c, &rs, err);
	if (!r && (r = sbx_metrics_parse(rs.body, rs.len, out)) < 0)
		r = bad_reply(a, &c, err, (int)rs.status, r);
	http_response_clear(&rs);
	free(path);
	return r;
}

int api_logs(struct api *a, const char *id, int64_t cursor_ms, unsigned limit,
	     struct sbx_log_line **out, size_t *n, struct api_error *err)
{
	struct call c = { API_OP_LOGS, "GET", NULL, NULL, NULL, 0 };
	struct http_response rs;
	char suffix[96];
	char *path;
	int r;

	*out = NULL;
	*n = 0;
	if (!id || !*id)
		return no_id(err);
	if (limit == 0 || limit > 1000)
		limit = 1000;
	if (cursor_ms >= 0)
		snprintf(suffix, sizeof(suffix), "/logs?direction=forward&limit=%u&cursor=%" PRId64,
			 limit, cursor_ms);
	else
		snprintf(suffix, sizeof(suffix), "/logs?direction=forward&limit=%u", limit);
	if (!(path = data_path("/v2", id, suffix)))
		return -ENOMEM;
	c.path = path;
	r = api_call(a, &c, &rs, err);
	if (!r && (r = sbx_logs_parse(rs.body, rs.len, out, n)) < 0)
		r = bad_reply(a, &c, err, (int)rs.status, r);
	http_response_clear(&rs);
	free(path);
	return r;
}
