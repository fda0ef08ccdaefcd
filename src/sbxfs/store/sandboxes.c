/* Sandbox changes with their cache policy; see sandboxes.h. */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "sandboxes.h"
#include "model/values.h"
#include "util/log.h"

/* The cache learns r (a new record, taken): replaced, or dropped when r
 * could not be built.  Gives r to *out (or drops it). */
static void publish(struct store *st, struct sbx *r, struct sbx **out)
{
	if (r)
		cache_put_sbx(st->cache, r);
	else
		cache_invalidate(st->cache);
	if (out)
		*out = r;
	else
		sbx_unref(r);
}

/* A failed change: gone, or not in the state the cache thought. */
static int failed(struct store *st, const char *id, int err)
{
	if (err == -ENOENT)
		cache_remove(st->cache, id);
	else if (err == -EBUSY)
		cache_invalidate(st->cache);
	return err;
}

int store_create(struct store *st, const char *name, const char *tpl, struct sbx **out)
{
	struct sbx_listing *l;
	struct sbx *s;
	bool exists;
	int err;

	if (out)
		*out = NULL;
	if (!sbx_name_valid(name))
		return -EINVAL;
	if ((err = cache_get(st->cache, &l, NULL)) < 0)
		return err;
	exists = listing_find(l, name) != NULL;
	listing_put(l);
	if (exists)
		return -EEXIST;
	err = api_create(st->api, tpl, st->timeout, name, &s, NULL);
	/* Not retried once sent (api.h): the server may have made it. */
	if (err == -EINTR || err == -ETIMEDOUT || err == -EIO)
		log_info("create of %s may have reached the server: if it did, the sandbox "
			 "shows under that name at the next listing", name);
	if (err < 0)
		return err;
	/* s carries the name as metadata (api.h), so the listing names it. */
	log_info("created %s (%s) from %s", name, s->id, tpl);
	publish(st, s, out);
	return 0;
}

int store_kill(struct store *st, const char *id)
{
	int err = api_kill(st->api, id, NULL);

	if (err == 0 || err == -ENOENT)
		cache_remove(st->cache, id);
	if (err < 0)
		return err;
	log_info("killed %s", id);
	return 0;
}

int store_set_timeout(struct store *st, const struct sbx *s, unsigned long secs,
		      struct sbx **out)
{
	int err = api_set_timeout(st->api, s->id, secs, NULL);

	if (out)
		*out = NULL;
	if (err < 0)
		return failed(st, s->id, err);
	log_info("set timeout of %s", s->id);
	publish(st, sbx_with(s, s->state, time(NULL) + (time_t)secs), out);
	return 0;
}

/* A pause or resume that timed out, was cut off or got a 5xx may have
 * happened on the server (those are not retried, see api.h). */
static bool state_write_may_have_happened(int err)
{
	return err == -ETIMEDOUT || err == -EIO || err == -EINTR;
}

/* Records that s's state is not known: state reads "unknown" until the
 * next listing, and the next state write asks the server first (a listing
 * may show the old state before the server acts on the request that
 * failed), so it is never taken for a no-op on the cache's word. */
static void forget_state(struct store *st, const struct sbx *s)
{
	idset_add(st->state_unsure, s->id);
	publish(st, sbx_with(s, SBX_STATE_UNKNOWN, s->end_at), NULL);
}

/* The server's record of s, after a write whose outcome was in doubt: one
 * GET, the cache updated.  0 and *fresh (caller unrefs), or -errno
 * (ENOENT: gone). */
static int learn_state(struct store *st, const struct sbx *s, struct sbx **fresh)
{
	int err = api_get(st->api, s->id, fresh, NULL);

	if (err == -ENOENT)
		cache_remove(st->cache, s->id);
	if (err < 0)
		return err;
	cache_put_sbx(st->cache, *fresh);
	return 0;
}

int store_set_state(struct store *st, const struct sbx *s, enum sbx_state want,
		    struct sbx **out)
{
	struct sbx *fresh = NULL;
	bool pause = want == SBX_STATE_PAUSED;
	int err;

	if (out)
		*out = NULL;
	if (idset_take(st->state_unsure, s->id) && (err = learn_state(st, s, &fresh)) < 0)
		return err;
	if (want == (fresh ? fresh : s)->state) {
		if (out)
			*out = sbx_ref(fresh ? fresh : (struct sbx *)s);
		sbx_unref(fresh);
		return 0;
	}
	sbx_unref(fresh);
	err = pause ? api_pause(st->api, s->id, NULL)
		    : api_resume(st->api, s->id, st->timeout, NULL);
	if (err < 0) {
		if (err != -ENOENT && err != -EBUSY && state_write_may_have_happened(err))
			forget_state(st, s);
		return failed(st, s->id, err);
	}
	log_info("%s %s", pause ? "pause" : "resume", s->id);
	publish(st, pause ? sbx_with(s, SBX_STATE_PAUSED, s->end_at)
			  : sbx_with(s, SBX_STATE_RUNNING, time(NULL) + (time_t)st->timeout), out);
	return 0;
}

int store_complete(struct store *st, const char *id, struct sbx **out)
{
	struct sbx *full = NULL;
	int err = api_get(st->api, id, &full, NULL);

	if (out)
		*out = NULL;
	if (err == -ENOENT)
		cache_remove(st->cache, id);
	if (err < 0)
		return err;
	publish(st, full, out);
	return 0;
}
