/* Metrics and log entries of a sandbox; see sbxdata.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/rfc3339.h"
#include "sbxdata.h"

/* Largest byte count taken from the server (2^62): any real one fits. */
#define COUNT_MAX 4611686018427387904.0

/* ---- metrics ----------------------------------------------------------- */

/* A non-negative count, integer or (as some servers send) a real. */
static int get_count(const json_t *o, const char *key, long long *out)
{
	const json_t *v = json_object_get(o, key);
	double d;

	if (!json_is_number(v))
		return -EPROTO;
	d = json_number_value(v);
	if (!(d >= 0 && d <= COUNT_MAX))
		return -EPROTO;
	*out = json_is_integer(v) ? (long long)json_integer_value(v) : (long long)d;
	return 0;
}

/* memUsed, or Novita's memUsedMiB scaled. */
static int get_bytes(const json_t *o, const char *key, const char *mib_key, long long *out)
{
	if (json_object_get(o, key) == NULL && json_object_get(o, mib_key) != NULL) {
		if (get_count(o, mib_key, out) < 0 || *out > (long long)(COUNT_MAX / 1048576))
			return -EPROTO;
		*out *= 1048576;
		return 0;
	}
	return get_count(o, key, out);
}

static int get_time(const json_t *o, int64_t *ms)
{
	const json_t *t = json_object_get(o, "timestamp");
	long long secs;

	if (json_is_string(t))
		return rfc3339_parse(json_string_value(t), ms) == 0 ? 0 : -EPROTO;
	if (t != NULL || get_count(o, "timestampUnix", &secs) < 0 || secs > INT64_MAX / 1000)
		return -EPROTO;
	*ms = (int64_t)secs * 1000;
	return 0;
}

static int metric_from_json(const json_t *o, struct sbx_metrics *m)
{
	const json_t *pct = json_object_get(o, "cpuUsedPct");

	if (!json_is_object(o) || !json_is_number(pct) || !isfinite(json_number_value(pct)))
		return -EPROTO;
	m->present = true;
	m->cpu_used_pct = json_number_value(pct);
	if (get_time(o, &m->timestamp_ms) < 0 || get_count(o, "cpuCount", &m->cpu_count) < 0 ||
	    get_bytes(o, "memUsed", "memUsedMiB", &m->mem_used) < 0 ||
	    get_bytes(o, "memTotal", "memTotalMiB", &m->mem_total) < 0 ||
	    get_count(o, "diskUsed", &m->disk_used) < 0 ||
	    get_count(o, "diskTotal", &m->disk_total) < 0)
		return -EPROTO;
	return 0;
}

int sbx_metrics_parse(const char *body, size_t len, struct sbx_metrics *out)
{
	json_t *arr = body ? json_loadb(body, len, 0, NULL) : NULL;
	struct sbx_metrics m;
	const json_t *e;
	size_t i;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(arr) || json_array_size(arr) > SBX_METRICS_MAX)
		r = -EPROTO;
	json_array_foreach(r == 0 ? arr : NULL, i, e) {
		memset(&m, 0, sizeof(m));
		if ((r = metric_from_json(e, &m)) < 0)
			break;
		if (!out->present || m.timestamp_ms >= out->timestamp_ms)
			*out = m;
	}
	if (r < 0)
		memset(out, 0, sizeof(*out));
	json_decref(arr);
	return r;
}

char *sbx_metrics_render(const struct sbx_metrics *m, size_t *len)
{
	char ts[RFC3339_LEN];
	char *out;
	int n;

	if (!m->present)
		n = asprintf(&out, "cpu_count=\ncpu_used_pct=\nmem_used=\nmem_total=\n"
			     "disk_used=\ndisk_total=\ntimestamp=\n");
	else
		n = asprintf(&out, "cpu_count=%lld\ncpu_used_pct=%.2f\nmem_used=%lld\n"
			     "mem_total=%lld\ndisk_used=%lld\ndisk_total=%lld\ntimestamp=%s\n",
			     m->cpu_count, m->cpu_used_pct, m->mem_used, m->mem_total,
			     m->disk_used, m->disk_total, rfc3339_format_s(m->timestamp_ms, ts));
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return out;
}

/* ---- logs -------------------------------------------------------------- */

/* s escaped onto f: at most SBX_LOG_TEXT_MAX bytes of it (then "..."). */
static void put_escaped(FILE *f, const char *s, size_t n, bool quoted)
{
	size_t cut = n > SBX_LOG_TEXT_MAX ? SBX_LOG_TEXT_MAX : n;

	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (quoted && c == '"')
			fputs("\\\"", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	if (cut < n)
		fputs("...", f);
}

static bool needs_quotes(const char *s, size_t n)
{
	return n == 0 || memchr(s, ' ', n) || memchr(s, '"', n) || memchr(s, '=', n);
}

/* A field's value as text: strings as they are, numbers and booleans as
 * JSON writes them, null skipped (NULL); anything else -EPROTO. */
static int scalar_text(const json_t *v, char *buf, size_t size, const char **s, size_t *n)
{
	*s = NULL;
	if (json_is_string(v)) {
		*s = json_string_value(v);
		*n = json_string_length(v);
	} else if (json_is_integer(v)) {
		*n = (size_t)snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		*s = buf;
	} else if (json_is_real(v)) {
		*n = (size_t)snprintf(buf, size, "%.17g", json_real_value(v));
		*s = buf;
	} else if (json_is_boolean(v)) {
		*s = json_is_true(v) ? "true" : "false";
		*n = strlen(*s);
	} else if (!json_is_null(v)) {
		return -EPROTO;
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A field key: printable, no space, '=' or '"', at most 128 bytes. */
static bool key_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 128)
		return false;
	for (; *k; k++)
		if ((unsigned char)*k <= 0x20 || *k == 0x7f || *k == '=' || *k == '"')
			return false;
	return true;
}

static int put_fields(FILE *f, const json_t *fields)
{
	const char *keys[SBX_LOG_FIELDS_MAX], *key, *s;
	char num[64];
	size_t nk = 0, n;
	json_t *v;

	if (!json_is_object(fields) || json_object_size(fields) > SBX_LOG_FIELDS_MAX)
		return -EPROTO;
	json_object_foreach((json_t *)fields, key, v) {
		if (!key_ok(key))
			return -EPROTO;
		keys[nk++] = key;
	}
	qsort(keys, nk, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < nk; i++) {
		if (scalar_text(json_object_get(fields, keys[i]), num, sizeof(num), &s, &n) < 0)
			return -EPROTO;
		if (s == NULL)
			continue;
		fprintf(f, " %s=", keys[i]);
		if (needs_quotes(s, n))
			fputc('"', f);
		put_escaped(f, s, n, needs_quotes(s, n));
		if (needs_quotes(s, n))
			fputc('"', f);
	}
	return 0;
}

/* A level: 1 to 16 ASCII letters, written in upper case. */
static int put_level(FILE *f, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 16 || json_string_length(v) != n)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (c < 'A' || c > 'Z')
			return -EPROTO;
		fputc(c, f);
	}
	return 0;
}

static int render_entry(const json_t *e, struct sbx_log_line *out)
{
	const json_t *msg = json_object_get(e, "message");
	const json_t *ts = json_object_get(e, "timestamp");
	const json_t *fields = json_object_get(e, "fields");
	char t[RFC3339_LEN];
	size_t size = 0;
	FILE *f;
	int r;

	if (!json_is_object(e) || !json_is_string(msg) || !json_is_string(ts) ||
	    rfc3339_parse(json_string_value(ts), &out->ts_ms) < 0)
		return -EPROTO;
	if ((f = open_memstream(&out->text, &size)) == NULL)
		return -ENOMEM;
	fprintf(f, "%s ", rfc3339_format_ms(out->ts_ms, t));
	r = put_level(f, json_object_get(e, "level"));
	if (r == 0) {
		fputc(' ', f);
		put_escaped(f, json_string_value(msg), json_string_length(msg), false);
		r = fields && !json_is_null(fields) ? put_fields(f, fields) : 0;
		fputc('\n', f);
	}
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	out->len = size;
	if (r < 0) {
		free(out->text);
		out->text = NULL;
	}
	return r;
}

void sbx_log_lines_free(struct sbx_log_line *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].text);
	free(v);
}

int sbx_logs_parse(const char *body, size_t len, struct sbx_log_line **out, size_t *n)
{
	json_t *o = body ? json_loadb(body, len, 0, NULL) : NULL;
	const json_t *logs = json_object_get(o, "logs"), *e;
	struct sbx_log_line *v = NULL;
	size_t i, k = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_object(o) || !json_is_array(logs) ||
	    json_array_size(logs) > SBX_LOGS_PAGE_MAX)
		r = -EPROTO;
	else if (json_array_size(logs) &&
		 (v = calloc(json_array_size(logs), sizeof(*v))) == NULL)
		r = -ENOMEM;
	json_array_foreach(r == 0 ? logs : NULL, i, e) {
		if ((r = render_entry(e, &v[k])) < 0)
			break;
		k++;
	}
	json_decref(o);
	if (r < 0) {
		sbx_log_lines_free(v, k);
		return r;
	}
	*out = v;
	*n = k;
	return 0;
}
