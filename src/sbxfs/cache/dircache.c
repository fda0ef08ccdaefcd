/* Listings of directories inside sandboxes; see dircache.h.
 *
 * One list, most recently used first: lookups are linear, which at the
 * bound (max_dirs, a few hundred) costs less than the request a miss
 * sends.  An entry with a fetch in flight stays in the list (with or
 * without an older listing) so later callers find and wait for it.
 * Listings never change once made: a change to one name makes a new one
 * (derive) in the old one's place, and readers keep what they hold.  The
 * new one shares the fetched entries (a dirvec) and copies only the
 * changes laid over them; past DIRCACHE_MAX_DELTA changes it gets entries
 * of its own with the changes merged in (flat_copy), so a directory of n
 * entries costs O(n) once per that many changes, not at each. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "dircache.h"

static int cmp_entries(const void *a, const void *b)
{
	return strcmp(((const struct fentry *)a)->name, ((const struct fentry *)b)->name);
}

struct dirvec {
	struct fentry *v;           /* sorted by name */
	size_t n;
	int refs;                   /* the cache's lock guards it */
};

struct dirgone {
	char *name;
	bool stale;                 /* what it is now is to be asked; else it
	                             * is known to be absent */
};

struct dentry {
	struct dentry *prev, *next;
	char *id, *path;
	struct dirlist *list;       /* NULL until fetched */
	int64_t fetched_ms;
	uint64_t gen;               /* bumped by a drop */
	bool busy;                  /* a fetch in flight */
	int waiters;                /* callers waiting on it: not evicted */
};

struct dircache {
	pthread_mutex_t lock;       /* guards everything below and dirlist.refs */
	pthread_cond_t done;        /* a fetch finished */
	struct dentry *head, *tail;
	size_t count, max;
	unsigned ttl_ms;
	uint64_t versions;          /* the last dirlist.version given */
};

struct dircache *dircache_new(unsigned ttl_ms, size_t max_dirs)
{
	struct dircache *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->done, &ca);
	pthread_condattr_destroy(&ca);
	c->ttl_ms = ttl_ms;
	c->max = max_dirs ? max_dirs : 1;
	return c;
}

/* Frees l and, with its last listing, the entries it shares.  Called
 * with the lock held, or on a listing nothing else can reach. */
static void list_free(struct dirlist *l)
{
	if (l->vec && --l->vec->refs == 0) {
		fentry_list_free(l->vec->v, l->vec->n);
		free(l->vec);
	}
	fentry_list_free(l->extra, l->n_extra);
	for (size_t i = 0; i < l->n_gone; i++)
		free(l->gone[i].name);
	free(l->gone);
	free(l);
}

/* Makes l share vec's entries.  Locked, or vec not yet shared. */
static void share(struct dirlist *l, struct dirvec *vec)
{
	vec->refs++;
	l->vec = vec;
	l->v = vec->v;
	l->n = vec->n;
}

/* Drops a reference; the last one frees.  Called with the lock held
 * (or with no other user left). */
static void list_unref_locked(struct dirlist *l)
{
	if (l && --l->refs == 0)
		list_free(l);
}

void dirlist_put(struct dirlist *l)
{
	struct dircache *c;

	if (l == NULL)
		return;
	c = l->owner;
	pthread_mutex_lock(&c->lock);
	list_unref_locked(l);
	pthread_mutex_unlock(&c->lock);
}

static void unlink_entry(struct dircache *c, struct dentry *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		c->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		c->tail = d->prev;
	d->prev = d->next = NULL;
}

static void push_front(struct dircache *c, struct dentry *d)
{
	d->next = c->head;
	d->prev = NULL;
	if (c->head)
		c->head->prev = d;
	c->head = d;
	if (c->tail == NULL)
		c->tail = d;
}

static void free_entry(struct dircache *c, struct dentry *d)
{
	unlink_entry(c, d);
	c->count--;
	list_unref_locked(d->list);
	free(d->id);
	free(d->path);
	free(d);
}

/* Drops listings past the bound, oldest first, sparing any in use. */
static void evict(struct dircache *c)
{
	struct dentry *d = c->tail, *prev;

	for (; d && c->count > c->max; d = prev) {
		prev = d->prev;
		if (!d->busy && d->waiters == 0)
			free_entry(c, d);
	}
}

void dircache_free(struct dircache *c)
{
	if (c == NULL)
		return;
	while (c->head)
		free_entry(c, c->head);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static struct dentry *find(struct dircache *c, const char *id, const char *path)
{
	for (struct dentry *d = c->head; d; d = d->next)
		if (strcmp(d->path, path) == 0 && strcmp(d->id, id) == 0)
			return d;
	return NULL;
}

static bool fresh(const struct dircache *c, const struct dentry *d)
{
	return d->list && c->ttl_ms && clock_mono_ms() - d->fetched_ms < c->ttl_ms;
}

static struct dentry *find_or_add(struct dircache *c, const char *id, const char *path)
{
	struct dentry *d = find(c, id, path);

	if (d) {
		unlink_entry(c, d);
		push_front(c, d);
		return d;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL || !(d->id = strdup(id)) ||
	    !(d->path = strdup(path))) {
		if (d) {
			free(d->id);
			free(d);
		}
		return NULL;
	}
	push_front(c, d);
	c->count++;
	return d;
}

static struct timespec mono_after(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Waits while another caller fetches d; false after DIRCACHE_WAIT_MS. */
static bool wait_idle(struct dircache *c, struct dentry *d)
{
	struct timespec until = mono_after(DIRCACHE_WAIT_MS);
	int rc = 0;

	d->waiters++;
	while (d->busy && rc == 0)
		rc = pthread_cond_timedwait(&c->done, &c->lock, &until);
	d->waiters--;
	return !d->busy;
}

/* Puts l (a reference the caller gives) in d's place, as a new version. */
static void replace(struct dircache *c, struct dentry *d, struct dirlist *l)
{
	list_unref_locked(d->list);
	d->list = l;
	l->version = ++c->versions;
}

/* Keeps fetched listing l in d unless a drop raced the fetch (gen). */
static void keep(struct dircache *c, struct dentry *d, struct dirlist *l, uint64_t gen)
{
	if (gen != d->gen)
		return;
	l->refs++;
	replace(c, d, l);
	d->fetched_ms = clock_mono_ms();
}

int dircache_get(struct dircache *c, const char *id, const char *path, dircache_fetch_fn fetch,
		 void *ctx, struct dirlist **out)
{
	struct dirlist *l = NULL;
	struct dirvec *vec;
	struct dentry *d;
	uint64_t gen;
	int err;

	*out = NULL;
	pthread_mutex_lock(&c->lock);
	if ((d = find_or_add(c, id, path)) == NULL) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	if (!wait_idle(c, d)) {
		pthread_mutex_unlock(&c->lock);
		return -ETIMEDOUT;
	}
	if (fresh(c, d)) {
		d->list->refs++;
		*out = d->list;
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	d->busy = true;
	gen = d->gen;
	pthread_mutex_unlock(&c->lock);

	l = calloc(1, sizeof(*l));
	vec = calloc(1, sizeof(*vec));
	err = l && vec ? fetch(ctx, &vec->v, &vec->n) : -ENOMEM;
	if (err == 0) {
		share(l, vec);
		l->refs = 1;
		l->owner = c;
	} else {
		free(vec);
		free(l);
	}

	pthread_mutex_lock(&c->lock);
	d->busy = false;
	pthread_cond_broadcast(&c->done);
	if (err == 0) {
		keep(c, d, l, gen);
		*out = l;
	} else if (d->list == NULL && d->waiters == 0) {
		free_entry(c, d);
	}
	evict(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

struct dirlist *dircache_peek(struct dircache *c, const char *id, const char *path)
{
	struct dirlist *l = NULL;
	struct dentry *d;

	pthread_mutex_lock(&c->lock);
	if ((d = find(c, id, path)) && !d->busy && fresh(c, d)) {
		l = d->list;
		l->refs++;
	}
	pthread_mutex_unlock(&c->lock);
	return l;
}

/* Is p path itself, or (subtree) below it? */
static bool covers(const char *path, const char *p, int subtree)
{
	size_t n = strlen(path);

	if (strcmp(p, path) == 0)
		return true;
	if (!subtree || strncmp(p, path, n) != 0)
		return false;
	return p[n] == '/' || (n > 0 && path[n - 1] == '/');
}

/* Forgets d's listing; an entry in use stays, its generation moved on. */
static void drop_entry(struct dircache *c, struct dentry *d)
{
	d->gen++;
	if (d->busy || d->waiters) {
		list_unref_locked(d->list);
		d->list = NULL;
	} else {
		free_entry(c, d);
	}
}

void dircache_drop(struct dircache *c, const char *id, const char *path, int subtree)
{
	struct dentry *d, *next;

	pthread_mutex_lock(&c->lock);
	for (d = c->head; d; d = next) {
		next = d->next;
		if (strcmp(d->id, id) == 0 && covers(path, d->path, subtree))
			drop_entry(c, d);
	}
	pthread_mutex_unlock(&c->lock);
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
	f->owner = l->owner;
	f->version = l->version;
	return f;
}

/* A listing over old's entries with name as e (copied), or gone (stale,
 * or known absent when e is NULL and stale false); NULL on ENOMEM.
 * Locked. */
static struct dirlist *derive(struct dirlist *old, const char *name, const struct fentry *e,
			      bool stale)
{
	struct dirlist *l = calloc(1, sizeof(*l)), *flat;
	bool ok = l && (l->extra = calloc(old->n_extra + 1, sizeof(*l->extra))) != NULL &&
		  (l->gone = calloc(old->n_gone + 1, sizeof(*l->gone))) != NULL;

	for (size_t i = 0; ok && i < old->n_extra; i++)
		if (strcmp(old->extra[i].name, name) != 0)
			ok = fentry_copy(&old->extra[i], &l->extra[l->n_extra++]) == 0;
	for (size_t i = 0; ok && i < old->n_gone; i++)
		if (strcmp(old->gone[i].name, name) != 0)
			ok = add_gone(l, old->gone[i].name, old->gone[i].stale);
	if (ok && e)
		ok = fentry_copy(e, &l->extra[l->n_extra++]) == 0;
	else if (ok && (stale || in_vec(old, name)))
		ok = add_gone(l, name, stale);
	if (!ok) {
		if (l)
			list_free(l);
		return NULL;
	}
	share(l, old->vec);
	l->refs = 1;
	l->owner = old->owner;
	if (l->n_extra + l->n_gone <= DIRCACHE_MAX_DELTA)
		return l;
	flat = flat_copy(l);
	list_free(l);
	return flat;
}

void dircache_forget_name(struct dircache *c, const char *id, const char *dir, const char *name)
{
	struct dentry *d;
	struct dirlist *l = NULL;

	pthread_mutex_lock(&c->lock);
	if ((d = find(c, id, dir)) == NULL) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (!d->busy && fresh(c, d) &&
	    (dirlist_stale(d->list, name) || d->list->n_stale < DIRCACHE_MAX_STALE))
		l = derive(d->list, name, NULL, true);
	if (l)
		replace(c, d, l);
	else
		drop_entry(c, d);
	pthread_mutex_unlock(&c->lock);
}

void dircache_settle(struct dircache *c, const char *id, const char *dir, uint64_t version,
		     const char *name, const struct fentry *e)
{
	struct dentry *d;
	struct dirlist *l;

	pthread_mutex_lock(&c->lock);
	if ((d = find(c, id, dir)) && !d->busy && d->list && d->list->version == version &&
	    dirlist_stale(d->list, name) && (l = derive(d->list, name, e, false)) != NULL)
		replace(c, d, l);
	pthread_mutex_unlock(&c->lock);
}

void dircache_drop_all(struct dircache *c, const char *id)
{
	struct dentry *d, *next;

	pthread_mutex_lock(&c->lock);
	for (d = c->head; d; d = next) {
		next = d->next;
		if (id == NULL || strcmp(d->id, id) == 0)
			drop_entry(c, d);
	}
	pthread_mutex_unlock(&c->lock);
}

size_t dircache_count(struct dircache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

const struct fentry *dirlist_find(const struct dirlist *l, const char *name)
{
	for (size_t i = 0; i < l->n_extra; i++)
		if (strcmp(l->extra[i].name, name) == 0)
			return &l->extra[i];
	return in_gone(l, name) ? NULL : in_vec(l, name);
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
		pthread_mutex_lock(&l->owner->lock);
		l->refs++;
		pthread_mutex_unlock(&l->owner->lock);
		*out = l;
		return 0;
	}
	*out = flat_copy(l);
	return *out ? 0 : -ENOMEM;
}

int dirlist_overlay(const struct dirlist *base, struct fentry *extra, size_t n_extra,
		    struct dirlist **out)
{
	struct dirlist *l = calloc(1, sizeof(*l));
	bool ok = l && (l->extra = calloc(base->n_extra + n_extra + 1, sizeof(*l->extra))) &&
		  (l->gone = calloc(base->n_gone + 1, sizeof(*l->gone)));

	for (size_t i = 0; ok && i < n_extra; i++) {
		l->extra[l->n_extra++] = extra[i];
		memset(&extra[i], 0, sizeof(extra[i]));
	}
	/* A name being written here is what the overlay says it is. */
	for (size_t i = 0; ok && i < base->n_extra; i++) {
		bool shadowed = false;

		for (size_t j = 0; j < n_extra && !shadowed; j++)
			shadowed = strcmp(l->extra[j].name, base->extra[i].name) == 0;
		if (!shadowed)
			ok = fentry_copy(&base->extra[i], &l->extra[l->n_extra++]) == 0;
	}
	for (size_t i = 0; ok && i < base->n_gone; i++) {
		bool shadowed = false;

		for (size_t j = 0; j < n_extra && !shadowed; j++)
			shadowed = strcmp(l->extra[j].name, base->gone[i].name) == 0;
		if (!shadowed)
			ok = add_gone(l, base->gone[i].name, base->gone[i].stale);
	}
	if (!ok) {
		if (l)
			list_free(l);
		return -ENOMEM;
	}
	pthread_mutex_lock(&base->owner->lock);
	share(l, base->vec);
	pthread_mutex_unlock(&base->owner->lock);
	l->refs = 1;
	l->owner = base->owner;
	l->version = base->version;
	*out = l;
	return 0;
}
