/* The sandbox registry's changes; see registry.h.  The indexes are in
 * store.c, expiry in expiry.c, dump and restore in snapshot.c.
 *
 * With a journal, a change is prepared under the lock (the record as it will
 * be, on a shallow copy), committed with the lock dropped and the record
 * marked busy (other changes of it wait on `settled`, expiry skips it), then
 * applied under the lock again.  Readers see the committed state only.
 */
#include "registry/reg_priv.h"

#include "base/util.h"
#include "common/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTLE_TIMEOUT_S 30     /* longest wait for another change's commit */

int reg_add_listener(struct reg *r, reg_change_fn fn, void *ctx)
{
	if (r->nlisteners == MAX_LISTENERS)
		return -ENOSPC;
	r->listeners[r->nlisteners].fn = fn;
	r->listeners[r->nlisteners].ctx = ctx;
	r->nlisteners++;
	return 0;
}

void change_notify(struct reg *r)
{
	for (int i = 0; i < r->nlisteners; i++)
		r->listeners[i].fn(r->listeners[i].ctx);
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
int change_make(const struct sandbox *sb, const struct sandbox *next,
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
int change_journal(struct reg *r, struct sandbox **sbs, const struct reg_change *c, size_t n)
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
		if (rc < 0 && !sbs[i]->paused && store_find(r, sbs[i]->id) == sbs[i])
			store_timer_arm(r, sbs[i]);
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
	rc = change_make(sb, next, &c);
	if (rc == 0)
		rc = change_journal(r, &sb, &c, 1);
	free(c.record);
	return rc;
}

/* The record of `id` once no change of it is in flight; lock held (dropped
 * while waiting).  0, -ENOENT, or -ETIMEDOUT. */
static int settle(struct reg *r, const char *id, struct sandbox **out)
{
	struct timespec dl = clock_wall_after(SETTLE_TIMEOUT_S * 1000);

	for (;;) {
		struct sandbox *sb = store_find(r, id);

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
	if (spec->id) {
		/* Chosen by the caller, who made the sandbox's runtime first. */
		snprintf(sb->id, sizeof(sb->id), "%s", spec->id);
		if (store_find(r, sb->id)) {
			rc = -EEXIST;
			goto out;
		}
	}
	/* IDs are random; retry the (astronomically unlikely) collision. */
	while (!spec->id && (!sb->id[0] || store_find(r, sb->id))) {
		if (util_random_alnum(sb->id, SBX_ID_LEN) < 0) {
			rc = -EIO;
			goto out;
		}
	}
	sb->seq = r->next_seq++;
	r->ncreating++;
	rc = commit_one(r, sb, sb);
	r->ncreating--;
	if (rc < 0)
		goto out;
	rc = store_link(r, sb);
	if (rc < 0)
		goto out;
	*out = model_sandbox_json(sb, SBX_VIEW_SANDBOX);
	sb = NULL;
	change_notify(r);
out:
	pthread_mutex_unlock(&r->lock);
	model_sandbox_free(sb);
	return rc;
}

int reg_get(struct reg *r, const char *id, enum sbx_view view, json_t **out)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&r->lock);
	struct sandbox *sb = store_find(r, id);
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
		store_unlink(r, sb);
		change_notify(r);
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
	rc = store_timer_arm(r, sb);
	change_notify(r);
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
			change_notify(r);
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
	size_t i = f->ascending ? (f->cursor ? store_lower_bound(r, f->cursor + 1) : 0)
				: (f->cursor ? store_lower_bound(r, f->cursor) : r->n);
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

