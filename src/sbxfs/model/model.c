/* The sandbox model: untrusted JSON in, one compact immutable struct out.
 *
 * A struct sbx is a single allocation: the struct, then its metadata array,
 * then every string (ids, metadata, the source of info.json) back to back,
 * so 10,000 sandboxes cost well under 10 MiB.  The one thing allocated
 * apart is info.json rendered from a listed sandbox's raw JSON, made on
 * first use (sbx_info_json) and freed with the sandbox. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jscan.h"
#include "model.h"
#include "model_priv.h"

#define SBX_ID_MAX 128          /* sandboxID, templateID */
#define SBX_FIELD_MAX 1024      /* alias, clientID, envdVersion, times, state */
#define SBX_META_KEY_MAX 1024
#define SBX_META_VALUE_MAX 65536



static void set_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static char *put_str(char **p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *at = *p;

	memcpy(at, s, n);
	*p += n;
	return at;
}

/* The one constructor: copies everything in f into one block. */
struct sbx *model_build(const struct sbx_fields *f)
{
	size_t size = sizeof(struct sbx) + f->n_meta * sizeof(struct sbx_meta);
	struct sbx *s;
	char *p;

	const char *token = f->envd_access_token ? f->envd_access_token : "";
	const char *domain = f->domain ? f->domain : "";

	size += strlen(f->id) + strlen(f->template_id) + strlen(f->alias) +
		strlen(f->client_id) + strlen(f->envd_version) + 5;
	size += strlen(token) + strlen(domain) + 2;
	for (size_t i = 0; i < f->n_meta; i++)
		size += strlen(f->meta[i].key) + strlen(f->meta[i].value) + 2;
	size += f->json_len + 2;   /* '\n' (rendered text only) and NUL */

	s = malloc(size);
	if (!s)
		return NULL;
	s->meta = f->n_meta ? (struct sbx_meta *)(s + 1) : NULL;
	p = (char *)(s + 1) + f->n_meta * sizeof(struct sbx_meta);
	s->id = put_str(&p, f->id);
	s->template_id = put_str(&p, f->template_id);
	s->alias = put_str(&p, f->alias);
	s->client_id = put_str(&p, f->client_id);
	s->envd_version = put_str(&p, f->envd_version);
	s->creds.envd_access_token = put_str(&p, token);
	s->creds.domain = put_str(&p, domain);
	for (size_t i = 0; i < f->n_meta; i++) {
		s->meta[i].key = put_str(&p, f->meta[i].key);
		s->meta[i].value = put_str(&p, f->meta[i].value);
	}
	s->json_src = p;
	memcpy(p, f->json, f->json_len);
	s->json_src_len = f->json_len;
	if (!f->json_raw)
		p[s->json_src_len++] = '\n';
	p[s->json_src_len] = '\0';
	s->json_raw = f->json_raw;
	s->json_overrides = f->json_overrides;
	s->info_memo = NULL;
	s->n_meta = f->n_meta;
	s->state = f->state;
	s->started_at = f->started_at;
	s->end_at = f->end_at;
	s->cpu_count = f->cpu_count;
	s->memory_mb = f->memory_mb;
	s->disk_size_mb = f->disk_size_mb;
	s->partial = f->partial;
	s->refs = 1;
	return s;
}

struct sbx *sbx_ref(struct sbx *s)
{
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void sbx_unref(struct sbx *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(s->info_memo);
		free(s);
	}
}

void sbx_array_free(struct sbx **items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++)
		sbx_unref(items[i]);
	free(items);
}

const char *sbx_meta_get(const struct sbx *s, const char *key)
{
	size_t lo = 0, hi;

	if (!s || !key)
		return NULL;
	hi = s->n_meta;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, s->meta[mid].key);

		if (c == 0)
			return s->meta[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- JSON -> fields ---------------------------------------------------- */

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A JSON string member, checked: a string (or absent/null when optional),
 * no NUL inside, at most max bytes.  *out is borrowed from obj, "" when
 * absent. */
static int get_str(const json_t *obj, const char *key, bool required, size_t max,
		   const char **out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	size_t len;

	*out = "";
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		set_why(why, whylen, "missing %s", key);
		return -EIO;
	}
	if (!json_is_string(v)) {
		set_why(why, whylen, "%s is not a string", key);
		return -EIO;
	}
	len = json_string_length(v);
	if (strlen(json_string_value(v)) != len) {
		set_why(why, whylen, "%s contains a NUL byte", key);
		return -EIO;
	}
	if (len > max) {
		set_why(why, whylen, "%s is too long (%zu bytes)", key, len);
		return -EIO;
	}
	*out = json_string_value(v);
	return 0;
}

static int get_id(const json_t *obj, const char *key, const char **out, char *why, size_t whylen)
{
	int r = get_str(obj, key, true, SBX_ID_MAX, out, why, whylen);

	if (r)
		return r;
	if (!**out || strchr(*out, '/') || has_control(*out)) {
		set_why(why, whylen, "%s is not a usable identifier", key);
		return -EIO;
	}
	return 0;
}

static int get_long(const json_t *obj, const char *key, long *out, char *why, size_t whylen)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t n;

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		set_why(why, whylen, "%s is not an integer", key);
		return -EIO;
	}
	n = json_integer_value(v);
	if (n < 0 || (uintmax_t)n > (uintmax_t)INT32_MAX) {
		set_why(why, whylen, "%s is out of range", key);
		return -EIO;
	}
	*out = (long)n;
	return 0;
}

static int get_time(const json_t *obj, const char *key, time_t *out, char *why, size_t whylen)
{
	const char *s;
	int r = get_str(obj, key, false, SBX_FIELD_MAX, &s, why, whylen);

	*out = 0;
	if (r || !*s)
		return r;
	if (sbx_parse_time(s, out) < 0) {
		set_why(why, whylen, "%s is not an RFC 3339 time", key);
		return -EIO;
	}
	return 0;
}

int model_meta_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sbx_meta *)a)->key, ((const struct sbx_meta *)b)->key);
}

/* Metadata as a sorted array of pointers borrowed from obj; *meta is
 * malloc'd (NULL when empty) and the caller frees it. */
static int get_meta(const json_t *obj, struct sbx_meta **meta, size_t *n,
		    char *why, size_t whylen)
{
	json_t *m = json_object_get(obj, "metadata");
	size_t i = 0;
	void *it;

	*meta = NULL;
	*n = 0;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m)) {
		set_why(why, whylen, "metadata is not an object");
		return -EIO;
	}
	if (json_object_size(m) == 0)
		return 0;
	*meta = calloc(json_object_size(m), sizeof(**meta));
	if (!*meta)
		return -ENOMEM;
	for (it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
		const char *k = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it);
		json_t *v = json_object_iter_value(it);

		if (strlen(k) != klen || klen == 0 || klen > SBX_META_KEY_MAX) {
			set_why(why, whylen, "metadata has an unusable key");
			goto bad;
		}
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) > SBX_META_VALUE_MAX) {
			set_why(why, whylen, "metadata value of \"%.64s\" is not a usable string", k);
			goto bad;
		}
		(*meta)[i].key = k;
		(*meta)[i].value = json_string_value(v);
		i++;
	}
	*n = i;
	qsort(*meta, i, sizeof(**meta), model_meta_cmp);
	return 0;
bad:
	free(*meta);
	*meta = NULL;
	return -EIO;
}

/* A credential: kept when it is a plain string, else none; it never
 * makes a sandbox unreadable (only a later agent call needs it).
 * Borrowed from obj. */
static const char *cred_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v) || json_string_length(v) > SBX_FIELD_MAX ||
	    has_control(s))
		return "";
	return s;
}

/* sbx_from_json(), keeping raw[0..raw_len) (obj's own text) as the source
 * of info.json when raw is not NULL, else rendering info.json now. */
static int from_json(const json_t *obj, const char *raw, size_t raw_len,
		     struct sbx **out, char *why, size_t whylen)
{
	struct sbx_fields f = { 0 };
	struct sbx_meta *meta = NULL;
	const char *state;
	char *json = NULL;
	int r;

	*out = NULL;
	if (!json_is_object(obj)) {
		set_why(why, whylen, "sandbox is not a JSON object");
		return -EIO;
	}
	if ((r = get_id(obj, "sandboxID", &f.id, why, whylen)) ||
	    (r = get_id(obj, "templateID", &f.template_id, why, whylen)) ||
	    (r = get_str(obj, "alias", false, SBX_FIELD_MAX, &f.alias, why, whylen)) ||
	    (r = get_str(obj, "clientID", false, SBX_FIELD_MAX, &f.client_id, why, whylen)) ||
	    (r = get_str(obj, "envdVersion", false, SBX_FIELD_MAX, &f.envd_version, why, whylen)) ||
	    (r = get_str(obj, "state", false, SBX_FIELD_MAX, &state, why, whylen)) ||
	    (r = get_time(obj, "startedAt", &f.started_at, why, whylen)) ||
	    (r = get_time(obj, "endAt", &f.end_at, why, whylen)) ||
	    (r = get_long(obj, "cpuCount", &f.cpu_count, why, whylen)) ||
	    (r = get_long(obj, "memoryMB", &f.memory_mb, why, whylen)) ||
	    (r = get_long(obj, "diskSizeMB", &f.disk_size_mb, why, whylen)) ||
	    (r = get_meta(obj, &meta, &f.n_meta, why, whylen)))
		goto out;
	f.state = sbx_state_from_api(state);
	f.meta = meta;
	f.envd_access_token = cred_str(obj, "envdAccessToken");
	f.domain = cred_str(obj, "domain");
	if (raw) {
		f.json = raw;
		f.json_len = raw_len;
		f.json_raw = true;
	} else {
		json = model_public_json(obj);
		if (!json) {
			r = -ENOMEM;
			goto out;
		}
		f.json = json;
		f.json_len = strlen(json);
	}
	*out = model_build(&f);
	r = *out ? 0 : -ENOMEM;
out:
	if (r == -ENOMEM)
		set_why(why, whylen, "out of memory");
	free(json);
	free(meta);
	return r;
}

int sbx_from_json(const json_t *obj, struct sbx **out, char *why, size_t whylen)
{
	return from_json(obj, NULL, 0, out, why, whylen);
}

/* Fills v[0..count) from the array root, each element's text being the
 * one jscan finds in body at its place: the parser has accepted the body,
 * so a mismatch is a bug in one of the two.  *done gets how many were
 * built (for the caller to free). */
static int list_items(json_t *root, const char *body, size_t len, struct sbx **v,
		      size_t count, size_t *done, char *why, size_t whylen)
{
	struct jscan scan;
	const char *raw;
	size_t raw_len;
	int r;

	jscan_init(&scan, body, len);
	for (*done = 0; *done < count; (*done)++) {
		char w[200] = "";

		if (jscan_next(&scan, &raw, &raw_len) != 1) {
			set_why(why, whylen, "item %zu: not found in the list's text", *done);
			return -EIO;
		}
		r = from_json(json_array_get(root, *done), raw, raw_len, &v[*done], w, sizeof(w));
		if (r) {
			set_why(why, whylen, "item %zu: %s", *done, w);
			return r;
		}
	}
	if (jscan_next(&scan, &raw, &raw_len) != 0) {
		set_why(why, whylen, "list text has more items than its JSON");
		return -EIO;
	}
	return 0;
}

int sbx_list_from_json(const char *body, size_t len, struct sbx ***items, size_t *n,
		       char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *root;
	struct sbx **v = NULL;
	size_t count, done = 0;
	int r = 0;

	*items = NULL;
	*n = 0;
	root = json_loadb(body ? body : "", len, 0, &jerr);
	if (!root) {
		set_why(why, whylen, "invalid JSON: %s", jerr.text);
		return -EIO;
	}
	if (!json_is_array(root)) {
		set_why(why, whylen, "list reply is not a JSON array");
		r = -EIO;
		goto out;
	}
	count = json_array_size(root);
	if (count && !(v = calloc(count, sizeof(*v)))) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = list_items(root, body ? body : "", len, v, count, &done, why, whylen)))
		goto out;
	*items = v;
	*n = count;
	v = NULL;
out:
	sbx_array_free(v, done);
	json_decref(root);
	return r;
}

static json_t *load_object(const char *body, size_t len, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *o = json_loadb(body ? body : "", len, 0, &jerr);

	if (!o) {
		set_why(why, whylen, "invalid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		set_why(why, whylen, "sandbox is not a JSON object");
		json_decref(o);
		return NULL;
	}
	return o;
}

int sbx_parse(const char *body, size_t len, struct sbx **out, char *why, size_t whylen)
{
	json_t *o = load_object(body, len, why, whylen);
	int r;

	*out = NULL;
	if (!o)
		return -EIO;
	r = sbx_from_json(o, out, why, whylen);
	json_decref(o);
	return r;
}

/* Sets key to value unless o has a non-null key already; consumes value. */
static void fill_in(json_t *o, const char *key, json_t *value)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		json_object_set_new(o, key, value);
	else
		json_decref(value);
}

int sbx_parse_created(const char *body, size_t len, time_t started_at, time_t end_at,
		      const struct sbx_meta *meta, size_t n_meta,
		      struct sbx **out, char *why, size_t whylen)
{
	json_t *o = load_object(body, len, why, whylen), *m;
	char t[SBX_TIME_LEN];
	int r;

	*out = NULL;
	if (!o)
		return -EIO;
	fill_in(o, "state", json_string("running"));
	if (started_at)
		fill_in(o, "startedAt", json_string(sbx_format_time(started_at, t)));
	if (end_at)
		fill_in(o, "endAt", json_string(sbx_format_time(end_at, t)));
	if (n_meta) {
		m = json_object();
		for (size_t i = 0; m && i < n_meta; i++)
			json_object_set_new(m, meta[i].key, json_string(meta[i].value));
		fill_in(o, "metadata", m);
	}
	r = sbx_from_json(o, out, why, whylen);
	json_decref(o);
	if (r == 0)
		(*out)->partial = true;
	return r;
}
