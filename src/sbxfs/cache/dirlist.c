/* Listings of one directory (see dircache.h): immutable values, shared by
 * their readers through a reference count.  The listings made from one
 * fetch share its entries (a dirvec) and each carries the changes laid
 * over them since: entries in extra and names gone.  A change makes a new
 * listing that copies only those (dirlist_derive); past
 * DIRCACHE_MAX_DELTA of them it gets entries of its own with the changes
 * merged in (flat_copy), so a directory of n entries costs O(n) once per
 * that many changes, not at each. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dirlist_priv.h"

struct dirvec {
	struct fentry *v;           /* sorted by name */
	size_t n;
	int refs;                   /* atomic */
};

struct dirgone {
	char *name;
	bool stale;                 /* what it is now is to be asked; else it
	                             * is known to be absent */
};

static int cmp_entries(const void *a, const void *b)
{
	return strcmp(((const struct fentry *)a)->name, ((const struct fentry *)b)->name);
}

/* Frees l and, with its last listing, the entries it shares. */
static void list_free(struct dirlist *l)
{
	if (l->vec && __atomic_sub_fetch(&l->vec->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		fentry_list_free(l->vec->v, l->vec->n);
		free(l->vec);
	}
	fentry_list_free(l->extra, l->n_extra);
	for (size_t i = 0; i < l->n_gone; i++)
		free(l->gone[i].name);
	free(l->gone);
	free(l);
}

/* Makes l share vec's entries. */
static void share(struct dirlist *l, struct dirvec *vec)
{
	__atomic_add_fetch(&vec->refs, 1, __ATOMIC_RELAXED);
	l->vec = vec;
	l->v = vec->v;
	l->n = vec->n;
}

void dirlist_put(struct dirlist *l)
{
	if (l && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0)
		list_free(l);
}

struct dirlist *dirlist_get(struct dirlist *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

struct dirlist *dirlist_fetched(struct fentry *v, size_t n)
{
	struct dirlist *l = calloc(1, sizeof(*l));
	struct dirvec *vec = calloc(1, sizeof(*vec));

	if (l == NULL || vec == NULL) {
		fentry_list_free(v, n);
		free(vec);
		free(l);
		return NULL;
	}
	vec->v = v;
	vec->n = n;
	share(l, vec);
	l->refs = 1;
	return l;
}

static int by_name(const void *key, const void *e)
{
	return strcmp(key, ((const struct fentry *)e)->name);
}

static const struct fentry *in_vec(const struct dirlist *l, const char *name)
{
	return l->n ? bsearch(name, l->v, l->n, sizeof(*l->v), by_name) : NULL;
}

static const struct dirgone *in_gone(const struct dirlist *l, const char *name)
{
	for (size_t i = 0; i < l->n_gone; i++)
		if (strcmp(l->gone[i].name, name) == 0)
			return &l->gone[i];
	return NULL;
}

static bool add_gone(struct dirlist *l, const char *name, bool stale)
{
	if ((l->gone[l->n_gone].name = strdup(name)) == NULL)
		return false;
	l->gone[l->n_gone++].stale = stale;
	l->n_stale += stale;
	return true;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A listing with entries of its own: what l holds, with only l's stale
 * names laid over it.  NULL on ENOMEM. */
static struct dirlist *flat_copy(const struct dirlist *l)
{
	struct dirlist *f = calloc(1, sizeof(*f));
	struct dirvec *vec = calloc(1, sizeof(*vec));
	const char **changed = calloc(l->n_extra + l->n_gone + 1, sizeof(*changed));
	size_t n = 0, k = 0;
	bool ok = f && vec && changed &&
		  (vec->v = calloc(l->n + l->n_extra + 1, sizeof(*vec->v))) != NULL &&
		  (f->gone = calloc(l->n_stale + 1, sizeof(*f->gone))) != NULL;

	/* v's entries not changed since, found by bsearch in the few changed
	 * names rather than by a scan of them per entry. */
	for (size_t i = 0; ok && i < l->n_extra; i++)
		changed[k++] = l->extra[i].name;
	for (size_t i = 0; ok && i < l->n_gone; i++)
		changed[k++] = l->gone[i].name;
	if (ok)
		qsort(changed, k, sizeof(*changed), cmp_names);
	for (size_t i = 0; ok && i < l->n; i++) {
		const char *name = l->v[i].name;

		if (k == 0 || !bsearch(&name, changed, k, sizeof(*changed), cmp_names))
			ok = fentry_copy(&l->v[i], &vec->v[n++]) == 0;
	}
	for (size_t i = 0; ok && i < l->n_extra; i++)
		ok = fentry_copy(&l->extra[i], &vec->v[n++]) == 0;
	if (vec)
		vec->n = n;
	for (size_t i = 0; ok && i < l->n_gone; i++)
		if (l->gone[i].stale)
			ok = add_gone(f, l->gone[i].name, true);
	free(changed);
	if (!ok) {
		if (vec)
			fentry_list_free(vec->v, vec->n);
		free(vec);
		if (f)
			list_free(f);
		return NULL;
	}
	qsort(vec->v, vec->n, sizeof(*vec->v), cmp_entries);
	share(f, vec);
	f->refs = 1;
	f->version = l->version;
	return f;
}

/* Is name one, or one of the names of many[0..n)? */
static bool named(const char *name, const char *one, const struct fentry *many, size_t n)
{
	if (one && strcmp(one, name) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(many[i].name, name) == 0)
			return true;
	return false;
}

/* A listing over base's entries with base's changes but those to the
 * names one and many[0..n), and room for `room` changes more of each
 * kind: NULL on ENOMEM. */
static struct dirlist *changes_but(const struct dirlist *base, const char *one,
				   const struct fentry *many, size_t n, size_t room)
{
	struct dirlist *l = calloc(1, sizeof(*l));
	bool ok = l && (l->extra = calloc(base->n_extra + room + 1, sizeof(*l->extra))) &&
		  (l->gone = calloc(base->n_gone + room + 1, sizeof(*l->gone)));

	for (size_t i = 0; ok && i < base->n_extra; i++)
		if (!named(base->extra[i].name, one, many, n))
			ok = fentry_copy(&base->extra[i], &l->extra[l->n_extra++]) == 0;
	for (size_t i = 0; ok && i < base->n_gone; i++)
		if (!named(base->gone[i].name, one, many, n))
			ok = add_gone(l, base->gone[i].name, base->gone[i].stale);
	if (!ok) {
		if (l)
			list_free(l);
		return NULL;
	}
	share(l, base->vec);
	l->refs = 1;
	l->version = base->version;
	return l;
}

struct dirlist *dirlist_derive(const struct dirlist *old, const char *name,
			       const struct fentry *e, bool stale)
{
	struct dirlist *l = changes_but(old, name, NULL, 0, 1), *flat;
	bool ok = l != NULL;

	if (ok && e)
		ok = fentry_copy(e, &l->extra[l->n_extra++]) == 0;
	else if (ok && (stale || in_vec(old, name)))
		ok = add_gone(l, name, stale);
	if (!ok) {
		if (l)
			list_free(l);
		return NULL;
	}
	if (l->n_extra + l->n_gone <= DIRCACHE_MAX_DELTA)
		return l;
	flat = flat_copy(l);
	list_free(l);
	return flat;
}

static const struct fentry *extra_named(const struct dirlist *l, const char *name)
{
	for (size_t i = 0; i < l->n_extra; i++)
		if (strcmp(l->extra[i].name, name) == 0)
			return &l->extra[i];
	return NULL;
}

const struct fentry *dirlist_find(const struct dirlist *l, const char *name)
{
	const struct fentry *e = extra_named(l, name);

	return e ? e : in_gone(l, name) ? NULL : in_vec(l, name);
}

const struct fentry *dirlist_as_fetched(const struct dirlist *l, const char *name)
{
	return extra_named(l, name) || in_gone(l, name) ? NULL : in_vec(l, name);
}

bool dirlist_stale(const struct dirlist *l, const char *name)
{
	const struct dirgone *g = in_gone(l, name);

	return g && g->stale;
}

int dirlist_flatten(struct dirlist *l, struct dirlist **out)
{
	bool flat = l->n_extra == 0;

	for (size_t i = 0; flat && i < l->n_gone; i++)
		flat = in_vec(l, l->gone[i].name) == NULL;
	if (flat) {
		*out = dirlist_get(l);
		return 0;
	}
	*out = flat_copy(l);
	return *out ? 0 : -ENOMEM;
}

int dirlist_overlay(const struct dirlist *base, struct fentry *extra, size_t n_extra,
		    struct dirlist **out)
{
	/* A name being written here is what the overlay says it is. */
	struct dirlist *l = changes_but(base, NULL, extra, n_extra, n_extra);

	if (l == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n_extra; i++) {
		l->extra[l->n_extra++] = extra[i];
		memset(&extra[i], 0, sizeof(extra[i]));
	}
	*out = l;
	return 0;
}
