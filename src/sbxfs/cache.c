/* The sandbox listing cache.
 *
 * A listing is one immutable block: the header, the entries sorted by
 * directory name, and an index of entry numbers sorted by sandbox ID, so a
 * lookup either way is a binary search and a reader needs no lock.  The
 * sandboxes themselves are reference counted and shared between listings.
 *
 * Directory names: metadata SBX_NAME_KEY when it is a valid name, else the
 * sandbox ID.  A name equal to any sandbox's ID is not honoured (that
 * sandbox shows under its ID), so a lookup by ID always works.  When
 * several sandboxes claim one name, the earliest started_at keeps it (tie:
 * the smaller ID) and the others show under their IDs.
 *
 * Own changes are applied to the current listing at once (a new listing
 * sharing the sandboxes) and kept in a log stamped with a generation.  A
 * refresh remembers the generation it started at and re-applies the later
 * changes to what it fetched, so a reply that raced a kill cannot bring
 * the sandbox back.  Changes at or before the start generation of the last
 * installed refresh are pruned: that refresh already saw their effect. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

struct sbx_listing {
	int refs;                    /* atomic */
	size_t n;
	struct sbx_dirent *ents;     /* sorted by name */
	size_t *by_id;               /* entry numbers sorted by sandbox ID */
};

struct change {
	uint64_t gen;
	char *id;
	struct sbx *sbx;             /* NULL: removed */
};

struct sbx_cache {
	sbx_fetch_fn fetch;
	void *ctx;
	unsigned ttl_ms;

	pthread_mutex_t lock;        /* guards everything below */
	pthread_cond_t done;         /* a refresh finished */
	struct sbx_listing *cur;     /* NULL: nothing cached */
	long fetched_at;             /* monotonic ms when cur's fetch began */
	bool refreshing;
	uint64_t refresh_seq;        /* refreshes finished */
	int refresh_result;          /* of the last finished refresh */
	struct api_error refresh_err;
	uint64_t gen;                /* own changes recorded */
	uint64_t invalidations;
	struct change *changes;      /* ordered by gen */
	size_t n_changes, cap_changes;
	struct cache_stats stats;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- listings ----------------------------------------------------------- */

void listing_put(struct sbx_listing *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < l->n; i++)
		sbx_unref(l->ents[i].sbx);
	free(l);
}

static struct sbx_listing *listing_get(struct sbx_listing *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

size_t listing_count(const struct sbx_listing *l)
{
	return l ? l->n : 0;
}

const struct sbx_dirent *listing_at(const struct sbx_listing *l, size_t i)
{
	return l && i < l->n ? &l->ents[i] : NULL;
}

static struct sbx_dirent *find_by_name(const struct sbx_listing *l, const char *name)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->ents[mid].name);

		if (c == 0)
			return &l->ents[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static struct sbx_dirent *find_by_id(const struct sbx_listing *l, const char *id)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct sbx_dirent *e = &l->ents[l->by_id[mid]];
		int c = strcmp(id, e->sbx->id);

		if (c == 0)
			return e;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct sbx *listing_find(const struct sbx_listing *l, const char *name_or_id)
{
	struct sbx_dirent *e;

	if (!l || !name_or_id)
		return NULL;
	e = find_by_name(l, name_or_id);
	if (!e)
		e = find_by_id(l, name_or_id);
	return e ? e->sbx : NULL;
}

const char *listing_name_of(const struct sbx_listing *l, const struct sbx *s)
{
	struct sbx_dirent *e;

	if (!l || !s)
		return NULL;
	e = find_by_id(l, s->id);
	return e ? e->name : NULL;
}

/* Is id in v[0..n), sorted by ID? */
static bool sorted_has_id(struct sbx **v, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, v[mid]->id);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* Claimants of a name sort by name, then earliest start, then ID; plain
 * entries (name == ID) sort among them by name only, IDs being unique. */
static int cmp_claim(const void *a, const void *b)
{
	const struct sbx_dirent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->sbx->started_at != y->sbx->started_at)
		return x->sbx->started_at < y->sbx->started_at ? -1 : 1;
	return strcmp(x->sbx->id, y->sbx->id);
}

static int cmp_index_id(const void *a, const void *b, void *ctx)
{
	const struct sbx_dirent *ents = ctx;

	return strcmp(ents[*(const size_t *)a].sbx->id, ents[*(const size_t *)b].sbx->id);
}

/* A listing of v[0..n), which must be sorted by ID without duplicates.
 * Takes its own references; NULL on allocation failure. */
static struct sbx_listing *listing_build(struct sbx **v, size_t n)
{
	struct sbx_listing *l;
	bool again;

	l = malloc(sizeof(*l) + n * (sizeof(struct sbx_dirent) + sizeof(size_t)));
	if (!l)
		return NULL;
	l->refs = 1;
	l->n = n;
	l->ents = (struct sbx_dirent *)(l + 1);
	l->by_id = (size_t *)(l->ents + n);
	for (size_t i = 0; i < n; i++) {
		const char *want = sbx_meta_get(v[i], SBX_NAME_KEY);

		if (!want || !sbx_name_valid(want) || sorted_has_id(v, n, want))
			want = v[i]->id;
		l->ents[i].name = want;
		l->ents[i].sbx = sbx_ref(v[i]);
	}
	/* Losers of a name fall back to their IDs; an ID never equals a
	 * name that survived the check above, so one pass settles it. */
	do {
		again = false;
		qsort(l->ents, n, sizeof(*l->ents), cmp_claim);
		for (size_t i = 1; i < n; i++) {
			if (strcmp(l->ents[i].name, l->ents[i - 1].name) == 0 &&
			    l->ents[i].name != l->ents[i].sbx->id) {
				l->ents[i].name = l->ents[i].sbx->id;
				again = true;
			}
		}
	} while (again);
	for (size_t i = 0; i < n; i++)
		l->by_id[i] = i;
	qsort_r(l->by_id, n, sizeof(*l->by_id), cmp_index_id, l->ents);
	return l;
}

/* ---- the cache --------------------------------------------------------------- */

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
	return c;
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
	listing_put(c->cur);
	for (size_t i = 0; i < c->n_changes; i++)
		change_clear(&c->changes[i]);
	free(c->changes);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* The sandboxes of items (sorted by ID, deduplicated) with the changes in
 * ch[0..nch) applied, the newest per ID deciding.  The change entries are
 * borrowed.  Returns a new listing or NULL. */
static struct sbx_listing *apply_and_build(struct sbx **items, size_t n,
					   const struct change *ch, size_t nch)
{
	struct sbx **v = malloc((n + nch + 1) * sizeof(*v));
	struct change *fin = malloc((nch + 1) * sizeof(*fin));
	struct sbx_listing *l = NULL;
	size_t m = 0, nf = 0, i = 0, k = 0;

	if (!v || !fin)
		goto out;
	/* the last change per ID, sorted by ID */
	if (nch)
		memcpy(fin, ch, nch * sizeof(*fin));
	qsort(fin, nch, sizeof(*fin), cmp_change);
	for (size_t j = 0; j < nch; j++) {
		if (nf > 0 && strcmp(fin[nf - 1].id, fin[j].id) == 0)
			fin[nf - 1] = fin[j];
		else
			fin[nf++] = fin[j];
	}
	/* merge two ID-sorted sequences */
	while (i < n || k < nf) {
		int c = i == n ? 1 : k == nf ? -1 : strcmp(items[i]->id, fin[k].id);

		if (c < 0) {
			v[m++] = items[i++];
		} else {
			if (fin[k].sbx)
				v[m++] = fin[k].sbx;
			k++;
			i += c == 0;
		}
	}
	l = listing_build(v, m);
out:
	free(fin);
	free(v);
	return l;
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

struct tagged {
	struct sbx *sbx;
	size_t pos;
};

static int cmp_tagged(const void *a, const void *b)
{
	const struct tagged *x = a, *y = b;
	int c = strcmp(x->sbx->id, y->sbx->id);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorts fetched items by ID and drops duplicate IDs (the later one in the
 * listing wins).  Returns the new count, or -ENOMEM leaving items as is. */
static long dedupe(struct sbx **items, size_t n)
{
	struct tagged *t = malloc((n + 1) * sizeof(*t));
	size_t m = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t[i] = (struct tagged){ items[i], i };
	qsort(t, n, sizeof(*t), cmp_tagged);
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && strcmp(items[m - 1]->id, t[i].sbx->id) == 0) {
			sbx_unref(items[m - 1]);
			items[m - 1] = t[i].sbx;
		} else {
			items[m++] = t[i].sbx;
		}
	}
	free(t);
	return (long)m;
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

/* Called with the lock held and c->refreshing set by the caller; returns
 * with the lock held and the result stored for waiters. */
static int refresh_locked(struct sbx_cache *c)
{
	uint64_t start_gen = c->gen, start_inval = c->invalidations;
	long started = now_ms();
	struct api_error err = { 0 };
	struct sbx_listing *l = NULL, *old = NULL;
	struct sbx **items = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_unlock(&c->lock);
	r = c->fetch(c->ctx, &items, &n, &err);
	if (r == 0) {
		long m = dedupe(items, n);

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
	if (r == 0) {
		old = c->cur;
		c->cur = l;
		/* A refresh that an invalidation overtook is served to its
		 * waiters but counts as stale. */
		c->fetched_at = start_inval == c->invalidations ? started : started - (long)c->ttl_ms - 1;
		prune_changes(c, start_gen);
		c->stats.refreshes++;
	} else {
		if (r > 0)
			r = -EIO;
		c->stats.refresh_errors++;
		if (!err.err)
			err.err = r;
		err.when = err.when ? err.when : time(NULL);
	}
	c->refresh_result = r;
	c->refresh_err = err;
	c->refreshing = false;
	c->refresh_seq++;
	pthread_cond_broadcast(&c->done);
	/* Freeing can be slow: not worth another unlock, the lists are small
	 * compared to a fetch. */
	listing_put(old);
	sbx_array_free(items, n);
	return r;
}

static bool fresh(const struct sbx_cache *c, long now)
{
	return c->cur && now - c->fetched_at < (long)c->ttl_ms;
}

int cache_get(struct sbx_cache *c, struct sbx_listing **out, struct api_error *err)
{
	int r = 0;

	*out = NULL;
	pthread_mutex_lock(&c->lock);
	if (fresh(c, now_ms())) {
		c->stats.hits++;
		*out = listing_get(c->cur);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	c->stats.misses++;
	for (;;) {
		if (c->refreshing) {
			uint64_t seq = c->refresh_seq;

			while (c->refreshing && c->refresh_seq == seq)
				pthread_cond_wait(&c->done, &c->lock);
			r = c->refresh_result;
			if (r && err)
				*err = c->refresh_err;
		} else if (!fresh(c, now_ms())) {
			c->refreshing = true;
			r = refresh_locked(c);
			if (r && err)
				*err = c->refresh_err;
		}
		if (r || c->cur)
			break;
		/* invalidated right after the refresh we waited for */
	}
	if (!r)
		*out = listing_get(c->cur);
	pthread_mutex_unlock(&c->lock);
	return r;
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

/* Applies the newest change to the current listing; lock held. */
static void apply_to_current(struct sbx_cache *c)
{
	struct sbx_listing *l = c->cur, *nl;
	struct sbx **v;
	size_t m = 0;

	if (!l)
		return;
	v = malloc((l->n + 1) * sizeof(*v));
	if (!v) {
		c->cur = NULL;   /* cannot show the change: refetch instead */
		listing_put(l);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		v[m++] = l->ents[l->by_id[i]].sbx;
	nl = apply_and_build(v, m, &c->changes[c->n_changes - 1], 1);
	free(v);
	c->cur = nl;   /* NULL on failure: the next get refetches */
	listing_put(l);
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
		apply_to_current(c);
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
		apply_to_current(c);
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
	pthread_mutex_unlock(&c->lock);
}
