/* envd's EntryInfo decoder; see fentry.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/rfc3339.h"
#include "fentry.h"

void fentry_clear(struct fentry *e)
{
	if (e == NULL)
		return;
	free(e->name);
	free(e->symlink_target);
	memset(e, 0, sizeof(*e));
}

void fentry_list_free(struct fentry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		fentry_clear(&v[i]);
	free(v);
}

int fentry_copy(const struct fentry *e, struct fentry *out)
{
	*out = *e;
	out->name = strdup(e->name ? e->name : "");
	out->symlink_target = e->symlink_target ? strdup(e->symlink_target) : NULL;
	if (out->name == NULL || (e->symlink_target && out->symlink_target == NULL)) {
		fentry_clear(out);
		return -ENOMEM;
	}
	return 0;
}

int fentry_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > NAME_MAX || memchr(name, '/', len) || memchr(name, '\0', len))
		return 0;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

/* int64 as proto3 JSON sends it: a decimal string, or a number. */
static int parse_size(const json_t *v, uint64_t *out)
{
	const char *s;
	char *end;

	if (v == NULL || json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return -EPROTO;
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v) || (s = json_string_value(v))[0] < '0' || s[0] > '9')
		return -EPROTO;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);

	if (errno || *end || n > (unsigned long long)INT64_MAX)
		return -EPROTO;
	*out = n;
	return 0;
}

static enum fentry_type parse_type(const json_t *v)
{
	const char *s = json_string_value(v);

	if (json_is_integer(v))
		switch (json_integer_value(v)) {
		case 1: return FENTRY_FILE;
		case 2: return FENTRY_DIR;
		case 3: return FENTRY_SYMLINK;
		default: return FENTRY_UNKNOWN;
		}
	if (s == NULL)
		return FENTRY_UNKNOWN;
	if (strcmp(s, "FILE_TYPE_FILE") == 0)
		return FENTRY_FILE;
	if (strcmp(s, "FILE_TYPE_DIRECTORY") == 0)
		return FENTRY_DIR;
	if (strcmp(s, "FILE_TYPE_SYMLINK") == 0)
		return FENTRY_SYMLINK;
	return FENTRY_UNKNOWN;
}

/* An optional string member: NULL when absent or null, -EPROTO (via
 * *bad) when of another type. */
static const char *opt_str(const json_t *o, const char *key, const char *alt, int *bad)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL && alt)
		v = json_object_get(o, alt);
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		*bad = 1;
	return json_string_value(v);
}

static int from_json(const json_t *o, struct fentry *out)
{
	const json_t *mode = json_object_get(o, "mode");
	int bad = 0;
	const char *name = opt_str(o, "name", NULL, &bad);
	const char *mtime = opt_str(o, "modifiedTime", "modified_time", &bad);
	const char *target = opt_str(o, "symlinkTarget", "symlink_target", &bad);

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o) || bad || name == NULL)
		return -EPROTO;
	if (parse_size(json_object_get(o, "size"), &out->size) < 0)
		return -EPROTO;
	if (mode && !json_is_null(mode) &&
	    (!json_is_integer(mode) || json_integer_value(mode) < 0 ||
	     json_integer_value(mode) > 0xffffffffLL))
		return -EPROTO;
	out->mode = mode ? (unsigned)json_integer_value(mode) & 07777 : 0;
	out->type = parse_type(json_object_get(o, "type"));
	if (mtime && rfc3339_parse(mtime, &out->mtime_ms) < 0)
		out->mtime_ms = 0;
	out->name = strdup(name);
	out->symlink_target = target && target[0] ? strdup(target) : NULL;
	if (out->name == NULL || (target && target[0] && out->symlink_target == NULL)) {
		fentry_clear(out);
		return -ENOMEM;
	}
	/* A dangling symlink has no target type: still a link. */
	if (out->type == FENTRY_UNKNOWN && out->symlink_target)
		out->type = FENTRY_SYMLINK;
	return 0;
}

int fentry_parse_reply(const char *body, size_t len, struct fentry *out)
{
	json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	int err = -EPROTO;

	memset(out, 0, sizeof(*out));
	if (json_is_object(root))
		err = from_json(json_object_get(root, "entry"), out);
	json_decref(root);
	return err;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct fentry *)a)->name, ((const struct fentry *)b)->name);
}

/* Sorts v and drops repeated names (a server's duplicate) in place. */
static size_t sort_unique(struct fentry *v, size_t n)
{
	size_t k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), by_name);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i].name, v[k].name) == 0)
			fentry_clear(&v[i]);
		else
			v[++k] = v[i];
	}
	return k + 1;
}

static int list_from_json(const json_t *arr, struct fentry **out, size_t *n)
{
	size_t cap = json_array_size(arr), k = 0, i;
	struct fentry *v = cap ? calloc(cap, sizeof(*v)) : NULL;
	const json_t *it;
	int err = 0;

	if (cap && v == NULL)
		return -ENOMEM;
	json_array_foreach(arr, i, it) {
		if ((err = from_json(it, &v[k])) < 0)
			break;
		/* Only what can be named in the mount, and has a type. */
		if (!fentry_name_ok(v[k].name, strlen(v[k].name)) || v[k].type == FENTRY_UNKNOWN)
			fentry_clear(&v[k]);
		else
			k++;
	}
	if (err < 0) {
		fentry_list_free(v, k);
		return err;
	}
	*n = sort_unique(v, k);
	*out = v;
	return 0;
}

int fentry_parse_list(const char *body, size_t len, struct fentry **out, size_t *n)
{
	json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	const json_t *arr;
	int err = -EPROTO;

	*out = NULL;
	*n = 0;
	if (!json_is_object(root))
		goto out;
	arr = json_object_get(root, "entries");
	if (arr == NULL || json_is_null(arr))
		err = 0;
	else if (json_is_array(arr))
		err = list_from_json(arr, out, n);
out:
	json_decref(root);
	return err;
}

int fentry_parse_disk(const char *body, size_t len, uint64_t *used, uint64_t *total)
{
	json_t *root = json_loadb(body ? body : "", len, 0, NULL);
	const json_t *u = json_object_get(root, "disk_used");
	const json_t *t = json_object_get(root, "disk_total");
	uint64_t su = 0, st = 0;
	int err = -EPROTO;

	*used = *total = 0;
	/* Both present and sizes, or neither is kept: a reply with one bad
	 * field says nothing about the disk. */
	if (json_is_object(root) && json_is_integer(u) && json_is_integer(t) &&
	    parse_size(u, &su) == 0 && parse_size(t, &st) == 0) {
		*used = su;
		*total = st;
		err = 0;
	}
	json_decref(root);
	return err;
}
