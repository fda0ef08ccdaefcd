/* List query parsing and page tokens; see query.h. */
#include "api/query.h"

#include "common/rfc3339.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens look random so clients treat them as opaque, and carry a check
 * so a mangled one is a 400 rather than a silently wrong page. */
#define TOKEN_MASK 0x5bd1e9955bd1e995ULL

static uint32_t token_check(uint64_t v)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 8; i++)
		h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

void q_token_encode(uint64_t cursor, char *out, size_t outlen)
{
	uint64_t v = cursor ^ TOKEN_MASK;

	snprintf(out, outlen, "%016" PRIx64 "%08" PRIx32, v, token_check(v));
}

int q_token_decode(const char *token, uint64_t *cursor)
{
	char hi[17];
	uint64_t v;
	uint32_t check;

	if (strlen(token) != 24 || strspn(token, "0123456789abcdef") != 24)
		return -EINVAL;
	memcpy(hi, token, 16);
	hi[16] = '\0';
	v = strtoull(hi, NULL, 16);
	check = (uint32_t)strtoul(token + 16, NULL, 16);
	if (check != token_check(v) || (v ^ TOKEN_MASK) == 0)
		return -EINVAL;
	*cursor = v ^ TOKEN_MASK;
	return 0;
}

static int bad(char *err, size_t errlen, const char *msg, const char *what)
{
	snprintf(err, errlen, msg, what);
	return -EINVAL;
}

static int parse_states(const char *s, unsigned *out, char *err, size_t errlen)
{
	char buf[256];
	char *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return bad(err, errlen, "%s", "state is too long");
	snprintf(buf, sizeof(buf), "%s", s);
	*out = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "running") == 0)
			*out |= REG_RUNNING;
		else if (strcmp(t, "paused") == 0)
			*out |= REG_PAUSED;
		else
			return bad(err, errlen, "invalid state '%.64s' (running or paused)", t);
	}
	if (!*out)
		return bad(err, errlen, "%s", "state must list running and/or paused");
	return 0;
}

/* "k=v&k2=v2" with each key and value URL-encoded. */
static int parse_metadata(const char *s, json_t **out, char *err, size_t errlen)
{
	char *buf = strdup(s), *save = NULL;
	json_t *obj = json_object();
	int rc = 0;

	if (!buf || !obj) {
		rc = -ENOMEM;
		goto out;
	}
	for (char *t = strtok_r(buf, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(t, '=');

		if (!eq || eq == t) {
			rc = bad(err, errlen, "%s", "metadata must be key=value pairs joined by &");
			goto out;
		}
		*eq = '\0';
		if (util_url_decode(t) < 0 || util_url_decode(eq + 1) < 0) {
			rc = bad(err, errlen, "%s", "metadata has a malformed %-escape");
			goto out;
		}
		if (json_object_set_new(obj, t, json_string(eq + 1)) < 0) {
			rc = bad(err, errlen, "%s", "metadata keys and values must be UTF-8");
			goto out;
		}
	}
out:
	free(buf);
	if (rc < 0) {
		json_decref(obj);
		obj = NULL;
	}
	*out = obj;
	return rc;
}

static int parse_limit(const char *s, unsigned *out, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n == 0 || n > 3 || strspn(s, "0123456789") != n || atoi(s) < 1 || atoi(s) > 100)
		return bad(err, errlen, "%s", "limit must be an integer between 1 and 100");
	*out = (unsigned)atoi(s);
	return 0;
}

int q_parse_list(const struct list_params *p, int v2, struct list_query *q,
		 char *err, size_t errlen)
{
	struct reg_filter *f = &q->filter;

	memset(q, 0, sizeof(*q));
	f->started_after_ms = INT64_MIN;
	f->states = v2 ? REG_RUNNING | REG_PAUSED : REG_RUNNING;
	if (p->metadata && parse_metadata(p->metadata, &q->metadata, err, errlen) < 0)
		goto fail;
	f->metadata = q->metadata;
	if (p->template_name && *p->template_name)
		f->template_name = p->template_name;
	if (!v2)
		return 0;
	f->limit = 100;
	if (p->state && parse_states(p->state, &f->states, err, errlen) < 0)
		goto fail;
	if (p->limit && parse_limit(p->limit, &f->limit, err, errlen) < 0)
		goto fail;
	if (p->next_token && *p->next_token && q_token_decode(p->next_token, &f->cursor) < 0) {
		bad(err, errlen, "%s", "invalid nextToken");
		goto fail;
	}
	if (p->order && strcmp(p->order, "desc") != 0) {
		if (strcmp(p->order, "asc") != 0) {
			bad(err, errlen, "%s", "order must be asc or desc");
			goto fail;
		}
		f->ascending = 1;
	}
	if (p->started_after && rfc3339_parse(p->started_after, &f->started_after_ms) < 0) {
		bad(err, errlen, "%s", "startedAfter must be an RFC 3339 timestamp");
		goto fail;
	}
	return 0;
fail:
	q_list_free(q);
	return -EINVAL;
}

void q_list_free(struct list_query *q)
{
	json_decref(q->metadata);
	memset(q, 0, sizeof(*q));
}
