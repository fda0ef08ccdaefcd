/* JSON views of a sandbox; see sandbox.h. */
#include "registry/sandbox.h"

#include "common/rfc3339.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

void model_sandbox_free(struct sandbox *sb)
{
	if (!sb)
		return;
	free(sb->template_id);
	free(sb->alias);
	free(sb->envd_version);
	json_decref(sb->metadata);
	json_decref(sb->env_vars);
	free(sb);
}

struct sandbox *model_sandbox_from_spec(const struct sandbox_spec *spec)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	sb->template_id = strdup(spec->template_id);
	sb->alias = spec->alias && *spec->alias ? strdup(spec->alias) : NULL;
	sb->envd_version = strdup(spec->envd_version);
	sb->cpu_count = spec->cpu_count;
	sb->memory_mb = spec->memory_mb;
	sb->disk_mb = spec->disk_mb;
	sb->auto_pause = spec->auto_pause;
	sb->allow_internet = spec->allow_internet;
	sb->metadata = spec->metadata ? json_deep_copy(spec->metadata) : json_object();
	sb->env_vars = spec->env_vars ? json_deep_copy(spec->env_vars) : json_object();
	if (!sb->template_id || !sb->envd_version || !sb->metadata || !sb->env_vars ||
	    (spec->alias && *spec->alias && !sb->alias)) {
		model_sandbox_free(sb);
		return NULL;
	}
	return sb;
}

static void set_str(json_t *o, const char *key, const char *val)
{
	json_object_set_new(o, key, val ? json_string(val) : json_null());
}

json_t *model_sandbox_json(const struct sandbox *sb, enum sbx_view view)
{
	json_t *o = json_object();
	char started[32], end[32];

	if (!o)
		return NULL;
	set_str(o, "sandboxID", sb->id);
	set_str(o, "templateID", sb->template_id);
	if (sb->alias)
		set_str(o, "alias", sb->alias);
	set_str(o, "clientID", sb->client_id);
	set_str(o, "envdVersion", sb->envd_version);
	if (view == SBX_VIEW_SANDBOX) {
		set_str(o, "envdAccessToken", sb->envd_token);
		json_object_set_new(o, "trafficAccessToken", json_null());
		json_object_set_new(o, "domain", json_null());
		return o;
	}
	rfc3339_format_ms(sb->started_ms, started);
	rfc3339_format_ms(sb->end_ms, end);
	set_str(o, "startedAt", started);
	set_str(o, "endAt", end);
	set_str(o, "state", sb->paused ? "paused" : "running");
	json_object_set_new(o, "cpuCount", json_integer(sb->cpu_count));
	json_object_set_new(o, "memoryMB", json_integer(sb->memory_mb));
	json_object_set_new(o, "diskSizeMB", json_integer(sb->disk_mb));
	/* Copies, not references: the reply is used outside the registry lock. */
	json_object_set_new(o, "metadata", json_deep_copy(sb->metadata));
	if (view == SBX_VIEW_DETAIL) {
		set_str(o, "envdAccessToken", sb->envd_token);
		json_object_set_new(o, "domain", json_null());
		json_object_set_new(o, "allowInternetAccess",
				    sb->allow_internet < 0 ? json_null() :
				    json_boolean(sb->allow_internet));
		json_object_set_new(o, "lifecycle",
				    json_pack("{s:b, s:s}", "autoResume", 0, "onTimeout",
					      sb->auto_pause ? "pause" : "kill"));
	}
	if (view == SBX_VIEW_STORED) {
		set_str(o, "envdAccessToken", sb->envd_token);
		json_object_set_new(o, "startedMs", json_integer(sb->started_ms));
		json_object_set_new(o, "endMs", json_integer(sb->end_ms));
		json_object_set_new(o, "autoPause", json_boolean(sb->auto_pause));
		json_object_set_new(o, "allowInternetAccess", json_integer(sb->allow_internet));
		json_object_set_new(o, "envVars", json_deep_copy(sb->env_vars));
		json_object_set_new(o, "seq", json_integer((json_int_t)sb->seq));
	}
	return o;
}

static int copy_str(char *dst, size_t cap, const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) >= cap)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int string_map(const json_t *m)
{
	const char *k;
	const json_t *v;

	if (!json_is_object(m))
		return 0;
	json_object_foreach((json_t *)m, k, v)
		if (!json_is_string(v))
			return 0;
	return 1;
}

struct sandbox *model_sandbox_from_stored(const json_t *o)
{
	struct sandbox_spec spec = { 0 };
	const json_t *seq = json_object_get(o, "seq");
	struct sandbox *sb;

	spec.template_id = json_string_value(json_object_get(o, "templateID"));
	spec.alias = json_string_value(json_object_get(o, "alias"));
	spec.envd_version = json_string_value(json_object_get(o, "envdVersion"));
	spec.cpu_count = (int)json_integer_value(json_object_get(o, "cpuCount"));
	spec.memory_mb = (int)json_integer_value(json_object_get(o, "memoryMB"));
	spec.disk_mb = (int)json_integer_value(json_object_get(o, "diskSizeMB"));
	spec.auto_pause = json_is_true(json_object_get(o, "autoPause"));
	spec.allow_internet = (int)json_integer_value(json_object_get(o, "allowInternetAccess"));
	spec.metadata = json_object_get(o, "metadata");
	spec.env_vars = json_object_get(o, "envVars");
	if (!spec.template_id || !spec.envd_version || !json_is_integer(seq) ||
	    json_integer_value(seq) <= 0 || !string_map(spec.metadata) ||
	    !string_map(spec.env_vars))
		return NULL;
	sb = model_sandbox_from_spec(&spec);
	if (!sb)
		return NULL;
	sb->seq = (uint64_t)json_integer_value(seq);
	sb->started_ms = json_integer_value(json_object_get(o, "startedMs"));
	sb->end_ms = json_integer_value(json_object_get(o, "endMs"));
	sb->paused = json_is_string(json_object_get(o, "state")) &&
		     strcmp(json_string_value(json_object_get(o, "state")), "paused") == 0;
	if (copy_str(sb->id, sizeof(sb->id), json_object_get(o, "sandboxID")) < 0 ||
	    !util_valid_id(sb->id) ||
	    copy_str(sb->client_id, sizeof(sb->client_id), json_object_get(o, "clientID")) < 0 ||
	    copy_str(sb->envd_token, sizeof(sb->envd_token),
		     json_object_get(o, "envdAccessToken")) < 0) {
		model_sandbox_free(sb);
		return NULL;
	}
	return sb;
}
