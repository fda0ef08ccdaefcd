/* A sandbox's record and its runtime, changed together; see boxes.h.
 *
 * The order of each pair keeps two promises: a reply never names a
 * sandbox whose record is not committed, and after a 204 for a kill no
 * process or file of it is left.  So a create makes the runtime first and
 * commits after (undoing the runtime if the commit fails); a kill commits
 * first and destroys after, both before the reply; a pause freezes first
 * and commits after (thawing again if the commit fails).  The registry lock
 * is never held across a runtime call: these functions run outside it. */
#include "api/boxes.h"

#include "api/handlers.h"
#include "base/log.h"
#include "base/util.h"
#include "common/clock.h"
#include "registry/registry.h"
#include "registry/templates.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_runtime(const struct api_ctx *s)
{
	return s->rt && rt_kind(s->rt) != RT_RECORD;
}

static struct rt_box_spec box_spec(const char *id, const struct sandbox_spec *spec,
				   const char *rootfs)
{
	return (struct rt_box_spec){
		.id = id, .template_id = spec->template_id,
		.rootfs = rootfs && *rootfs ? rootfs : NULL,
		.cpu_count = spec->cpu_count, .memory_mb = spec->memory_mb,
		.disk_mb = spec->disk_mb, .internet = spec->allow_internet != 0,
		.env_vars = spec->env_vars,
	};
}

int boxes_create(struct api_ctx *s, struct sandbox_spec *spec, const char *rootfs,
		 json_t **out, struct reply *rp)
{
	char id[SBX_ID_LEN + 1], err[512];
	int rc;

	if (!has_runtime(s))
		return reg_create(s->reg, spec, clock_wall_ms(), out);
	/* The limit before the (slow) runtime; reg_create checks it again. */
	if (s->max_sandboxes && reg_count(s->reg) >= s->max_sandboxes)
		return -EAGAIN;
	if (util_random_alnum(id, SBX_ID_LEN) < 0)
		return -EIO;
	struct rt_box_spec bs = box_spec(id, spec, rootfs);
	rc = rt_create(s->rt, &bs, err, sizeof(err));
	if (rc == -ENOENT) {
		reply_error(rp, 400, "%s", err);
		return rc;
	}
	if (rc < 0) {
		slog_info(s->log, "create %s: %s", id, err);   /* the reply says it */
		reply_error(rp, 500, "%s", err[0] ? err : strerror(-rc));
		return rc;
	}
	spec->id = id;
	rc = reg_create(s->reg, spec, clock_wall_ms(), out);
	spec->id = NULL;
	if (rc < 0)
		rt_destroy(s->rt, id);
	return rc;
}

int boxes_kill(struct api_ctx *s, const char *id)
{
	int rc = reg_kill(s->reg, id);

	if (rc < 0 || !has_runtime(s))
		return rc;
	rc = rt_destroy(s->rt, id);
	if (rc < 0 && rc != -ENOENT) {
		slog_error(s->log, "kill %s: its root stays: %s", id, strerror(-rc));
		return rc;
	}
	return 0;
}

int boxes_pause(struct api_ctx *s, const char *id)
{
	int frozen = has_runtime(s) ? rt_freeze(s->rt, id) : -ENOENT;
	int rc;

	if (frozen < 0 && frozen != -ENOENT)
		return frozen;
	rc = reg_pause(s->reg, id);
	/* Already paused stays frozen; any other failure runs on. */
	if (rc < 0 && rc != -EBUSY && frozen == 0)
		rt_thaw(s->rt, id);
	return rc;
}

/* After a committed resume: the processes go on. */
static int thaw(struct api_ctx *s, const char *id)
{
	int rc = has_runtime(s) ? rt_thaw(s->rt, id) : 0;

	if (rc < 0 && rc != -ENOENT) {
		slog_error(s->log, "resume %s: cannot thaw: %s", id, strerror(-rc));
		return rc;
	}
	return 0;
}

int boxes_resume(struct api_ctx *s, const char *id, unsigned timeout_s, json_t **out)
{
	int rc = reg_resume(s->reg, id, timeout_s, clock_wall_ms(), out);

	if (rc == 0 && (rc = thaw(s, id)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int boxes_connect(struct api_ctx *s, const char *id, unsigned timeout_s, json_t **out,
		  int *resumed)
{
	int rc = reg_connect(s->reg, id, timeout_s, clock_wall_ms(), out, resumed);

	if (rc == 0 && *resumed && (rc = thaw(s, id)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

void boxes_expired(void *ctx, const char *id, bool paused)
{
	struct api_ctx *s = ctx;
	int rc;

	if (!has_runtime(s))
		return;
	rc = paused ? rt_freeze(s->rt, id) : rt_destroy(s->rt, id);
	if (rc < 0 && rc != -ENOENT)
		slog_error(s->log, "expiry of %s: cannot %s it: %s", id,
			   paused ? "pause" : "kill", strerror(-rc));
}

/* Restarts one stored sandbox: its root kept, a fresh init. */
static void restore_one(struct api_ctx *s, const json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "sandboxID"));
	const char *state = json_string_value(json_object_get(o, "state"));
	struct sandbox_spec spec = {
		.template_id = json_string_value(json_object_get(o, "templateID")),
		.cpu_count = (int)json_integer_value(json_object_get(o, "cpuCount")),
		.memory_mb = (int)json_integer_value(json_object_get(o, "memoryMB")),
		.disk_mb = (int)json_integer_value(json_object_get(o, "diskSizeMB")),
		.allow_internet = (int)json_integer_value(json_object_get(o,
							"allowInternetAccess")),
		.env_vars = json_object_get(o, "envVars"),
	};
	struct tpl_info tpl;
	char err[512];

	if (!id || !spec.template_id)
		return;
	if (tpl_resolve(s->tpl, spec.template_id, &tpl) < 0)
		tpl.rootfs[0] = '\0';
	struct rt_box_spec bs = box_spec(id, &spec, tpl.rootfs);
	int rc = rt_restore(s->rt, &bs, state && strcmp(state, "paused") == 0, err,
			    sizeof(err));
	if (rc < 0)
		slog_error(s->log, "restart of sandbox %s: %s", id, err[0] ? err : strerror(-rc));
}

static bool is_known(void *ctx, const char *id)
{
	struct api_ctx *s = ctx;
	json_t *o = NULL;
	bool known = reg_get(s->reg, id, SBX_VIEW_LISTED, &o) == 0;

	json_decref(o);
	return known;
}

void boxes_restore(struct api_ctx *s)
{
	json_t *doc, *o;
	size_t i;

	if (!has_runtime(s) || !(doc = reg_dump(s->reg)))
		return;
	json_array_foreach(json_object_get(doc, "sandboxes"), i, o)
		restore_one(s, o);
	json_decref(doc);
	int gone = rt_sweep(s->rt, is_known, s);
	if (gone > 0)
		slog_info(s->log, "removed the roots of %d sandbox(es) that ended meanwhile", gone);
}

static int fail(char **err, int rc, const char *fmt, const char *a, const char *b)
{
	if (asprintf(err, fmt, a, b) < 0)
		*err = NULL;
	return rc;
}

int boxes_open_runtime(struct api_ctx *s, const struct sbxd_config *cfg,
		       const char *state_dir, char **err)
{
	const char *name = cfg->runtime ? cfg->runtime : "record";
	struct rt_config rc = { .kind = RT_RECORD, .state_dir = state_dir,
				.sandbox_uid = cfg->sandbox_uid };
	bool fallback = strcmp(name, "auto") == 0;
	char *why = NULL;

	if (fallback || strcmp(name, "bwrap") == 0)
		rc.kind = RT_BWRAP;
	else if (strcmp(name, "dir") == 0)
		rc.kind = RT_DIR;
	else if (strcmp(name, "record") != 0)
		return fail(err, -EINVAL, "unknown runtime \"%s\"%s", name,
			    " (record, dir, bwrap or auto)");
	s->rt = rt_new(&rc, &why);
	if (!s->rt && fallback) {
		slog_info(s->log, "runtime record: %s", why ? why : "bwrap cannot run");
		free(why);
		rc.kind = RT_RECORD;
		s->rt = rt_new(&rc, &why);
	}
	if (!s->rt) {
		int r = fail(err, -EIO, "runtime %s: %s", name, why ? why : "cannot start");

		free(why);
		return r;
	}
	slog_info(s->log, "runtime %s", rt_kind_name(rt_kind(s->rt)));
	return 0;
}
