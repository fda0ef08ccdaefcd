/* Sandboxes built from known values (after a create or an own change),
 * with the info.json they would have had from the server. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "model.h"
#include "model_priv.h"
#include "values.h"

static char *fields_json(const struct sbx_fields *f)
{
	json_t *o = json_object(), *m = json_object();
	char t[SBX_TIME_LEN];
	char *text = NULL;

	if (!o || !m)
		goto out;
	json_object_set_new(o, "sandboxID", json_string(f->id));
	json_object_set_new(o, "templateID", json_string(f->template_id));
	if (*f->alias)
		json_object_set_new(o, "alias", json_string(f->alias));
	if (*f->client_id)
		json_object_set_new(o, "clientID", json_string(f->client_id));
	if (f->started_at)
		json_object_set_new(o, "startedAt", json_string(sbx_format_time(f->started_at, t)));
	if (f->end_at)
		json_object_set_new(o, "endAt", json_string(sbx_format_time(f->end_at, t)));
	if (f->state != SBX_STATE_UNKNOWN)
		json_object_set_new(o, "state", json_string(sbx_state_name(f->state)));
	if (f->cpu_count)
		json_object_set_new(o, "cpuCount", json_integer(f->cpu_count));
	if (f->memory_mb)
		json_object_set_new(o, "memoryMB", json_integer(f->memory_mb));
	if (f->disk_size_mb)
		json_object_set_new(o, "diskSizeMB", json_integer(f->disk_size_mb));
	if (*f->envd_version)
		json_object_set_new(o, "envdVersion", json_string(f->envd_version));
	for (size_t i = 0; i < f->n_meta; i++)
		json_object_set_new(m, f->meta[i].key, json_string(f->meta[i].value));
	json_object_set(o, "metadata", m);
	text = json_dumps(o, JSON_INDENT(2));
out:
	json_decref(m);
	json_decref(o);
	return text;
}

static struct sbx *build_with_json(struct sbx_fields *f)
{
	char *json = fields_json(f);
	struct sbx *s;

	if (!json)
		return NULL;
	f->json = json;
	f->json_len = strlen(json);
	s = model_build(f);
	free(json);
	return s;
}

struct sbx *sbx_new(const char *id, const char *template_id, const char *alias,
		    enum sbx_state state, time_t started_at, time_t end_at,
		    const struct sbx_meta *meta, size_t n_meta)
{
	struct sbx_fields f = {
		.id = id, .template_id = template_id ? template_id : "",
		.alias = alias ? alias : "", .client_id = "", .envd_version = "",
		.state = state, .started_at = started_at, .end_at = end_at,
	};
	struct sbx_meta *sorted = NULL;
	struct sbx *s;

	if (!id)
		return NULL;
	if (meta && n_meta) {
		sorted = malloc(n_meta * sizeof(*sorted));
		if (!sorted)
			return NULL;
		memcpy(sorted, meta, n_meta * sizeof(*sorted));
		qsort(sorted, n_meta, sizeof(*sorted), model_meta_cmp);
		f.meta = sorted;
		f.n_meta = n_meta;
	}
	s = build_with_json(&f);
	free(sorted);
	return s;
}

static void fields_of(const struct sbx *s, struct sbx_fields *f)
{
	*f = (struct sbx_fields){
		.id = s->id, .template_id = s->template_id, .alias = s->alias,
		.client_id = s->client_id, .envd_version = s->envd_version,
		.state = s->state, .started_at = s->started_at, .end_at = s->end_at,
		.cpu_count = s->cpu_count, .memory_mb = s->memory_mb,
		.disk_size_mb = s->disk_size_mb, .meta = s->meta, .n_meta = s->n_meta,
		.partial = s->partial, .envd_access_token = s->creds.envd_access_token,
		.domain = s->creds.domain,
	};
}

/* The sandbox's JSON stays as it came (raw, or the text rendered from
 * known values) and the new state and end time override it when info.json
 * is rendered, once and only if someone reads it. */
struct sbx *sbx_with(const struct sbx *s, enum sbx_state state, time_t end_at)
{
	struct sbx_fields f;

	if (!s)
		return NULL;
	fields_of(s, &f);
	f.state = state;
	f.end_at = end_at;
	f.json = s->json_src;
	f.json_len = s->json_src_len;
	f.json_raw = true;
	f.json_overrides = true;
	return model_build(&f);
}
