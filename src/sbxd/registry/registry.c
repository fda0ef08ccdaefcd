/* The sandbox registry; see registry.h.
 *
 * Three indexes over one set of records:
 *  - `by_seq`: an array sorted by creation sequence.  Sequences only grow, so
 *    creates append; a page walk is a binary search plus a scan of the page.
 *  - `buckets`: a chained hash on the sandbox ID for O(1) lookups.
 *  - `timers`: a binary min-heap of (end, seq, generation).  Changing a
 *    sandbox's end pushes a new entry and bumps its generation; stale entries
 *    are skipped when they surface, and the heap is rebuilt when they pile up.
 *
 * With a journal, a change is prepared under the lock (the record as it will
 * be, on a shallow copy), committed with the lock dropped and the record
 * marked busy (other changes of it wait on `settled`, expiry skips it), then
 * applied under the lock again.  Readers see the committed state only.
 */
#include "registry/registry.h"

#include "base/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LISTENERS 4
#define SETTLE_TIMEOUT_S 30     /* longest wait for another change's commit */
#define EXPIRE_BATCH 64         /* expiries committed in one transaction */

struct timer {
	int64_t end_ms;
	uint64_t seq;
	uint64_t gen;
};

struct reg {
	/* Guards everything below: all three indexes, every sandbox record
	 * they point to, and next_seq.  Held only for in-memory work. */
	pthread_mutex_t lock;
	unsigned max;
	uint64_t next_seq;

	struct sandbox **by_seq;
	size_t n, cap;

	struct sandbox **buckets;
	size_t nbuckets;

	struct timer *timers;
	size_t ntimers, timers_cap;

	struct { reg_change_fn fn; void *ctx; } listeners[MAX_LISTENERS];
	int nlisteners;

	pthread_cond_t settled;     /* broadcast when records stop being busy */
	size_t ncreating;           /* creates being committed: count toward max */
	reg_commit_fn commit;       /* NULL: no journal */
	void *commit_ctx;
};

/* ---- id hash ---------------------------------------------------------- */

static size_t hash_id(const char *id, size_t nbuckets)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)(h & (nbuckets - 1));
}

static struct sandbox *hash_find(const struct reg *r, const char *id)
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
static size_t seq_lower_bound(const struct reg *r, uint64_t seq)
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

static struct sandbox *seq_find(const struct reg *r, uint64_t seq)
{
	size_t i = seq_lower_bound(r, seq);

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
	size_t i = seq_lower_bound(r, sb->seq);
	memmove(&r->by_seq[i + 1], &r->by_seq[i], (r->n - i) * sizeof(*r->by_seq));
	r->by_seq[i] = sb;
	r->n++;
	return 0;
}

static void seq_remove(struct reg *r, const struct sandbox *sb)
{
	size_t i = seq_lower_bound(r, sb->seq);

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

static void heap_pop(struct reg *r)
{
	r->timers[0] = r->timers[--r->ntimers];
	heap_down(r->timers, r->ntimers, 0);
}

static int timer_live(const struct reg *r, const struct timer *t, struct sandbox **out)
{
	struct sandbox *sb = seq_find(r, t->seq);

	*out = sb;
	return sb && !sb->paused && sb->timer_gen == t->gen;
}

/* Drops stale entries so the heap stays proportional to the live timers. */
static void heap_rebuild(struct reg *r)
{
	size_t w = 0;

	for (size_t i = 0; i < r->ntimers; i++) {
		struct sandbox *sb;

		if (timer_live(r, &r->timers[i], &sb))
			r->timers[w++] = r->timers[i];
	}
	r->ntimers = w;
	for (size_t i = w / 2; i-- > 0;)
		heap_down(r->timers, w, i);
}

/* Arms (or re-arms) the expiry timer of a running sandbox with its end. */
static int timer_arm(struct reg *r, struct sandbox *sb)
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

int reg_add_listener(struct reg *r, reg_change_fn fn, void *ctx)
{
	if (r->nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	r->listeners[r->nlisteners].fn = fn;
	r->listeners[r->nlisteners].ctx = ctx;
	r->nlisteners++;
	return 0;
}

static void notify(struct reg *r)
{
	for (int i = 0; i < r->nlisteners; i++)
		r->listeners[i].fn(r->listeners[i].ctx);
}

/* Links a fully built record into all indexes. */
static int link_sandbox(struct reg *r, struct sandbox *sb)
{
	if (r->n + 1 > r->nbuckets && hash_grow(r) < 0)
		return -ENOMEM;
	if (seq_insert(r, sb) < 0)
		return -ENOMEM;
	size_t h = hash_id(sb->id, r->nbuckets);
	sb->hash_next = r->buckets[h];
	r->buckets[h] = sb;
	if (timer_arm(r, sb) < 0) {
		hash_remove(r, sb);
		seq_remove(r, sb);
		return -ENOMEM;
	}
	return 0;
}

static void unlink_sandbox(struct reg *r, struct sandbox *sb)
{
	hash_remove(r, sb);
	seq_remove(r, sb);
	model_sandbox_free(sb);
}

/* ---- journal ---------------------------------------------------------- */

void reg_set_journal(struct reg *r, reg_commit_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->lock);
	r->commit = fn;
	r->commit_ctx = ctx;
	pthread_mutex_unlock(&r->lock);
}

/* The change that turns `sb` into `next` (NULL: deletes it); c->record is
 * the caller's to free. */
static int make_change(const struct sandbox *sb, const struct sandbox *next,
		       struct reg_change *c)
{
	c->seq = sb->seq;
	c->id = sb->id;
	c->record = NULL;
	if (!next)
		return 0;
	json_t *o = model_sandbox_json(next, SBX_VIEW_STORED);
	c->record = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return c->record ? 0 : -ENOMEM;
}

/* Commits the changes `c` of records `sbs` through the journal; lock held,
 * dropped meanwhile.  Busy records cannot be changed or freed by others.  A
 * failed commit re-arms their timers, as expiry may have popped them. */
static int journal(struct reg *r, struct sandbox **sbs, const struct reg_change *c, size_t n)
{
	int rc;

	if (!r->commit || n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		sbs[i]->busy = true;
	pthread_mutex_unlock(&r->lock);
	rc = r->commit(r->commit_ctx, c, n);
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < n; i++) {
		sbs[i]->busy = false;
		if (rc < 0 && !sbs[i]->paused && hash_find(r, sbs[i]->id) == sbs[i])
			timer_arm(r, sbs[i]);
	}
	pthread_cond_broadcast(&r->settled);
	return rc;
}

/* Commits `sb` becoming `next` (NULL: its deletion); lock held. */
static int commit_one(struct reg *r, struct sandbox *sb, const struct sandbox *next)
{
	struct reg_change c;
	int rc;

	if (!r->commit)
		return 0;
	rc = make_change(sb, next, &c);
	if (rc == 0)
		rc = journal(r, &sb, &c, 1);
	free(c.record);
	return rc;
}

/* The record of `id` once no change of it is in flight; lock held (dropped
 * while waiting).  0, -ENOENT, or -ETIMEDOUT. */
static int settle(struct reg *r, const char *id, struct sandbox **out)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += SETTLE_TIMEOUT_S;
	for (;;) {
		struct sandbox *sb = hash_find(r, id);

		if (!sb)
			return -ENOENT;
		if (!sb->busy) {
			*out = sb;
			return 0;
		}
		if (pthread_cond_timedwait(&r->settled, &r->lock, &dl) == ETIMEDOUT)
			return -ETIMEDOUT;
	}
}

/* ---- operations ------------------------------------------------------- */

int reg_create(struct reg *r, const struct sandbox_spec *spec, int64_t now_ms,
	       json_t **out)
{
	struct sandbox *sb = model_sandbox_from_spec(spec);
	int rc;

	if (!sb)
		return -ENOMEM;
	if (util_random_hex(sb->client_id, 4) < 0 ||
	    util_random_hex(sb->envd_token, 16) < 0) {
		model_sandbox_free(sb);
		return -EIO;
	}
	sb->started_ms = now_ms;
	sb->end_ms = now_ms + (int64_t)spec->timeout_s * 1000;

	pthread_mutex_lock(&r->lock);
	if (r->max && r->n + r->ncreating >= r->max) {
		rc = -EAGAIN;
		goto out;
	}
	/* IDs are random; retry the (astronomically unlikely) collision. */
	do {
		if (util_random_alnum(sb->id, SBX_ID_LEN) < 0) {
			rc = -EIO;
			goto out;
		}
	} while (hash_find(r, sb->id));
	sb->seq = r->next_seq++;
	r->ncreating++;
	rc = commit_one(r, sb, sb);
	r->ncreating--;
	if (rc < 0)
		goto out;
	rc = link_sandbox(r, sb);
	if (rc < 0)
		goto out;
	*out = model_sandbox_json(sb, SBX_VIEW_SANDBOX);
	sb = NULL;
	notify(r);
out:
	pthread_mutex_unlock(&r->lock);
	model_sandbox_free(sb);
	return rc;
}

int reg_get(struct reg *r, const char *id, enum sbx_view view, json_t **out)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&r->lock);
	struct sandbox *sb = hash_find(r, id);
	if (sb) {
		*out = model_sandbox_json(sb, view);
		rc = *out ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int reg_kill(struct reg *r, const char *id)
{
	struct sandbox *sb;

	pthread_mutex_lock(&r->lock);
	int rc = settle(r, id, &sb);
	if (rc == 0)
		rc = commit_one(r, sb, NULL);
	if (rc == 0) {
		unlink_sandbox(r, sb);
		notify(r);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* Commits, then applies, a new end and state of a sandbox and re-arms its
 * timer; lock held. */
static int set_end(struct reg *r, struct sandbox *sb, int64_t end_ms, bool paused)
{
	struct sandbox next = *sb;  /* shallow: borrows sb's strings */

	next.end_ms = end_ms;
	next.paused = paused;
	int rc = commit_one(r, sb, &next);
	if (rc < 0)
		return rc;
	sb->end_ms = end_ms;
	sb->paused = paused;
	rc = timer_arm(r, sb);
	notify(r);
	return rc;
}

int reg_set_timeout(struct reg *r, const char *id, unsigned timeout_s, int64_t now_ms)
{
	struct sandbox *sb;

	pthread_mutex_lock(&r->lock);
	int rc = settle(r, id, &sb);
	if (rc == 0)
		rc = set_end(r, sb, now_ms + (int64_t)timeout_s * 1000, sb->paused);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int reg_refresh(struct reg *r, const char *id, unsigned duration_s, int64_t now_ms)
{
	struct sandbox *sb;

	pthread_mutex_lock(&r->lock);
	int rc = settle(r, id, &sb);
	if (rc == 0) {
		int64_t end = now_ms + (int64_t)duration_s * 1000;

		rc = (!sb->paused && end > sb->end_ms) ? set_end(r, sb, end, false) : 0;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int reg_pause(struct reg *r, const char *id)
{
	struct sandbox *sb;

	pthread_mutex_lock(&r->lock);
	int rc = settle(r, id, &sb);
	if (rc == 0 && sb->paused) {
		rc = -EBUSY;
	} else if (rc == 0) {
		struct sandbox next = *sb;

		next.paused = true;
		rc = commit_one(r, sb, &next);
		if (rc == 0) {
			sb->paused = true;
			sb->timer_gen++;    /* disarms the pending timer entry */
			notify(r);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int reg_connect(struct reg *r, const char *id, unsigned timeout_s, int64_t now_ms,
		json_t **out, int *resumed)
{
	struct sandbox *sb;

	pthread_mutex_lock(&r->lock);
	int rc = settle(r, id, &sb);
	if (rc == 0) {
		int64_t end = now_ms + (int64_t)timeout_s * 1000;

		*resumed = sb->paused;
		/* Running sandboxes only ever get their end extended. */
		if (sb->paused || end > sb->end_ms)
			rc = set_end(r, sb, end, false);
		if (rc == 0) {
			*out = model_sandbox_json(sb, SBX_VIEW_SANDBOX);
			rc = *out ? 0 : -ENOMEM;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int reg_resume(struct reg *r, const char *id, unsigned timeout_s, int64_t now_ms,
	       json_t **out)
{
	struct sandbox *sb;

	pthread_mutex_lock(&r->lock);
	int rc = settle(r, id, &sb);
	if (rc == 0 && !sb->paused) {
		rc = -EBUSY;
	} else if (rc == 0) {
		rc = set_end(r, sb, now_ms + (int64_t)timeout_s * 1000, false);
		if (rc == 0) {
			*out = model_sandbox_json(sb, SBX_VIEW_SANDBOX);
			rc = *out ? 0 : -ENOMEM;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static int matches(const struct sandbox *sb, const struct reg_filter *f)
{
	unsigned states = f->states ? f->states : REG_RUNNING | REG_PAUSED;
	const char *k;
	const json_t *v;

	if (!(states & (sb->paused ? REG_PAUSED : REG_RUNNING)))
		return 0;
	if (sb->started_ms < f->started_after_ms)
		return 0;
	if (f->template_name && strcmp(f->template_name, sb->template_id) != 0 &&
	    (!sb->alias || strcmp(f->template_name, sb->alias) != 0))
		return 0;
	json_object_foreach((json_t *)f->metadata, k, v) {
		const json_t *have = json_object_get(sb->metadata, k);

		if (!have || !json_equal(have, v))
			return 0;
	}
	return 1;
}

int reg_list(struct reg *r, const struct reg_filter *f, json_t **out, uint64_t *next)
{
	json_t *arr = json_array();
	unsigned got = 0;
	uint64_t last = 0;
	int more = 0;

	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&r->lock);
	/* Walk from just past the cursor; records created during a walk get
	 * larger sequences, so they never shift what later pages hold. */
	size_t i = f->ascending ? (f->cursor ? seq_lower_bound(r, f->cursor + 1) : 0)
				: (f->cursor ? seq_lower_bound(r, f->cursor) : r->n);
	for (;;) {
		struct sandbox *sb;

		if (f->ascending) {
			if (i >= r->n)
				break;
			sb = r->by_seq[i++];
		} else {
			if (i == 0)
				break;
			sb = r->by_seq[--i];
		}
		if (!matches(sb, f))
			continue;
		if (f->limit && got == f->limit) {
			more = 1;
			break;
		}
		json_array_append_new(arr, model_sandbox_json(sb, SBX_VIEW_LISTED));
		last = sb->seq;
		got++;
	}
	pthread_mutex_unlock(&r->lock);
	*next = more ? last : 0;
	*out = arr;
	return 0;
}

size_t reg_count(struct reg *r)
{
	pthread_mutex_lock(&r->lock);
	size_t n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Expires one sandbox; lock held. */
static void expire(struct reg *r, struct sandbox *sb)
{
	if (sb->auto_pause) {
		sb->paused = true;
		sb->timer_gen++;
	} else {
		unlink_sandbox(r, sb);
	}
}

/* Pops up to EXPIRE_BATCH due timers into due[] and their changes into
 * c[]; lock held.  Busy records are skipped (their change re-arms them or
 * ends them) but set *retry.  Returns how many. */
static size_t collect_due(struct reg *r, int64_t now_ms, int64_t *next_ms,
			  struct sandbox **due, struct reg_change *c, int *retry)
{
	size_t n = 0;

	*next_ms = INT64_MAX;
	while (r->ntimers > 0 && n < EXPIRE_BATCH) {
		struct timer top = r->timers[0];
		struct sandbox *sb;

		if (!timer_live(r, &top, &sb)) {
			heap_pop(r);
			continue;
		}
		if (top.end_ms > now_ms) {
			*next_ms = top.end_ms;
			break;
		}
		heap_pop(r);
		if (sb->busy) {
			*retry = 1;
			continue;
		}
		struct sandbox next = *sb;

		next.paused = true;
		if (r->commit && make_change(sb, sb->auto_pause ? &next : NULL, &c[n]) < 0) {
			timer_arm(r, sb);
			*retry = 1;
			break;
		}
		due[n++] = sb;
	}
	if (n == EXPIRE_BATCH)
		*next_ms = now_ms;          /* more may be due */
	return n;
}

size_t reg_expire_due(struct reg *r, int64_t now_ms, int64_t *next_ms)
{
	struct sandbox *due[EXPIRE_BATCH];
	struct reg_change c[EXPIRE_BATCH];
	int retry = 0;

	pthread_mutex_lock(&r->lock);
	size_t n = collect_due(r, now_ms, next_ms, due, c, &retry);
	/* All the expiries of one pass are one transaction. */
	int rc = journal(r, due, c, n);
	for (size_t i = 0; i < n; i++) {
		if (r->commit)
			free(c[i].record);
		if (rc == 0)
			expire(r, due[i]);
	}
	if (rc < 0 || retry) {
		int64_t again = now_ms + (rc < 0 ? 1000 : 100);

		if (again < *next_ms)
			*next_ms = again;
	}
	if (n && rc == 0)
		notify(r);
	pthread_mutex_unlock(&r->lock);
	return rc == 0 ? n : 0;
}

json_t *reg_dump(struct reg *r)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(arr, model_sandbox_json(r->by_seq[i], SBX_VIEW_STORED));
	json_t *doc = json_pack("{s:i, s:I, s:o}", "version", 1,
				"nextSeq", (json_int_t)r->next_seq, "sandboxes", arr);
	pthread_mutex_unlock(&r->lock);
	return doc;
}

static int restore_fail(char **err, const char *msg, size_t idx)
{
	if (err && asprintf(err, "%s (entry %zu)", msg, idx) < 0)
		*err = NULL;
	return -EINVAL;
}

int reg_restore(struct reg *r, const json_t *doc, int64_t now_ms, char **err)
{
	const json_t *arr = json_object_get(doc, "sandboxes");
	const json_t *next = json_object_get(doc, "nextSeq");
	const json_t *o;
	size_t i;
	int kept = 0, rc = 0;

	if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "version")) != 1 ||
	    !json_is_array(arr) || !json_is_integer(next))
		return restore_fail(err, "not an sbxd state document", 0);
	pthread_mutex_lock(&r->lock);
	json_array_foreach(arr, i, o) {
		struct sandbox *sb = model_sandbox_from_stored(o);

		if (!sb) {
			rc = restore_fail(err, "malformed sandbox", i);
			break;
		}
		if (hash_find(r, sb->id) || seq_find(r, sb->seq)) {
			model_sandbox_free(sb);
			rc = restore_fail(err, "duplicate sandbox", i);
			break;
		}
		if (sb->seq >= r->next_seq)
			r->next_seq = sb->seq + 1;
		/* Ended while sbxd was down: expire it now, as the timer would have. */
		if (!sb->paused && sb->end_ms <= now_ms) {
			if (!sb->auto_pause) {
				model_sandbox_free(sb);
				continue;
			}
			sb->paused = true;
		}
		if (link_sandbox(r, sb) < 0) {
			model_sandbox_free(sb);
			rc = -ENOMEM;
			break;
		}
		kept++;
	}
	if ((uint64_t)json_integer_value(next) > r->next_seq)
		r->next_seq = (uint64_t)json_integer_value(next);
	notify(r);
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : kept;
}
