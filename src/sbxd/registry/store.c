/* The registry's record store; see reg_priv.h.
 *
 * Three indexes over one set of records:
 *  - `by_seq`: an array sorted by creation sequence.  Sequences only grow, so
 *    creates append; a page walk is a binary search plus a scan of the page.
 *  - `buckets`: a chained hash on the sandbox ID for O(1) lookups.
 *  - `timers`: a binary min-heap of (end, seq, generation).  Changing a
 *    sandbox's end pushes a new entry and bumps its generation; stale entries
 *    are skipped when they surface, and the heap is rebuilt when they pile up.
 */
#include "registry/reg_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- id hash ---------------------------------------------------------- */

static size_t hash_id(const char *id, size_t nbuckets)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)(h & (nbuckets - 1));
}

struct sandbox *store_find(const struct reg *r, const char *id)
{
	struct sandbox *sb = r->buckets[hash_id(id, r->nbuckets)];

	while (sb && strcmp(sb->id, id) != 0)
		sb = sb->hash_next;
	return sb;
}

static int hash_grow(struct reg *r)
{
	size_t nb = r->nbuckets * 2;
	struct sandbox **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct sandbox *sb = r->buckets[i], *next;

		for (; sb; sb = next) {
			size_t h = hash_id(sb->id, nb);

			next = sb->hash_next;
			sb->hash_next = b[h];
			b[h] = sb;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = nb;
	return 0;
}

static void hash_remove(struct reg *r, struct sandbox *sb)
{
	struct sandbox **pp = &r->buckets[hash_id(sb->id, r->nbuckets)];

	while (*pp && *pp != sb)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = sb->hash_next;
	sb->hash_next = NULL;
}

/* ---- seq array -------------------------------------------------------- */

/* Index of the first record with seq >= `seq`. */
size_t store_lower_bound(const struct reg *r, uint64_t seq)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->by_seq[mid]->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct sandbox *store_find_seq(const struct reg *r, uint64_t seq)
{
	size_t i = store_lower_bound(r, seq);

	return i < r->n && r->by_seq[i]->seq == seq ? r->by_seq[i] : NULL;
}

/* Inserts keeping the order; appends in the common (create) case. */
static int seq_insert(struct reg *r, struct sandbox *sb)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct sandbox **a = realloc(r->by_seq, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		r->by_seq = a;
		r->cap = cap;
	}
	size_t i = store_lower_bound(r, sb->seq);
	memmove(&r->by_seq[i + 1], &r->by_seq[i], (r->n - i) * sizeof(*r->by_seq));
	r->by_seq[i] = sb;
	r->n++;
	return 0;
}

static void seq_remove(struct reg *r, const struct sandbox *sb)
{
	size_t i = store_lower_bound(r, sb->seq);

	if (i < r->n && r->by_seq[i] == sb) {
		memmove(&r->by_seq[i], &r->by_seq[i + 1], (r->n - i - 1) * sizeof(*r->by_seq));
		r->n--;
	}
}

/* ---- timer heap ------------------------------------------------------- */

static int timer_less(const struct timer *a, const struct timer *b)
{
	return a->end_ms < b->end_ms || (a->end_ms == b->end_ms && a->seq < b->seq);
}

static void heap_swap(struct timer *h, size_t a, size_t b)
{
	struct timer t = h[a];

	h[a] = h[b];
	h[b] = t;
}

static void heap_up(struct timer *h, size_t i)
{
	while (i > 0 && timer_less(&h[i], &h[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct timer *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < n && timer_less(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && timer_less(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

void store_timer_pop(struct reg *r)
{
	r->timers[0] = r->timers[--r->ntimers];
	heap_down(r->timers, r->ntimers, 0);
}

int store_timer_live(const struct reg *r, const struct timer *t, struct sandbox **out)
{
	struct sandbox *sb = store_find_seq(r, t->seq);

	*out = sb;
	return sb && !sb->paused && sb->timer_gen == t->gen;
}

/* Drops stale entries so the heap stays proportional to the live timers. */
static void heap_rebuild(struct reg *r)
{
	size_t w = 0;

	for (size_t i = 0; i < r->ntimers; i++) {
		struct sandbox *sb;

		if (store_timer_live(r, &r->timers[i], &sb))
			r->timers[w++] = r->timers[i];
	}
	r->ntimers = w;
	for (size_t i = w / 2; i-- > 0;)
		heap_down(r->timers, w, i);
}

/* Arms (or re-arms) the expiry timer of a running sandbox with its end. */
int store_timer_arm(struct reg *r, struct sandbox *sb)
{
	sb->timer_gen++;
	if (sb->paused)
		return 0;
	if (r->ntimers > 2 * r->n + 64)
		heap_rebuild(r);
	if (r->ntimers == r->timers_cap) {
		size_t cap = r->timers_cap ? r->timers_cap * 2 : 64;
		struct timer *t = realloc(r->timers, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		r->timers = t;
		r->timers_cap = cap;
	}
	r->timers[r->ntimers] = (struct timer){ sb->end_ms, sb->seq, sb->timer_gen };
	heap_up(r->timers, r->ntimers++);
	return 0;
}

/* ---- lifecycle of the registry --------------------------------------- */

struct reg *reg_new(unsigned max_sandboxes)
{
	struct reg *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->max = max_sandboxes;
	r->next_seq = 1;
	r->nbuckets = 256;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	if (!r->buckets) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->settled, NULL);
	return r;
}

void reg_free(struct reg *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		model_sandbox_free(r->by_seq[i]);
	free(r->by_seq);
	free(r->buckets);
	free(r->timers);
	pthread_cond_destroy(&r->settled);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Links a fully built record into all indexes. */
int store_link(struct reg *r, struct sandbox *sb)
{
	if (r->n + 1 > r->nbuckets && hash_grow(r) < 0)
		return -ENOMEM;
	if (seq_insert(r, sb) < 0)
		return -ENOMEM;
	size_t h = hash_id(sb->id, r->nbuckets);
	sb->hash_next = r->buckets[h];
	r->buckets[h] = sb;
	if (store_timer_arm(r, sb) < 0) {
		hash_remove(r, sb);
		seq_remove(r, sb);
		return -ENOMEM;
	}
	return 0;
}

void store_unlink(struct reg *r, struct sandbox *sb)
{
	hash_remove(r, sb);
	seq_remove(r, sb);
	model_sandbox_free(sb);
}

size_t reg_count(struct reg *r)
{
	pthread_mutex_lock(&r->lock);
	size_t n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

