/* Expiry: sandboxes whose end has come are paused (auto-pause) or
 * removed, a batch at a time in one journal transaction; see registry.h. */
#include "registry/reg_priv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRE_BATCH 64         /* expiries committed in one transaction */

/* Expires one sandbox; lock held. */
static void expire(struct reg *r, struct sandbox *sb)
{
	if (sb->auto_pause) {
		sb->paused = true;
		sb->timer_gen++;
	} else {
		store_unlink(r, sb);
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

		if (!store_timer_live(r, &top, &sb)) {
			store_timer_pop(r);
			continue;
		}
		if (top.end_ms > now_ms) {
			*next_ms = top.end_ms;
			break;
		}
		store_timer_pop(r);
		if (sb->busy) {
			*retry = 1;
			continue;
		}
		struct sandbox next = *sb;

		next.paused = true;
		if (r->commit && change_make(sb, sb->auto_pause ? &next : NULL, &c[n]) < 0) {
			store_timer_arm(r, sb);
			*retry = 1;
			break;
		}
		due[n++] = sb;
	}
	if (n == EXPIRE_BATCH)
		*next_ms = now_ms;          /* more may be due */
	return n;
}

void reg_set_expired(struct reg *r, reg_expired_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->lock);
	r->expired = fn;
	r->expired_ctx = ctx;
	pthread_mutex_unlock(&r->lock);
}

/* Tells the callback, without the lock, what one pass expired. */
static void tell_expired(struct reg *r, char (*ids)[SBX_ID_LEN + 1], const bool *paused,
			 size_t n)
{
	for (size_t i = 0; r->expired && i < n; i++)
		r->expired(r->expired_ctx, ids[i], paused[i]);
}

size_t reg_expire_due(struct reg *r, int64_t now_ms, int64_t *next_ms)
{
	struct sandbox *due[EXPIRE_BATCH];
	struct reg_change c[EXPIRE_BATCH];
	char ids[EXPIRE_BATCH][SBX_ID_LEN + 1];
	bool paused[EXPIRE_BATCH];
	int retry = 0;

	pthread_mutex_lock(&r->lock);
	size_t n = collect_due(r, now_ms, next_ms, due, c, &retry);
	/* All the expiries of one pass are one transaction. */
	int rc = change_journal(r, due, c, n);
	for (size_t i = 0; i < n; i++) {
		if (r->commit)
			free(c[i].record);
		if (rc == 0) {
			memcpy(ids[i], due[i]->id, sizeof(ids[i]));
			paused[i] = due[i]->auto_pause;
			expire(r, due[i]);
		}
	}
	if (rc < 0 || retry) {
		int64_t again = now_ms + (rc < 0 ? 1000 : 100);

		if (again < *next_ms)
			*next_ms = again;
	}
	if (n && rc == 0)
		change_notify(r);
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		return 0;
	tell_expired(r, ids, paused, n);
	return n;
}

