/* The records of store/files.h kept beside the envd calls: the own-change
 * overlay (files open for writing here show at once, with what was
 * written so far), the note of the last sandbox found not running (for
 * the status file), and each file's (size, mtime) at its last open (for
 * the kernel's page cache).  All under f->lock, never over a request. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "files_priv.h"
#include "model/values.h"

void files_note_down(struct files *f, const char *id, const char *state)
{
	pthread_mutex_lock(&f->lock);
	snprintf(f->down_id, sizeof(f->down_id), "%s", id);
	snprintf(f->down_state, sizeof(f->down_state), "%s", state);
	f->down_ms = clock_wall_ms();
	pthread_mutex_unlock(&f->lock);
}

void files_format_down(struct files *f, char *buf, size_t size)
{
	char when[SBX_TIME_LEN];

	pthread_mutex_lock(&f->lock);
	if (f->down_ms == 0)
		snprintf(buf, size, "none");
	else
		snprintf(buf, size, "EHOSTDOWN sandbox %s is %s (%s)", f->down_id, f->down_state,
			 sbx_format_time((time_t)(f->down_ms / 1000), when));
	pthread_mutex_unlock(&f->lock);
}

/* ---- the own-change overlay (called with f->lock held where noted) ---- */

struct files_own **files_own_find(struct files *f, const char *id, const char *path)
{
	struct files_own **pp;

	for (pp = &f->own; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->path, path) == 0 && strcmp((*pp)->id, id) == 0)
			break;
	return pp;
}

int files_own_add(struct files *f, const char *id, const char *path, unsigned mode)
{
	struct files_own **pp, *o;
	int err = 0;

	pthread_mutex_lock(&f->lock);
	if (*(pp = files_own_find(f, id, path))) {
		(*pp)->refs++;
	} else if ((o = calloc(1, sizeof(*o))) && (o->id = strdup(id)) &&
		   (o->path = strdup(path))) {
		o->mode = mode;
		o->refs = 1;
		o->mtime_ms = clock_wall_ms();
		*pp = o;
	} else {
		if (o)
			free(o->id);
		free(o);
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&f->lock);
	return err;
}

void files_own_set(struct files *f, const char *id, const char *path, uint64_t size)
{
	struct files_own *o;

	pthread_mutex_lock(&f->lock);
	if ((o = *files_own_find(f, id, path))) {
		o->size = size;
		o->mtime_ms = clock_wall_ms();
	}
	pthread_mutex_unlock(&f->lock);
}

void files_own_del(struct files *f, const char *id, const char *path)
{
	struct files_own **pp, *o;

	pthread_mutex_lock(&f->lock);
	if ((o = *(pp = files_own_find(f, id, path))) && --o->refs == 0) {
		*pp = o->next;
		free(o->id);
		free(o->path);
		free(o);
	}
	pthread_mutex_unlock(&f->lock);
}

/* The overlay's entry for path into *out: 1, 0 when it has none. */
int files_own_lookup(struct files *f, const char *id, const char *path, struct fentry *out)
{
	struct files_own *o;
	int found = 0;

	pthread_mutex_lock(&f->lock);
	if ((o = *files_own_find(f, id, path))) {
		out->type = FENTRY_FILE;
		out->mode = o->mode;
		out->size = o->size;
		out->mtime_ms = o->mtime_ms;
		found = 1;
	}
	pthread_mutex_unlock(&f->lock);
	if (found && (out->name = strdup(strrchr(path, '/') + 1)) == NULL)
		return -ENOMEM;
	return found;
}

/* The files open for writing here directly in directory dir, as entries
 * (*v malloc'd, caller fentry_list_free()s it; NULL when none). */
int files_own_in(struct files *f, const char *id, const char *dir, struct fentry **v,
		  size_t *n)
{
	char parent[PATH_MAX];
	size_t k = 0, cap = 0;
	int err = 0;

	*v = NULL;
	pthread_mutex_lock(&f->lock);
	for (struct files_own *o = f->own; o && err == 0; o = o->next) {
		const char *name = files_split(o->path, parent, sizeof(parent));

		if (strcmp(o->id, id) != 0 || strcmp(parent, dir) != 0)
			continue;
		if (k == cap) {
			struct fentry *nv = realloc(*v, (cap = cap ? 2 * cap : 4) * sizeof(**v));

			if (nv == NULL) {
				err = -ENOMEM;
				break;
			}
			*v = nv;
		}
		(*v)[k] = (struct fentry){ .type = FENTRY_FILE, .mode = o->mode,
					   .size = o->size, .mtime_ms = o->mtime_ms,
					   .name = strdup(name) };
		if ((*v)[k++].name == NULL)
			err = -ENOMEM;
	}
	pthread_mutex_unlock(&f->lock);
	*n = k;
	if (err < 0) {
		fentry_list_free(*v, k);
		*v = NULL;
		*n = 0;
	}
	return err;
}


/* ---- what the kernel's page cache holds of each file ---- */

/* A record is in the recency list (seen .. seen_last, most recent first)
 * and in its bucket's chain, so an open costs a short chain walk, not a
 * walk of every file opened (grep -r opens thousands). */
struct files_seen {
	struct files_seen *next, *prev;   /* recency */
	struct files_seen *chain;         /* its bucket */
	char *id, *path;
	uint64_t size;
	int64_t mtime_ms;
};

static void seen_free(struct files_seen *e)
{
	free(e->id);
	free(e->path);
	free(e);
}

static struct files_seen **bucket(struct files *f, const char *id, const char *path)
{
	uint32_t h = 2166136261u;   /* FNV-1a over id, NUL, path */

	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h *= 16777619u;
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &f->seen_by_path[h % FILES_SEEN_BUCKETS];
}

/* Unlinks e from both lists.  Called locked. */
static void seen_unlink(struct files *f, struct files_seen *e)
{
	struct files_seen **pp = bucket(f, e->id, e->path);

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	if (e->prev)
		e->prev->next = e->next;
	else
		f->seen = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		f->seen_last = e->prev;
	f->n_seen--;
}

/* Unlinks and returns (id, path)'s record, or NULL.  Called locked. */
static struct files_seen *seen_take(struct files *f, const char *id, const char *path)
{
	struct files_seen *e;

	if (f->seen_by_path == NULL)
		return NULL;
	for (e = *bucket(f, id, path); e; e = e->chain)
		if (strcmp(e->path, path) == 0 && strcmp(e->id, id) == 0) {
			seen_unlink(f, e);
			return e;
		}
	return NULL;
}

/* Links e first, dropping the least recently opened past the bound.
 * Called locked. */
static void seen_put(struct files *f, struct files_seen *e)
{
	struct files_seen **b = bucket(f, e->id, e->path);

	e->chain = *b;
	*b = e;
	e->prev = NULL;
	e->next = f->seen;
	if (f->seen)
		f->seen->prev = e;
	else
		f->seen_last = e;
	f->seen = e;
	f->n_seen++;
	while (f->n_seen > FILES_SEEN_MAX) {
		struct files_seen *old = f->seen_last;

		seen_unlink(f, old);
		seen_free(old);
	}
}

bool files_pages_same(struct files *f, const char *id, const char *path, uint64_t size,
		      int64_t mtime_ms)
{
	struct files_seen *e;
	bool same;

	pthread_mutex_lock(&f->lock);
	if (f->seen_by_path == NULL &&
	    (f->seen_by_path = calloc(FILES_SEEN_BUCKETS, sizeof(*f->seen_by_path))) == NULL) {
		pthread_mutex_unlock(&f->lock);
		return false;   /* out of memory: not remembered, so not kept */
	}
	e = seen_take(f, id, path);
	same = e && mtime_ms != 0 && e->size == size && e->mtime_ms == mtime_ms;
	if (e == NULL && (e = calloc(1, sizeof(*e))) &&
	    (!(e->id = strdup(id)) || !(e->path = strdup(path)))) {
		seen_free(e);
		e = NULL;
	}
	if (e) {
		e->size = size;
		e->mtime_ms = mtime_ms;
		seen_put(f, e);
	}
	pthread_mutex_unlock(&f->lock);
	return same;
}

void files_pages_forget(struct files *f, const char *id, const char *path)
{
	struct files_seen *e;

	pthread_mutex_lock(&f->lock);
	e = seen_take(f, id, path);
	pthread_mutex_unlock(&f->lock);
	if (e)
		seen_free(e);
}

void files_seen_free_all(struct files *f)
{
	while (f->seen) {
		struct files_seen *e = f->seen;

		f->seen = e->next;
		seen_free(e);
	}
	free(f->seen_by_path);
	f->seen_by_path = NULL;
	f->seen_last = NULL;
	f->n_seen = 0;
}
