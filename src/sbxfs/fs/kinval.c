/* The kernel-entry invalidation queue; see kinval.h. */
#include <errno.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kinval.h"
#include "util/log.h"

#define QUEUE_MAX 100000

struct item {
	struct item *next;
	bool path;                /* a file's path (attributes), not a root entry */
	char name[];
};

/* A watched file: key "ID/NAME" of its process, its path in the mount. */
struct watch {
	struct watch *next;
	char *key, *path;
	bool queued;              /* its path is in the queue now */
};

struct kinval {
	pthread_mutex_t lock;     /* guards everything below */
	pthread_cond_t cond;      /* work queued, or stop */
	struct item *head, *tail;
	size_t n;
	bool running, stop;
	pthread_t thread;
	struct fuse *fuse;
	struct kinval_stats stats;
	struct watch *watches;    /* few: the output files open now */
};

struct kinval *kinval_new(void)
{
	struct kinval *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	return k;
}

static void send_one(struct kinval *k, const struct item *it)
{
	const char *name = it->name;

	if (it->path) {
		int e = fuse_invalidate_path(k->fuse, name);

		if (e < 0 && e != -ENOENT)
			log_debug("kernel attributes of %s not invalidated: %s", name,
				  strerror(-e));
		return;
	}
	int r = fuse_lowlevel_notify_inval_entry(fuse_get_session(k->fuse), FUSE_ROOT_ID,
						 name, strlen(name));

	/* -ENOENT: the kernel held no such entry; nothing to forget. */
	if (r < 0 && r != -ENOENT)
		log_debug("kernel entry /%s not invalidated: %s", name, strerror(-r));
}

static void *kinval_main(void *arg)
{
	struct kinval *k = arg;
	struct item *it;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->head && !k->stop)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop)
			break;
		it = k->head;
		k->head = it->next;
		if (!k->head)
			k->tail = NULL;
		k->n--;
		k->stats.sent++;
		for (struct watch *w = k->watches; it->path && w; w = w->next)
			if (strcmp(w->path, it->name) == 0)
				w->queued = false;
		pthread_mutex_unlock(&k->lock);
		send_one(k, it);
		free(it);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int kinval_start(struct kinval *k, struct fuse *f)
{
	int r;

	k->fuse = f;
	r = pthread_create(&k->thread, NULL, kinval_main, k);
	if (r != 0)
		return -r;
	pthread_mutex_lock(&k->lock);
	k->running = true;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Queues name, with k->lock held and it allocated for it (or NULL);
 * false when it was dropped. */
static bool enqueue_locked(struct kinval *k, struct item *it, const char *name, bool path)
{
	if (!it || !k->running || k->stop || k->n >= QUEUE_MAX) {
		k->stats.dropped++;
		free(it);
		return false;
	}
	memcpy(it->name, name, strlen(name) + 1);
	it->path = path;
	it->next = NULL;
	if (k->tail)
		k->tail->next = it;
	else
		k->head = it;
	k->tail = it;
	k->n++;
	pthread_cond_signal(&k->cond);
	return true;
}

void kinval_root_entry(struct kinval *k, const char *name)
{
	struct item *it;

	if (!k)
		return;
	it = malloc(sizeof(*it) + strlen(name) + 1);
	pthread_mutex_lock(&k->lock);
	enqueue_locked(k, it, name, false);
	pthread_mutex_unlock(&k->lock);
}

void kinval_watch(struct kinval *k, const char *key, const char *path)
{
	struct watch *w = calloc(1, sizeof(*w));

	if (!k || !w || !(w->key = strdup(key)) || !(w->path = strdup(path))) {
		if (w)
			free(w->key);
		free(w);
		return;   /* unwatched: the size shows after the attribute timeout */
	}
	pthread_mutex_lock(&k->lock);
	w->next = k->watches;
	k->watches = w;
	pthread_mutex_unlock(&k->lock);
}

static void watch_free(struct watch *w)
{
	free(w->key);
	free(w->path);
	free(w);
}

void kinval_unwatch(struct kinval *k, const char *key, const char *path)
{
	struct watch **pp, *w = NULL;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	for (pp = &k->watches; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->key, key) && !strcmp((*pp)->path, path)) {
			w = *pp;
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&k->lock);
	if (w)
		watch_free(w);
}

void kinval_touch(struct kinval *k, const char *key)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	for (struct watch *w = k->watches; w; w = w->next) {
		if (w->queued || strcmp(w->key, key) != 0)
			continue;
		/* once per queued path, so a malloc under the lock is rare */
		w->queued = enqueue_locked(k, malloc(sizeof(struct item) + strlen(w->path) + 1),
					   w->path, true);
	}
	pthread_mutex_unlock(&k->lock);
}

/* The root entries of a gone sandbox: its name, and its ID, by which it
 * could be looked up too. */
static void forget_entry(struct kinval *k, const struct sbx_dirent *d)
{
	kinval_root_entry(k, d->name);
	if (strcmp(d->name, d->sbx->id) != 0)
		kinval_root_entry(k, d->sbx->id);
}

void kinval_on_refresh(void *ctx, const struct sbx_listing *old, const struct sbx_listing *now)
{
	size_t i = 0, j = 0, n_old = listing_count(old);

	/* both sorted by name: one merge */
	while (i < n_old) {
		const struct sbx_dirent *a = listing_at(old, i), *b = listing_at(now, j);
		int c = b ? strcmp(a->name, b->name) : -1;

		if (c < 0) {
			forget_entry(ctx, a);
			i++;
		} else if (c > 0) {
			j++;
		} else {
			if (strcmp(a->sbx->id, b->sbx->id) != 0)
				forget_entry(ctx, a);
			i++;
			j++;
		}
	}
}

void kinval_stop(struct kinval *k)
{
	struct item *it;
	bool running;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	running = k->running;
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	if (running)
		pthread_join(k->thread, NULL);
	pthread_mutex_lock(&k->lock);
	k->running = false;
	while ((it = k->head)) {
		k->head = it->next;
		free(it);
	}
	k->tail = NULL;
	k->n = 0;
	pthread_mutex_unlock(&k->lock);
}

void kinval_free(struct kinval *k)
{
	if (!k)
		return;
	kinval_stop(k);
	while (k->watches) {
		struct watch *w = k->watches;

		k->watches = w->next;
		watch_free(w);
	}
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void kinval_get_stats(struct kinval *k, struct kinval_stats *out)
{
	pthread_mutex_lock(&k->lock);
	*out = k->stats;
	pthread_mutex_unlock(&k->lock);
}
