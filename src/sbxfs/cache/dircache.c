/* Listings of directories inside sandboxes; see dircache.h.
 *
 * One list, most recently used first: lookups are linear, which at the
 * bound (max_dirs, a few hundred) costs less than the request a miss
 * sends.  An entry with a fetch in flight stays in the list (with or
 * without an older listing) so later callers find and wait for it.
 * Listings never change once made (dirlist.c): a change to one name
 * makes a new one in the old one's place, and readers keep what they
 * hold. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "dirlist_priv.h"

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
	pthread_mutex_t lock;       /* guards everything below */
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
	dirlist_put(d->list);
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
	dirlist_put(d->list);
	d->list = l;
	l->version = ++c->versions;
}

/* Keeps fetched listing l in d unless a drop raced the fetch (gen). */
static void keep(struct dircache *c, struct dentry *d, struct dirlist *l, uint64_t gen)
{
	if (gen != d->gen)
		return;
	replace(c, d, dirlist_get(l));
	d->fetched_ms = clock_mono_ms();
}

int dircache_get(struct dircache *c, const char *id, const char *path, dircache_fetch_fn fetch,
		 void *ctx, struct dirlist **out)
{
	struct dirlist *l = NULL;
	struct fentry *v = NULL;
	struct dentry *d;
	uint64_t gen;
	size_t n = 0;
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
		*out = dirlist_get(d->list);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	d->busy = true;
	gen = d->gen;
	pthread_mutex_unlock(&c->lock);

	if ((err = fetch(ctx, &v, &n)) == 0 && (l = dirlist_fetched(v, n)) == NULL)
		err = -ENOMEM;

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
	if ((d = find(c, id, path)) && !d->busy && fresh(c, d))
		l = dirlist_get(d->list);
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
		dirlist_put(d->list);
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
		l = dirlist_derive(d->list, name, NULL, true);
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
	    dirlist_stale(d->list, name) && (l = dirlist_derive(d->list, name, e, false)) != NULL)
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

