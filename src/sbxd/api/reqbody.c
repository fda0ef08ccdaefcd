/* Request body validation; see reqbody.h.
 *
 * The spec declares no `additionalProperties: false` on any request schema
 * sbxd serves, so unknown fields are accepted (newer SDKs send fields this
 * server does not know); known fields must have the declared types. */
#include "api/reqbody.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Parses a body that must be one JSON object.  An empty body yields *out
 * NULL when `optional`, an error otherwise. */
static int parse_object(const char *body, size_t len, bool optional, json_t **out,
			char *err, size_t errlen)
{
	json_error_t jerr;

	*out = NULL;
	if (len == 0) {
		if (optional)
			return 0;
		return bad(err, errlen, "request body must be a JSON object");
	}
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return bad(err, errlen, "malformed JSON at line %d column %d: %s",
			   jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return bad(err, errlen, "request body must be a JSON object");
	}
	*out = root;
	return 0;
}

static int check_timeout(const json_t *v, const char *name, unsigned max,
			 unsigned *out, char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)max)
		return bad(err, errlen, "%s must be an integer between 0 and %u seconds",
			   name, max);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int check_bool(const json_t *o, const char *key, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v && !json_is_boolean(v))
		return bad(err, errlen, "%s must be a boolean", key);
	return 0;
}

static int check_string_map(const json_t *o, const char *key, char *err, size_t errlen)
{
	const json_t *m = json_object_get(o, key), *v;
	const char *k;

	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return bad(err, errlen, "%s must be an object of strings", key);
	json_object_foreach((json_t *)m, k, v)
		if (!json_is_string(v))
			return bad(err, errlen, "%s.%s must be a string", key, k);
	return 0;
}

static int check_string_array(const json_t *o, const char *key, char *err, size_t errlen)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (!a)
		return 0;
	if (!json_is_array(a))
		return bad(err, errlen, "%s must be an array of strings", key);
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return bad(err, errlen, "%s must be an array of strings", key);
	return 0;
}

static int check_network(const json_t *n, char *err, size_t errlen)
{
	const json_t *v;

	if (!n)
		return 0;
	if (!json_is_object(n))
		return bad(err, errlen, "network must be an object");
	if (check_bool(n, "allowPublicTraffic", err, errlen) < 0 ||
	    check_string_array(n, "allowOut", err, errlen) < 0 ||
	    check_string_array(n, "denyOut", err, errlen) < 0)
		return -EINVAL;
	v = json_object_get(n, "maskRequestHost");
	if (v && !json_is_string(v))
		return bad(err, errlen, "network.maskRequestHost must be a string");
	v = json_object_get(n, "egressProxy");
	if (v && !json_is_null(v) &&
	    (!json_is_object(v) || !json_is_string(json_object_get(v, "address"))))
		return bad(err, errlen, "network.egressProxy must be an object with an address");
	v = json_object_get(n, "rules");
	if (v && !json_is_object(v))
		return bad(err, errlen, "network.rules must be an object");
	return 0;
}

static int check_misc(const json_t *o, char *err, size_t errlen)
{
	const json_t *v, *m;
	size_t i;

	if (check_bool(o, "autoPause", err, errlen) < 0 ||
	    check_bool(o, "autoPauseMemory", err, errlen) < 0 ||
	    check_bool(o, "secure", err, errlen) < 0 ||
	    check_bool(o, "allow_internet_access", err, errlen) < 0 ||
	    check_string_map(o, "metadata", err, errlen) < 0 ||
	    check_string_map(o, "envVars", err, errlen) < 0 ||
	    check_network(json_object_get(o, "network"), err, errlen) < 0)
		return -EINVAL;
	v = json_object_get(o, "autoResume");
	if (v && (!json_is_object(v) || !json_is_boolean(json_object_get(v, "enabled"))))
		return bad(err, errlen, "autoResume must be an object with a boolean enabled");
	v = json_object_get(o, "mcp");
	if (v && !json_is_object(v) && !json_is_null(v))
		return bad(err, errlen, "mcp must be an object or null");
	v = json_object_get(o, "iam");
	if (v && !json_is_object(v))
		return bad(err, errlen, "iam must be an object");
	v = json_object_get(o, "volumeMounts");
	if (v && !json_is_array(v))
		return bad(err, errlen, "volumeMounts must be an array");
	json_array_foreach(v, i, m)
		if (!json_is_string(json_object_get(m, "name")) ||
		    !json_is_string(json_object_get(m, "path")))
			return bad(err, errlen, "volumeMounts[%zu] needs string name and path", i);
	return 0;
}

int rb_parse_create(const char *body, size_t len, unsigned default_timeout,
		    unsigned max_timeout, struct create_req *out,
		    char *err, size_t errlen)
{
	json_t *root;
	const json_t *v;

	memset(out, 0, sizeof(*out));
	if (parse_object(body, len, false, &root, err, errlen) < 0)
		return -EINVAL;
	v = json_object_get(root, "templateID");
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128) {
		bad(err, errlen, "templateID is required and must be a non-empty string");
		goto fail;
	}
	out->template_name = json_string_value(v);
	out->timeout_s = default_timeout;
	v = json_object_get(root, "timeout");
	if (v && check_timeout(v, "timeout", max_timeout, &out->timeout_s, err, errlen) < 0)
		goto fail;
	if (check_misc(root, err, errlen) < 0)
		goto fail;
	out->auto_pause = json_is_true(json_object_get(root, "autoPause"));
	v = json_object_get(root, "allow_internet_access");
	out->allow_internet = v ? json_is_true(v) : -1;
	v = json_object_get(root, "metadata");
	out->metadata = json_is_object(v) ? v : NULL;
	v = json_object_get(root, "envVars");
	out->env_vars = json_is_object(v) ? v : NULL;
	out->root = root;
	return 0;
fail:
	json_decref(root);
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

void rb_create_free(struct create_req *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

int rb_parse_timeout(const char *body, size_t len, unsigned max_timeout,
		     unsigned *timeout_s, char *err, size_t errlen)
{
	json_t *root;
	int rc;

	if (parse_object(body, len, false, &root, err, errlen) < 0)
		return -EINVAL;
	const json_t *v = json_object_get(root, "timeout");
	if (!v)
		rc = bad(err, errlen, "timeout is required");
	else
		rc = check_timeout(v, "timeout", max_timeout, timeout_s, err, errlen);
	json_decref(root);
	return rc;
}

int rb_parse_connect(const char *body, size_t len, unsigned default_timeout,
		     unsigned max_timeout, unsigned *timeout_s, char *err, size_t errlen)
{
	json_t *root;
	int rc;

	if (parse_object(body, len, true, &root, err, errlen) < 0)
		return -EINVAL;
	*timeout_s = default_timeout;
	rc = check_bool(root, "memory", err, errlen);
	const json_t *v = json_object_get(root, "timeout");
	if (rc == 0 && v)
		rc = check_timeout(v, "timeout", max_timeout, timeout_s, err, errlen);
	json_decref(root);
	return rc;
}

int rb_parse_refresh(const char *body, size_t len, unsigned default_s,
		     unsigned *duration_s, char *err, size_t errlen)
{
	json_t *root;
	int rc = 0;

	if (parse_object(body, len, true, &root, err, errlen) < 0)
		return -EINVAL;
	*duration_s = default_s;
	const json_t *v = json_object_get(root, "duration");
	if (v)
		rc = check_timeout(v, "duration", 3600, duration_s, err, errlen);
	json_decref(root);
	return rc;
}

int rb_parse_pause(const char *body, size_t len, char *err, size_t errlen)
{
	json_t *root;

	if (parse_object(body, len, true, &root, err, errlen) < 0)
		return -EINVAL;
	int rc = check_bool(root, "memory", err, errlen);
	json_decref(root);
	return rc;
}

int rb_parse_resume(const char *body, size_t len, unsigned default_timeout,
		    unsigned max_timeout, unsigned *timeout_s, char *err, size_t errlen)
{
	json_t *root;
	int rc;

	if (parse_object(body, len, true, &root, err, errlen) < 0)
		return -EINVAL;
	*timeout_s = default_timeout;
	rc = check_bool(root, "autoPause", err, errlen);
	const json_t *v = json_object_get(root, "timeout");
	if (rc == 0 && v)
		rc = check_timeout(v, "timeout", max_timeout, timeout_s, err, errlen);
	json_decref(root);
	return rc;
}
