/* Fault injection; see faults.h. */
#include "api/faults.h"

#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const body_names[] = {
	[FAULT_BODY_NONE] = NULL,
	[FAULT_BODY_TRUNCATED] = "truncated",
	[FAULT_BODY_NONJSON] = "nonjson",
	[FAULT_BODY_WRONGTYPE] = "wrongtype",
	[FAULT_BODY_OVERSIZE] = "oversize",
	[FAULT_BODY_DROP] = "drop",
	[FAULT_BODY_ENDLESS] = "endless",
};

struct faults {
	/* Guards every field: the config is swapped by /sbxd/faults while
	 * request threads decide (and consume `count`). */
	pthread_mutex_t lock;
	bool active;
	struct fault_action act;
	long count;             /* 0: until cleared */
	double share;
	char prefix[256];
	uint64_t rng;           /* xorshift state for `share` */
};

struct faults *faults_new(void)
{
	struct faults *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	pthread_mutex_init(&f->lock, NULL);
	if (util_random(&f->rng, sizeof(f->rng)) < 0 || f->rng == 0)
		f->rng = 0x9e3779b97f4a7c15ULL;
	return f;
}

void faults_free(struct faults *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int bad(char *err, size_t errlen, const char *msg, const char *key)
{
	snprintf(err, errlen, msg, key);
	return -EINVAL;
}

static int get_long(const json_t *v, const char *key, long min, long max, long *out,
		    char *err, size_t errlen)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(err, errlen, "%s must be an integer between %ld and %ld", key, min, max);
		return -EINVAL;
	}
	*out = (long)json_integer_value(v);
	return 0;
}

static int parse_body_kind(const json_t *v, enum fault_body *out, char *err, size_t errlen)
{
	const char *s = json_string_value(v);

	for (size_t i = 1; s && i < sizeof(body_names) / sizeof(*body_names); i++)
		if (strcmp(s, body_names[i]) == 0) {
			*out = (enum fault_body)i;
			return 0;
		}
	return bad(err, errlen, "%s must be one of truncated, nonjson, wrongtype, "
		   "oversize, drop, endless", "body");
}

/* Fills a new configuration from `o`; on error nothing is applied. */
static int parse_config(const json_t *o, struct faults *n, char *err, size_t errlen)
{
	const char *key;
	const json_t *v;
	long l;

	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "latency_ms") == 0) {
			if (get_long(v, key, 0, 600000, &n->act.latency_ms, err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(key, "status") == 0) {
			if (get_long(v, key, 0, 599, &l, err, errlen) < 0)
				return -EINVAL;
			if (l != 429 && l != 500 && l != 502 && l != 503 && l != 504)
				return bad(err, errlen, "%s must be 429, 500, 502, 503 or 504", key);
			n->act.status = (int)l;
		} else if (strcmp(key, "retry_after") == 0) {
			if (get_long(v, key, 0, 86400, &n->act.retry_after, err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(key, "body") == 0) {
			if (parse_body_kind(v, &n->act.body, err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(key, "count") == 0) {
			if (get_long(v, key, 0, 1000000000, &n->count, err, errlen) < 0)
				return -EINVAL;
		} else if (strcmp(key, "share") == 0) {
			if (!json_is_number(v) || json_number_value(v) < 0.0 ||
			    json_number_value(v) > 1.0)
				return bad(err, errlen, "%s must be a number between 0 and 1", key);
			n->share = json_number_value(v);
		} else if (strcmp(key, "cut_after_bytes") == 0) {
			if (get_long(v, key, 0, 1L << 40, &l, err, errlen) < 0)
				return -EINVAL;
			n->act.cut_after = l;
		} else if (strcmp(key, "path_prefix") == 0) {
			if (!json_is_string(v) || json_string_length(v) >= sizeof(n->prefix) ||
			    json_string_value(v)[0] != '/')
				return bad(err, errlen, "%s must be a path starting with /", key);
			snprintf(n->prefix, sizeof(n->prefix), "%s", json_string_value(v));
		} else {
			snprintf(err, errlen, "unknown field '%.64s'", key);
			return -EINVAL;
		}
	}
	return 0;
}

int faults_set(struct faults *f, const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	struct faults n = { .share = 1.0 };
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);

	n.act.retry_after = -1;
	n.act.cut_after = -1;
	if (!o) {
		snprintf(err, errlen, "malformed JSON: %s", jerr.text);
		return -EINVAL;
	}
	int rc = json_is_object(o) ? parse_config(o, &n, err, errlen)
				   : bad(err, errlen, "%s", "fault config must be a JSON object");
	json_decref(o);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&f->lock);
	f->active = true;
	f->act = n.act;
	f->count = n.count;
	f->share = n.share;
	memcpy(f->prefix, n.prefix, sizeof(f->prefix));
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void faults_clear(struct faults *f)
{
	pthread_mutex_lock(&f->lock);
	f->active = false;
	pthread_mutex_unlock(&f->lock);
}

json_t *faults_json(struct faults *f)
{
	json_t *o = json_object();

	pthread_mutex_lock(&f->lock);
	json_object_set_new(o, "active", json_boolean(f->active));
	if (f->active) {
		json_object_set_new(o, "latency_ms", json_integer(f->act.latency_ms));
		if (f->act.status)
			json_object_set_new(o, "status", json_integer(f->act.status));
		if (f->act.retry_after >= 0)
			json_object_set_new(o, "retry_after", json_integer(f->act.retry_after));
		if (f->act.body)
			json_object_set_new(o, "body", json_string(body_names[f->act.body]));
		if (f->act.cut_after >= 0)
			json_object_set_new(o, "cut_after_bytes", json_integer(f->act.cut_after));
		json_object_set_new(o, "count", json_integer(f->count));
		json_object_set_new(o, "share", json_real(f->share));
		json_object_set_new(o, "path_prefix", json_string(f->prefix));
	}
	pthread_mutex_unlock(&f->lock);
	return o;
}

static double next_unit(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

static bool decide(struct faults *f, const char *path, bool envd, struct fault_action *act)
{
	bool hit = false;

	pthread_mutex_lock(&f->lock);
	if (f->active && (f->act.cut_after >= 0) == envd &&
	    strncmp(path, f->prefix, strlen(f->prefix)) == 0 &&
	    (f->share >= 1.0 || next_unit(&f->rng) < f->share)) {
		hit = true;
		*act = f->act;
		if (f->count > 0 && --f->count == 0)
			f->active = false;
	}
	pthread_mutex_unlock(&f->lock);
	return hit;
}

bool faults_decide(struct faults *f, const char *path, struct fault_action *act)
{
	return decide(f, path, false, act);
}

bool faults_decide_envd(struct faults *f, const char *path, struct fault_action *act)
{
	return decide(f, path, true, act);
}
