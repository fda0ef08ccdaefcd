/* Template store; see templates.h. */
#include "registry/templates.h"

#include "common/clock.h"
#include "common/rfc3339.h"
#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tpl {
	char *id;
	char *build_id;
	json_t *aliases;        /* array of strings, owned */
	char *rootfs;           /* an unpacked image to run from; NULL: host /usr */
	int cpu_count, memory_mb, disk_mb;
	int is_public;
	char envd_version[32];
	int64_t created_ms;
	int64_t spawn_count;
	int64_t last_spawn_ms;  /* 0: never */
};

struct tpl_store {
	/* Guards every field below: request threads resolve and list
	 * templates while SIGHUP may swap the file set. */
	pthread_mutex_t lock;
	struct tpl base;
	struct tpl *file;       /* templates from --templates */
	size_t nfile;
};

static void tpl_clear(struct tpl *t)
{
	free(t->id);
	free(t->build_id);
	free(t->rootfs);
	json_decref(t->aliases);
	memset(t, 0, sizeof(*t));
}

static void free_set(struct tpl *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tpl_clear(&set[i]);
	free(set);
}

struct tpl_store *tpl_store_new(void)
{
	struct tpl_store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	st->base.id = strdup("base");
	st->base.build_id = strdup("00000000-0000-4000-8000-000000000001");
	st->base.aliases = json_pack("[s]", "base");
	st->base.cpu_count = 2;
	st->base.memory_mb = 512;
	st->base.disk_mb = 512;
	st->base.is_public = 1;
	snprintf(st->base.envd_version, sizeof(st->base.envd_version), "%s",
		 SBXD_ENVD_VERSION);
	st->base.created_ms = clock_wall_ms();
	if (!st->base.id || !st->base.build_id || !st->base.aliases) {
		tpl_store_free(st);
		return NULL;
	}
	return st;
}

void tpl_store_free(struct tpl_store *st)
{
	if (!st)
		return;
	tpl_clear(&st->base);
	free_set(st->file, st->nfile);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static int fail(char **err, const char *fmt, size_t idx, const char *what)
{
	if (err && asprintf(err, fmt, idx, what) < 0)
		*err = NULL;
	return -EINVAL;
}

static int valid_name(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ')
			return 0;
	return 1;
}

static int int_field(const json_t *o, const char *key, int min, int max)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return 1;
	return json_is_integer(v) && json_integer_value(v) >= min &&
	       json_integer_value(v) <= max;
}

int tpl_validate_json(const json_t *arr, char **err)
{
	size_t i;
	const json_t *t;

	if (!json_is_array(arr)) {
		if (err)
			*err = strdup("templates file must hold a JSON array");
		return -EINVAL;
	}
	json_array_foreach(arr, i, t) {
		const json_t *aliases = json_object_get(t, "aliases");
		const json_t *ev = json_object_get(t, "envdVersion");
		size_t j;
		const json_t *a;

		if (!json_is_object(t))
			return fail(err, "template %zu: %s", i, "not an object");
		if (!valid_name(json_object_get(t, "templateID")))
			return fail(err, "template %zu: %s", i,
				    "templateID must be a non-empty string without spaces");
		if (aliases && !json_is_array(aliases))
			return fail(err, "template %zu: %s", i, "aliases must be an array");
		json_array_foreach(aliases, j, a)
			if (!valid_name(a))
				return fail(err, "template %zu: %s", i,
					    "aliases must be non-empty strings");
		if (!int_field(t, "cpuCount", 1, 256))
			return fail(err, "template %zu: %s", i, "cpuCount must be 1..256");
		if (!int_field(t, "memoryMB", 128, 1 << 24))
			return fail(err, "template %zu: %s", i, "memoryMB must be >= 128");
		if (!int_field(t, "diskSizeMB", 0, 1 << 30))
			return fail(err, "template %zu: %s", i, "diskSizeMB must be >= 0");
		if (ev && (!json_is_string(ev) || json_string_length(ev) >= 32))
			return fail(err, "template %zu: %s", i, "envdVersion must be a short string");
		if (json_object_get(t, "rootfs") &&
		    (!json_is_string(json_object_get(t, "rootfs")) ||
		     json_string_value(json_object_get(t, "rootfs"))[0] != '/'))
			return fail(err, "template %zu: %s", i, "rootfs must be an absolute path");
		if (json_object_get(t, "public") && !json_is_boolean(json_object_get(t, "public")))
			return fail(err, "template %zu: %s", i, "public must be a boolean");
	}
	return 0;
}

static int int_or(const json_t *o, const char *key, int dflt)
{
	const json_t *v = json_object_get(o, key);

	return v ? (int)json_integer_value(v) : dflt;
}

/* Builds the in-memory template from an already validated JSON object. */
static int tpl_from_json(struct tpl *t, const json_t *o, int64_t now)
{
	const json_t *aliases = json_object_get(o, "aliases");
	const char *build = json_string_value(json_object_get(o, "buildID"));
	const char *ev = json_string_value(json_object_get(o, "envdVersion"));
	char gen_build[40];

	memset(t, 0, sizeof(*t));
	if (!build) {
		if (util_random_hex(gen_build, 16) < 0)
			return -EIO;
		build = gen_build;
	}
	t->id = strdup(json_string_value(json_object_get(o, "templateID")));
	t->build_id = strdup(build);
	t->aliases = aliases ? json_deep_copy(aliases) : json_array();
	t->cpu_count = int_or(o, "cpuCount", 2);
	t->memory_mb = int_or(o, "memoryMB", 512);
	t->disk_mb = int_or(o, "diskSizeMB", 512);
	t->is_public = json_is_true(json_object_get(o, "public"));
	if (json_object_get(o, "rootfs") &&
	    !(t->rootfs = strdup(json_string_value(json_object_get(o, "rootfs"))))) {
		tpl_clear(t);
		return -ENOMEM;
	}
	snprintf(t->envd_version, sizeof(t->envd_version), "%s",
		 ev ? ev : SBXD_ENVD_VERSION);
	t->created_ms = now;
	if (!t->id || !t->build_id || !t->aliases) {
		tpl_clear(t);
		return -ENOMEM;
	}
	return 0;
}

int tpl_store_load(struct tpl_store *st, const char *path, char **err)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	struct tpl *set = NULL;
	size_t n = 0;
	int rc;

	if (!root) {
		if (err && asprintf(err, "%s:%d: %s", path, jerr.line, jerr.text) < 0)
			*err = NULL;
		return -EINVAL;
	}
	rc = tpl_validate_json(root, err);
	if (rc < 0)
		goto out;
	set = calloc(json_array_size(root) + 1, sizeof(*set));
	if (!set) {
		rc = -ENOMEM;
		goto out;
	}
	for (; n < json_array_size(root); n++) {
		rc = tpl_from_json(&set[n], json_array_get(root, n), clock_wall_ms());
		if (rc < 0)
			goto out;
	}
	pthread_mutex_lock(&st->lock);
	struct tpl *old = st->file;
	size_t nold = st->nfile;
	st->file = set;
	st->nfile = n;
	pthread_mutex_unlock(&st->lock);
	set = old;
	n = nold;
	rc = 0;
out:
	free_set(set, n);
	json_decref(root);
	return rc;
}

static int has_alias(const struct tpl *t, const char *name)
{
	size_t i;
	const json_t *a;

	json_array_foreach(t->aliases, i, a)
		if (strcmp(json_string_value(a), name) == 0)
			return 1;
	return 0;
}

/* File templates shadow the built-in one; called with the lock held. */
static struct tpl *find_locked(struct tpl_store *st, const char *name, int *by_alias)
{
	for (size_t i = 0; i < st->nfile; i++)
		if (strcmp(st->file[i].id, name) == 0) {
			*by_alias = 0;
			return &st->file[i];
		}
	for (size_t i = 0; i < st->nfile; i++)
		if (has_alias(&st->file[i], name)) {
			*by_alias = 1;
			return &st->file[i];
		}
	if (strcmp(name, "base") == 0) {
		*by_alias = 1;
		return &st->base;
	}
	return NULL;
}

int tpl_resolve(struct tpl_store *st, const char *name, struct tpl_info *out)
{
	int by_alias = 0;
	int rc = -ENOENT;

	pthread_mutex_lock(&st->lock);
	struct tpl *t = find_locked(st, name, &by_alias);
	if (t) {
		const char *alias = by_alias ? name :
			json_string_value(json_array_get(t->aliases, 0));

		snprintf(out->id, sizeof(out->id), "%s", t->id);
		snprintf(out->alias, sizeof(out->alias), "%s", alias ? alias : "");
		out->cpu_count = t->cpu_count;
		out->memory_mb = t->memory_mb;
		out->disk_mb = t->disk_mb;
		snprintf(out->envd_version, sizeof(out->envd_version), "%s",
			 t->envd_version);
		snprintf(out->rootfs, sizeof(out->rootfs), "%s", t->rootfs ? t->rootfs : "");
		rc = 0;
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void tpl_note_spawn(struct tpl_store *st, const char *id, int64_t now_ms)
{
	int by_alias;

	pthread_mutex_lock(&st->lock);
	struct tpl *t = find_locked(st, id, &by_alias);
	if (t) {
		t->spawn_count++;
		t->last_spawn_ms = now_ms;
	}
	pthread_mutex_unlock(&st->lock);
}

static json_t *tpl_json(const struct tpl *t)
{
	char created[32], spawned[32];

	rfc3339_format_ms(t->created_ms, created);
	rfc3339_format_ms(t->last_spawn_ms, spawned);
	/* Copies of the aliases, not references: the list is sent after the
	 * store's lock is dropped, and a reload may free the originals. */
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:o, s:o, s:s, s:s,"
			 " s:n, s:o, s:I, s:i, s:s, s:s}",
			 "templateID", t->id, "buildID", t->build_id,
			 "cpuCount", t->cpu_count, "memoryMB", t->memory_mb,
			 "diskSizeMB", t->disk_mb, "public", t->is_public,
			 "aliases", json_deep_copy(t->aliases), "names", json_deep_copy(t->aliases),
			 "createdAt", created, "updatedAt", created,
			 "createdBy",
			 "lastSpawnedAt", t->last_spawn_ms ? json_string(spawned) : json_null(),
			 "spawnCount", (json_int_t)t->spawn_count, "buildCount", 1,
			 "envdVersion", t->envd_version, "buildStatus", "ready");
}

json_t *tpl_list_json(struct tpl_store *st)
{
	json_t *arr = json_array();
	int shadowed = 0;

	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->nfile; i++) {
		json_array_append_new(arr, tpl_json(&st->file[i]));
		if (strcmp(st->file[i].id, "base") == 0 || has_alias(&st->file[i], "base"))
			shadowed = 1;
	}
	if (!shadowed)
		json_array_insert_new(arr, 0, tpl_json(&st->base));
	pthread_mutex_unlock(&st->lock);
	return arr;
}
