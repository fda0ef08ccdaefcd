/* The single-request sandbox calls (probe, get, create, kill, timeout,
 * pause, resume): their URLs, bodies and replies.  The retry policy is
 * api.c's, the paged listing api_list.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "api.h"
#include "api_priv.h"

int api_call(struct api *a, const struct call *c, struct http_response *rs,
		    struct api_error *err)
{
	char msg[sizeof(((struct api_error *)0)->message)];
	int status, r;

	if (err)
		memset(err, 0, sizeof(*err));
	r = api_call_attempts(a, c, rs, &status, msg, sizeof(msg));
	return r ? api_call_failed(a, c, err, status, r, msg) : 0;
}

/* A 2xx reply whose body is unusable. */
static int bad_reply(struct api *a, const struct call *c, struct api_error *err,
		     struct http_response *rs, int r, const char *why)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "bad reply: %.200s", why);
	r = api_call_failed(a, c, err, (int)rs->status, r, msg);
	http_response_clear(rs);
	return r;
}

/* "%-escapes" everything but RFC 3986 unreserved characters; malloc'd. */
char *api_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *p = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			*p++ = (char)ch;
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

/* "/sandboxes/{id}{suffix}", id escaped; malloc'd or NULL. */
static char *sandbox_path(const char *id, const char *suffix)
{
	char *eid = api_url_escape(id), *path;

	if (!eid)
		return NULL;
	if (asprintf(&path, "/sandboxes/%s%s", eid, suffix) < 0)
		path = NULL;
	free(eid);
	return path;
}

/* Bad arguments never reach the wire. */
static int bad_args(struct api_error *err, const char *what)
{
	if (err) {
		memset(err, 0, sizeof(*err));
		err->err = -EINVAL;
		err->when = time(NULL);
		snprintf(err->message, sizeof(err->message), "%s", what);
	}
	return -EINVAL;
}

/* ---- the calls ------------------------------------------------------------- */

int api_probe(struct api *a, struct api_error *err)
{
	const struct call c = { API_OP_PROBE, "GET", "/v2/sandboxes?limit=1", NULL, NULL, 0 };
	struct http_response rs;
	struct sbx **items;
	size_t n;
	char why[200];
	int r = api_call(a, &c, &rs, err);

	if (r)
		return r;
	r = sbx_list_from_json(rs.body, rs.len, &items, &n, why, sizeof(why));
	if (r)
		return bad_reply(a, &c, err, &rs, r, why);
	sbx_array_free(items, n);
	http_response_clear(&rs);
	return 0;
}

int api_get(struct api *a, const char *id, struct sbx **out, struct api_error *err)
{
	struct call c = { API_OP_GET, "GET", NULL, NULL, NULL, 0 };
	struct http_response rs;
	char why[200];
	char *path;
	int r;

	*out = NULL;
	if (!id || !*id)
		return bad_args(err, "no sandbox ID");
	if (!(path = sandbox_path(id, "")))
		return -ENOMEM;
	c.path = path;
	r = api_call(a, &c, &rs, err);
	if (!r) {
		r = sbx_parse(rs.body, rs.len, out, why, sizeof(why));
		if (r)
			r = bad_reply(a, &c, err, &rs, r, why);
	}
	http_response_clear(&rs);
	free(path);
	return r;
}

int api_create(struct api *a, const char *template_id, unsigned long timeout,
	       const char *name, struct sbx **out, struct api_error *err)
{
	struct call c = { API_OP_CREATE, "POST", "/sandboxes", NULL, NULL, 0 };
	struct sbx_meta meta = { SBX_NAME_KEY, name };
	struct http_response rs;
	json_t *req;
	char why[200];
	char *body;
	time_t now;
	int r;

	*out = NULL;
	if (!template_id || !*template_id)
		return bad_args(err, "no template");
	req = json_pack("{s:s}", "templateID", template_id);
	if (req && timeout)
		json_object_set_new(req, "timeout", json_integer((json_int_t)timeout));
	if (req && name)
		json_object_set_new(req, "metadata", json_pack("{s:s}", SBX_NAME_KEY, name));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return -ENOMEM;
	c.body = body;
	r = api_call(a, &c, &rs, err);
	if (!r) {
		now = time(NULL);
		r = sbx_parse_created(rs.body, rs.len, now, timeout ? now + (time_t)timeout : 0,
				      name ? &meta : NULL, name ? 1 : 0, out, why, sizeof(why));
		if (r)
			r = bad_reply(a, &c, err, &rs, r, why);
	}
	http_response_clear(&rs);
	free(body);
	return r;
}

/* A call on one sandbox whose reply body does not matter. */
static int simple_call(struct api *a, enum api_op op, const char *method, const char *id,
		       const char *suffix, const char *body, struct api_error *err)
{
	struct call c = { op, method, NULL, body, NULL, 0 };
	struct http_response rs;
	char *path;
	int r;

	if (!id || !*id)
		return bad_args(err, "no sandbox ID");
	if (!(path = sandbox_path(id, suffix)))
		return -ENOMEM;
	c.path = path;
	r = api_call(a, &c, &rs, err);
	http_response_clear(&rs);
	free(path);
	return r;
}

int api_kill(struct api *a, const char *id, struct api_error *err)
{
	return simple_call(a, API_OP_KILL, "DELETE", id, "", NULL, err);
}

int api_set_timeout(struct api *a, const char *id, unsigned long secs, struct api_error *err)
{
	char body[64];

	if (secs == 0)
		return bad_args(err, "timeout must be positive");
	snprintf(body, sizeof(body), "{\"timeout\":%lu}", secs);
	return simple_call(a, API_OP_TIMEOUT, "POST", id, "/timeout", body, err);
}

int api_pause(struct api *a, const char *id, struct api_error *err)
{
	return simple_call(a, API_OP_PAUSE, "POST", id, "/pause", "{}", err);
}

int api_resume(struct api *a, const char *id, unsigned long timeout, struct api_error *err)
{
	char body[64];

	if (timeout)
		snprintf(body, sizeof(body), "{\"timeout\":%lu}", timeout);
	else
		snprintf(body, sizeof(body), "{}");
	return simple_call(a, API_OP_RESUME, "POST", id, "/connect", body, err);
}
