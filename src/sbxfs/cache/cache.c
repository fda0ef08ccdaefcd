/* The sandbox listing cache (listing.c builds the snapshots).
 *
 * Own changes are applied to the current listing at once (a new listing
 * sharing the sandboxes) and kept in a log stamped with a generation.  A
 * refresh remembers the generation it started at and re-applies the later
 * changes to what it fetched, so a reply that raced a kill cannot bring
 * the sandbox back.  Changes at or before the start generation of the last
 * installed refresh are pruned: that refresh already saw their effect.
 *
 * Refreshes run on one refresher thread of the cache's own, started at the
 * first need, never on a caller's: a caller that must wait (no listing, or
 * one older than the stale limit) waits on a condition in short slices, so
 * it can give up when its FUSE request is interrupted or its wait bound
 * passes while the refresh goes on for the others.  A listing between the
 * TTL and the stale limit is served at once and one refresh runs behind
 * it, but not sooner than a TTL after the last refresh ended (so listings
 * that take longer than the TTL do not run back to back).  After a failed
 * refresh the next background one waits a TTL (at least a second), so a
 * dead backend is not asked for a listing on every lookup. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cache_priv.h"
#include "common/clock.h"

#define WAIT_SLICE_MS 50        /* how soon a waiter notices an interrupt */

struct sbx_cache {
	sbx_fetch_fn fetch;
	void *ctx;
	/* Set before the first cache_get and constant after. */
	unsigned ttl_ms, stale_ms, wait_ms;
	bool (*interrupted)(void);
	cache_refresh_fn on_refresh;
	void *on_refresh_ctx;

	pthread_mutex_t lock;        /* guards everything below */
	pthread_cond_t done;         /* a refresh finished */
	pthread_cond_t kick;         /* the refresher has work, or must stop */
	pthread_t refresher;
	bool refresher_started, stopping;
	struct sbx_listing *cur;     /* NULL: nothing cached */
	long fetched_at;             /* monotonic ms when cur's fetch began */
	bool refreshing;             /* asked of, or running on, the refresher */
	long refresh_started;        /* monotonic ms */
	uint64_t refresh_seq;        /* refreshes finished */
	int refresh_result;          /* of the last finished refresh */
	struct api_error refresh_err;
	long failed_at;              /* monotonic start of the last failed one */
	long finished_at;            /* monotonic end of the last refresh */
	time_t failing_since;        /* wall clock of the first failure in a row */
	uint64_t gen;                /* own changes recorded */
	uint64_t invalidations;
	struct change *changes;      /* ordered by gen */
	size_t n_changes, cap_changes;
	struct cache_stats stats;
};

static long now_ms(void)
{
	return (long)clock_mono_ms();
}

struct sbx_cache *cache_new(sbx_fetch_fn fetch, void *ctx, unsigned ttl_ms)
{
	struct sbx_cache *c;

	if (!fetch)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fetch = fetch;
	c->ctx = ctx;
	c->ttl_ms = ttl_ms;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	pthread_cond_init(&c->kick, NULL);
	return c;
}

void cache_set_listener(struct sbx_cache *c, cache_refresh_fn fn, void *ctx)
{
	c->on_refresh = fn;
	c->on_refresh_ctx = ctx;
}

void cache_set_limits(struct sbx_cache *c, unsigned stale_ms, unsigned wait_ms,
		      bool (*interrupted)(void))
{
	c->stale_ms = stale_ms;
	c->wait_ms = wait_ms;
	c->interrupted = interrupted;
}

static void change_clear(struct change *ch)
{
	free(ch->id);
	sbx_unref(ch->sbx);
}

void cache_free(struct sbx_cache *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->kick);
	pthread_mutex_unlock(&c->lock);
	if (c->refresher_started)
		pthread_join(c->refresher, NULL);
	listing_put(c->cur);
	for (size_t i = 0; i < c->n_changes; i++)
		change_clear(&c->changes[i]);
	free(c->changes);
	pthread_cond_destroy(&c->kick);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}


/* The changes after gen (the log is ordered by gen). */
static const struct change *changes_after(const struct sbx_cache *c, uint64_t gen, size_t *n)
{
	size_t k = c->n_changes;

	while (k > 0 && c->changes[k - 1].gen > gen)
		k--;
	*n = c->n_changes - k;
	return c->changes + k;
}


static void prune_changes(struct sbx_cache *c, uint64_t upto)
{
	size_t k = 0;

	while (k < c->n_changes && c->changes[k].gen <= upto)
		change_clear(&c->changes[k++]);
	if (k == 0)
		return;
	memmove(c->changes, c->changes + k, (c->n_changes - k) * sizeof(*c->changes));
	c->n_changes -= k;
}

/* Stores a refresh's outcome for its waiters and installs l (the
 * listing built, NULL on failure); lock held.  Returns the listing l
 * replaced (the caller drops it), NULL if none. */
static struct sbx_listing *finish_refresh(struct sbx_cache *c, int r, struct api_error *err,
					  struct sbx_listing *l, long started, uint64_t start_gen,
					  uint64_t start_inval)
{
	struct sbx_listing *old = NULL;

	if (r == 0) {
		old = c->cur;
		c->cur = l;
		/* A refresh that an invalidation overtook is served to its
		 * waiters but counts as stale. */
		c->fetched_at = start_inval == c->invalidations ? started : started - (long)c->ttl_ms - 1;
		prune_changes(c, start_gen);
		c->stats.refreshes++;
		c->failing_since = 0;
	} else {
		c->stats.refresh_errors++;
		if (!err->err)
			err->err = r;
		err->when = err->when ? err->when : time(NULL);
		c->failed_at = started;
		if (!c->failing_since)
			c->failing_since = err->when;
	}
	c->refresh_result = r;
	c->refresh_err = *err;
	c->refreshing = false;
	c->finished_at = now_ms();
	c->refresh_seq++;
	pthread_cond_broadcast(&c->done);
	return old;
}

/* Tells the listener what a refresh changed, outside the lock; lock held
 * on entry and exit.  Takes old. */
static void tell_listener(struct sbx_cache *c, struct sbx_listing *old)
{
	struct sbx_listing *now;

	if (!c->on_refresh || !old || !c->cur) {
		listing_put(old);
		return;
	}
	now = listing_get(c->cur);
	pthread_mutex_unlock(&c->lock);
	c->on_refresh(c->on_refresh_ctx, old, now);
	listing_put(now);
	listing_put(old);
	pthread_mutex_lock(&c->lock);
}

/* Called with the lock held and c->refreshing set by the caller; returns
 * with the lock held and the result stored for waiters. */
static int refresh_locked(struct sbx_cache *c)
{
	uint64_t start_gen = c->gen, start_inval = c->invalidations;
	long started = now_ms();
	struct api_error err = { 0 };
	struct sbx_listing *l = NULL;
	struct sbx **items = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_unlock(&c->lock);
	r = c->fetch(c->ctx, &items, &n, &err);
	if (r == 0) {
		long m = listing_dedupe(items, n);

		if (m < 0)
			r = -ENOMEM;
		else
			n = (size_t)m;
	}
	pthread_mutex_lock(&c->lock);
	if (r == 0) {
		/* Build outside the lock with the changes known now (their
		 * strings and sandboxes live until this refresh prunes them);
		 * redo it under the lock in the rare case more came meanwhile. */
		uint64_t snap_gen = c->gen;
		size_t nch;
		const struct change *ch = changes_after(c, start_gen, &nch);
		struct change *snap = malloc((nch + 1) * sizeof(*snap));

		if (snap) {
			if (nch)
				memcpy(snap, ch, nch * sizeof(*snap));
			pthread_mutex_unlock(&c->lock);
			l = apply_and_build(items, n, snap, nch);
			free(snap);
			pthread_mutex_lock(&c->lock);
		}
		if (!l || c->gen != snap_gen) {
			listing_put(l);
			ch = changes_after(c, start_gen, &nch);
			l = apply_and_build(items, n, ch, nch);
		}
		if (!l) {
			r = -ENOMEM;
			snprintf(err.message, sizeof(err.message), "out of memory");
		}
	}
	if (r > 0)
		r = -EIO;
	tell_listener(c, finish_refresh(c, r, &err, l, started, start_gen, start_inval));
	sbx_array_free(items, n);
	return r;
}

/* The refresher thread: runs one refresh per kick until the cache stops. */
static void *refresher_main(void *arg)
{
	struct sbx_cache *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->refreshing && !c->stopping)
			pthread_cond_wait(&c->kick, &c->lock);
		if (c->stopping)
			break;
		refresh_locked(c);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Asks for a refresh unless one runs; lock held.  Without a refresher
 * thread (none could be started) the caller refreshes itself. */
static void start_refresh(struct sbx_cache *c)
{
	if (c->refreshing)
		return;
	c->refreshing = true;
	c->refresh_started = now_ms();
	if (!c->refresher_started &&
	    pthread_create(&c->refresher, NULL, refresher_main, c) == 0)
		c->refresher_started = true;
	if (c->refresher_started)
		pthread_cond_signal(&c->kick);
	else
		refresh_locked(c);
}

static bool fresh(const struct sbx_cache *c, long now)
{
	return c->cur && now - c->fetched_at < (long)c->ttl_ms;
}

/* May cur be served while a refresh runs behind it?  Never with a TTL of
 * 0, which asks for a listing on every call. */
static bool servable(const struct sbx_cache *c, long now)
{
	return c->cur && c->ttl_ms > 0 && c->stale_ms > c->ttl_ms &&
	       now - c->fetched_at < (long)c->stale_ms;
}

/* Whether to start a refresh behind a stale listing; lock held.  Not
 * sooner than a TTL after the last one ended, so listings slower than the
 * TTL do not run back to back, and not sooner than a TTL (at least a
 * second) after one failed. */
static bool may_refresh_behind(const struct sbx_cache *c, long now)
{
	long pause = c->ttl_ms > 1000 ? (long)c->ttl_ms : 1000;

	if (c->refreshing || now - c->finished_at < (long)c->ttl_ms)
		return false;
	return c->refresh_result == 0 || now - c->failed_at >= pause;
}

/* Waits for the refresh running now to finish; lock held.  0 when it did,
 * -EINTR when the caller's request was interrupted, -ETIMEDOUT when the
 * wait bound (from start, monotonic ms) passed first. */
static int wait_refresh(struct sbx_cache *c, long start)
{
	uint64_t seq = c->refresh_seq;

	while (c->refreshing && c->refresh_seq == seq) {
		long now = now_ms(), slice = WAIT_SLICE_MS;
		struct timespec ts;

		if (c->interrupted && c->interrupted())
			return -EINTR;
		if (c->wait_ms && now - start >= (long)c->wait_ms)
			return -ETIMEDOUT;
		if (c->wait_ms && start + (long)c->wait_ms - now < slice)
			slice = start + (long)c->wait_ms - now;
		ts = clock_wall_after(slice);
		pthread_cond_timedwait(&c->done, &c->lock, &ts);
	}
	return 0;
}

static void wait_failed(struct api_error *err, int r, unsigned wait_ms)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->err = r;
	err->when = time(NULL);
	if (r == -EINTR)
		snprintf(err->message, sizeof(err->message), "interrupted while the listing loads");
	else
		snprintf(err->message, sizeof(err->message),
			 "listing not loaded within %u ms; it goes on loading", wait_ms);
}

int cache_get(struct sbx_cache *c, struct sbx_listing **out, struct api_error *err)
{
	long start = now_ms();
	int r = 0;

	*out = NULL;
	pthread_mutex_lock(&c->lock);
	if (fresh(c, start)) {
		c->stats.hits++;
		goto serve;
	}
	if (servable(c, start)) {
		c->stats.stale_hits++;
		if (may_refresh_behind(c, start))
			start_refresh(c);
		goto serve;
	}
	c->stats.misses++;
	for (;;) {
		start_refresh(c);
		if ((r = wait_refresh(c, start)) < 0) {
			wait_failed(err, r, c->wait_ms);
			break;
		}
		r = c->refresh_result;
		if (r && err)
			*err = c->refresh_err;
		if (r || c->cur)
			break;
		/* invalidated right after the refresh we waited for */
	}
	if (r) {
		pthread_mutex_unlock(&c->lock);
		return r;
	}
serve:
	*out = listing_get(c->cur);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static int record_change(struct sbx_cache *c, const char *id, struct sbx *s)
{
	struct change *ch;

	if (c->n_changes == c->cap_changes) {
		size_t ncap = c->cap_changes ? 2 * c->cap_changes : 16;
		struct change *grown = realloc(c->changes, ncap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		c->changes = grown;
		c->cap_changes = ncap;
	}
	ch = &c->changes[c->n_changes];
	ch->id = strdup(id);
	if (!ch->id)
		return -ENOMEM;
	ch->gen = ++c->gen;
	ch->sbx = sbx_ref(s);
	c->n_changes++;
	return 0;
}

static void drop_current(struct sbx_cache *c);

/* How often a change is built again on a listing that replaced the one
 * it was built on before the cache refetches instead. */
#define PATCH_TRIES 8

/* Applies change (id, s) to the current listing.  The new listing is
 * built outside the lock (a copy, O(N)) from the current one, and
 * installed if that is still current; else built again on the newer one,
 * which a refresh or another change installed meanwhile (applying a
 * change twice changes nothing).  So a write holds the lock only to
 * record its change and to swap a pointer.  Lock held on entry and exit. */
static void apply_to_current(struct sbx_cache *c, const char *id, struct sbx *s)
{
	for (int tries = 0; c->cur; tries++) {
		struct sbx_listing *base = listing_get(c->cur), *nl;

		if (tries == PATCH_TRIES) {
			listing_put(base);
			drop_current(c);
			return;
		}
		pthread_mutex_unlock(&c->lock);
		nl = listing_patch(base, id, s);
		pthread_mutex_lock(&c->lock);
		if (c->cur == base) {
			c->cur = nl;   /* NULL on failure: the next get refetches */
			listing_put(base);
			listing_put(base);
			return;
		}
		listing_put(nl);
		listing_put(base);
	}
}

/* Forgets the current listing; lock held. */
static void drop_current(struct sbx_cache *c)
{
	listing_put(c->cur);
	c->cur = NULL;
	c->fetched_at = 0;
	c->invalidations++;
}

void cache_put_sbx(struct sbx_cache *c, struct sbx *s)
{
	if (!c || !s)
		return;
	pthread_mutex_lock(&c->lock);
	if (record_change(c, s->id, s) == 0)
		apply_to_current(c, s->id, s);
	else
		drop_current(c);   /* cannot remember it: refetch instead */
	pthread_mutex_unlock(&c->lock);
}

void cache_remove(struct sbx_cache *c, const char *id)
{
	if (!c || !id)
		return;
	pthread_mutex_lock(&c->lock);
	if (record_change(c, id, NULL) == 0)
		apply_to_current(c, id, NULL);
	else
		drop_current(c);
	pthread_mutex_unlock(&c->lock);
}

void cache_invalidate(struct sbx_cache *c)
{
	listing_put(cache_take(c));
}

struct sbx_listing *cache_take(struct sbx_cache *c)
{
	struct sbx_listing *l;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->lock);
	l = c->cur;             /* the cache's reference goes to the caller */
	c->cur = NULL;
	drop_current(c);
	pthread_mutex_unlock(&c->lock);
	return l;
}

void cache_get_stats(struct sbx_cache *c, struct cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = c->stats;
	out->entries = c->cur ? c->cur->n : 0;
	out->age_ms = c->cur ? now_ms() - c->fetched_at : -1;
	out->refreshing = c->refreshing;
	out->refresh_ms = c->refreshing ? now_ms() - c->refresh_started : 0;
	out->failing_since = c->failing_since;
	if (c->failing_since)
		out->last_refresh_error = c->refresh_err;
	pthread_mutex_unlock(&c->lock);
}
