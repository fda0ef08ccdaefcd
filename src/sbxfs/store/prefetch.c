/* Walk-ahead (see prefetch.h).
 *
 * Each fetch ahead is an item: a file's body or a directory's listing,
 * queued, then running on a worker, then (a body) done and waiting for
 * its open.  Items are found by (id, path) in one short list (at most
 * PREFETCH_KEEP), which p->lock guards with everything else here; a
 * worker holds its item while fetching, unlocked, and frees it after if
 * it was dropped meanwhile and nobody waits on it. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefetch.h"
#include "files_priv.h"
#include "common/clock.h"
#include "http/http.h"

enum item_state { QUEUED, RUNNING, DONE, FAILED };

struct item {
	struct item *next;           /* p->items */
	struct item *qnext;          /* p->queue, while QUEUED */
	bool is_dir;                 /* a listing, else a body */
	enum item_state state;
	bool dropped;                /* out of p->items; the last user frees it */
	int waiters;                 /* opens waiting for it to end */
	char id[65];
	char *path;
	uint64_t size;               /* the listing's, at queueing */
	int64_t mtime_ms;
	char *data;                  /* DONE: the body, len bytes */
	size_t len;
	int64_t done_ms;
};

/* Where a walker was last: the index of its last open (or listing) in
 * the listing of directory dir. */
struct walk {
	char id[65];
	char dir[PATH_MAX];
	size_t index;
	bool set;
};

struct prefetch {
	struct files *f;
	unsigned age_ms;
	pthread_mutex_t lock;
	pthread_cond_t work;         /* queued, or stop */
	pthread_cond_t ended;        /* an item ended (DONE or FAILED) */
	struct item *items;
	size_t n_items;
	struct item *queue, *queue_tail;
	struct walk opens, lists;
	pthread_t threads[PREFETCH_THREADS];
	unsigned n_threads;
	bool stop;
	int cancel;                  /* atomic: ends the fetches under way */
	unsigned long long fetched, used;
};

static void item_free(struct item *it)
{
	free(it->data);
	free(it->path);
	free(it);
}

struct prefetch *prefetch_new(struct files *f, unsigned age_ms)
{
	struct prefetch *p;

	if (age_ms == 0 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->f = f;
	p->age_ms = age_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->ended, NULL);
	return p;
}

void prefetch_free(struct prefetch *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	__atomic_store_n(&p->cancel, 1, __ATOMIC_RELEASE);   /* not worth waiting for */
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->ended);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	while (p->items) {
		struct item *it = p->items;

		p->items = it->next;
		item_free(it);
	}
	pthread_cond_destroy(&p->ended);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* ---- the item list (locked) ---- */

static struct item **find(struct prefetch *p, const char *id, const char *path)
{
	struct item **pp;

	for (pp = &p->items; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->path, path) == 0 && strcmp((*pp)->id, id) == 0)
			break;
	return pp;
}

static void unqueue(struct prefetch *p, struct item *it)
{
	struct item *prev = NULL;

	for (struct item *q = p->queue; q; prev = q, q = q->qnext)
		if (q == it) {
			if (prev)
				prev->qnext = q->qnext;
			else
				p->queue = q->qnext;
			if (p->queue_tail == q)
				p->queue_tail = prev;
			return;
		}
}

/* Takes *pp's item out of the list: freed now unless a worker or a
 * waiter still holds it. */
static void unlink_item(struct prefetch *p, struct item **pp)
{
	struct item *it = *pp;

	*pp = it->next;
	p->n_items--;
	if (it->state == QUEUED)
		unqueue(p, it);
	if (it->state == RUNNING || it->waiters > 0)
		it->dropped = true;
	else
		item_free(it);
}

/* Bodies nobody took within age_ms go, making room. */
static void expire(struct prefetch *p)
{
	int64_t now = clock_mono_ms();

	for (struct item **pp = &p->items; *pp;) {
		struct item *it = *pp;

		if ((it->state == DONE || it->state == FAILED) &&
		    now - it->done_ms > (int64_t)p->age_ms)
			unlink_item(p, pp);
		else
			pp = &it->next;
	}
}

static void *worker(void *arg);

/* Queues a fetch of e, at path, unless there is no room: true when
 * queued.  Locked. */
static bool enqueue(struct prefetch *p, const char *id, const char *path, const struct fentry *e)
{
	struct item *it;

	if (p->n_items >= PREFETCH_KEEP)
		expire(p);
	if (p->n_items >= PREFETCH_KEEP || (it = calloc(1, sizeof(*it))) == NULL)
		return false;
	if ((it->path = strdup(path)) == NULL) {
		free(it);
		return false;
	}
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->is_dir = e->type == FENTRY_DIR;
	it->size = e->size;
	it->mtime_ms = e->mtime_ms;
	it->next = p->items;
	p->items = it;
	p->n_items++;
	if (p->queue_tail)
		p->queue_tail->qnext = it;
	else
		p->queue = it;
	p->queue_tail = it;
	/* The threads start with the first fetch: after sbxfs has become a
	 * daemon, whose fork would not keep them. */
	if (p->n_threads < PREFETCH_THREADS &&
	    pthread_create(&p->threads[p->n_threads], NULL, worker, p) == 0)
		p->n_threads++;
	pthread_cond_signal(&p->work);
	return true;
}

/* ---- the workers ---- */

static int fetch(struct prefetch *p, struct item *it, struct http_membuf *m)
{
	struct http_sink sink = { http_membuf_write, m };
	struct dirlist *l = NULL;
	uint64_t got = 0;
	int err;

	if (it->is_dir) {
		err = files_list(p->f, it->id, it->path, &l);
		dirlist_put(l);
		return err;
	}
	m->cap = (size_t)it->size;
	if ((m->p = malloc(m->cap ? m->cap : 1)) == NULL)
		return -ENOMEM;
	err = files_read(p->f, it->id, it->path, 0, it->size, &sink, &got, &p->cancel);
	return err == 0 && m->len != it->size ? -EIO : err;
}

static void *worker(void *arg)
{
	struct prefetch *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct item *it;
		struct http_membuf m = { 0 };
		int err;

		while (!p->stop && p->queue == NULL)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		it = p->queue;
		p->queue = it->qnext;
		if (p->queue == NULL)
			p->queue_tail = NULL;
		it->state = RUNNING;
		pthread_mutex_unlock(&p->lock);
		err = fetch(p, it, &m);
		pthread_mutex_lock(&p->lock);
		p->fetched++;
		it->state = err ? FAILED : DONE;
		it->done_ms = clock_mono_ms();
		it->data = m.p;
		it->len = m.len;
		if (it->is_dir && !it->dropped) {
			/* The listing cache has it now. */
			struct item **pp = find(p, it->id, it->path);

			if (*pp == it)
				unlink_item(p, pp);
		} else if (it->dropped && it->waiters == 0) {
			item_free(it);
		}
		pthread_cond_broadcast(&p->ended);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- walks ---- */

/* Notes that the walker is at path (in the listing of its parent) and,
 * when its last step was to an earlier sibling, queues fetches of the
 * next PREFETCH_AHEAD entries of the kind dirs says. */
static void step(struct prefetch *p, struct walk *w, const char *id, const char *path, bool dirs)
{
	char dir[PATH_MAX];
	const char *name = files_split(path, dir, sizeof(dir));
	struct dirlist *l = dircache_peek(p->f->dirs, id, dir);
	const struct fentry *e = l ? dirlist_as_fetched(l, name) : NULL;
	size_t i, queued = 0;
	bool walking;

	/* Only a name as fetched has a place among its neighbours. */
	if (e == NULL) {
		dirlist_put(l);
		return;
	}
	i = (size_t)(e - l->v);
	pthread_mutex_lock(&p->lock);
	walking = w->set && strcmp(w->id, id) == 0 && strcmp(w->dir, dir) == 0 && w->index < i &&
		  i - w->index <= PREFETCH_AHEAD + 1;
	snprintf(w->id, sizeof(w->id), "%s", id);
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->index = i;
	w->set = true;
	/* Looks a little further than it fetches, past entries of the
	 * other kind (a directory among files). */
	for (size_t j = i + 1; walking && !p->stop && j < l->n && j <= i + 4 * PREFETCH_AHEAD &&
	     queued < PREFETCH_AHEAD; j++) {
		const struct fentry *s = &l->v[j];
		bool fits = dirs ? s->type == FENTRY_DIR && s->symlink_target == NULL
				 : s->type == FENTRY_FILE && s->symlink_target == NULL &&
				   s->size > 0 && s->size <= PREFETCH_FILE_MAX;

		char sub[PATH_MAX];
		struct dirlist *have = NULL;

		/* A name changed since the fetch is not what s says. */
		if (!fits || dirlist_as_fetched(l, s->name) != s ||
		    snprintf(sub, sizeof(sub), "%s/%s", strcmp(dir, "/") ? dir : "", s->name) >=
			    (int)sizeof(sub))
			continue;
		/* Already fetched or under way: counts as ahead. */
		if (*find(p, id, sub) != NULL ||
		    (dirs && (have = dircache_peek(p->f->dirs, id, sub)) != NULL)) {
			dirlist_put(have);
			queued++;
		} else if (enqueue(p, id, sub, s)) {
			queued++;
		} else {
			break;   /* no room */
		}
	}
	pthread_mutex_unlock(&p->lock);
	dirlist_put(l);
}

void prefetch_opened(struct prefetch *p, const char *id, const char *path)
{
	if (p)
		step(p, &p->opens, id, path, false);
}

void prefetch_listed(struct prefetch *p, const char *id, const char *path)
{
	if (p && strcmp(path, "/") != 0)
		step(p, &p->lists, id, path, true);
}

int prefetch_take(struct prefetch *p, const char *id, const char *path, uint64_t size,
		  int64_t mtime_ms, char **buf, size_t *len)
{
	struct item **pp, *it;
	int err = -ENOENT;

	if (p == NULL)
		return -ENOENT;
	pthread_mutex_lock(&p->lock);
	if ((it = *(pp = find(p, id, path))) == NULL || it->is_dir) {
		pthread_mutex_unlock(&p->lock);
		return -ENOENT;
	}
	if (it->state == RUNNING) {
		it->waiters++;
		while (it->state == RUNNING && !p->stop)
			pthread_cond_wait(&p->ended, &p->lock);
		it->waiters--;
		if (it->dropped) {
			if (it->waiters == 0 && it->state != RUNNING)
				item_free(it);
			pthread_mutex_unlock(&p->lock);
			return -ENOENT;
		}
		pp = find(p, id, path);
	}
	if (it->state == DONE && it->size == size && it->mtime_ms == mtime_ms &&
	    clock_mono_ms() - it->done_ms <= (int64_t)p->age_ms) {
		*buf = it->data;
		*len = it->len;
		it->data = NULL;
		p->used++;
		err = 0;
	}
	/* Taken, stale or queued (the caller reads it now): gone either way,
	 * so each file is fetched once. */
	if (*pp == it)
		unlink_item(p, pp);
	pthread_mutex_unlock(&p->lock);
	return err;
}

void prefetch_counts(struct prefetch *p, unsigned long long *fetched,
		     unsigned long long *used)
{
	*fetched = *used = 0;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	*fetched = p->fetched;
	*used = p->used;
	pthread_mutex_unlock(&p->lock);
}

void prefetch_drop(struct prefetch *p, const char *id, const char *dir)
{
	size_t n = dir ? strlen(dir) : 0;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	for (struct item **pp = &p->items; *pp;) {
		struct item *it = *pp;
		bool under = dir == NULL || strcmp(dir, "/") == 0 ||
			     (strncmp(it->path, dir, n) == 0 && it->path[n] == '/');

		if (strcmp(it->id, id) == 0 && under)
			unlink_item(p, pp);
		else
			pp = &it->next;
	}
	pthread_mutex_unlock(&p->lock);
}
