/* The sandbox listing cache: one snapshot of the paginated
 * GET /v2/sandboxes result (all states), shared by every FUSE thread.
 *
 * Snapshots are immutable and reference counted, so readers never hold the
 * cache lock while using one.  Refreshes run one at a time (single flight)
 * on a thread of the cache's own, started at the first need; callers that
 * need a newer listing wait for that refresh, interruptibly and for a
 * bounded time (cache_set_limits).  A listing older than the TTL but
 * younger than the stale limit is served at once while one refresh runs
 * behind it (stale-while-revalidate).  Own
 * changes (create, kill, timeout, pause, resume) are applied to the snapshot
 * at once, and re-applied to a refresh that raced them (generation
 * numbers), so a user always sees their own writes. */
#ifndef SBXFS_CACHE_H
#define SBXFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

struct sbx_cache;
struct sbx_listing;

/* A directory entry of the mount root. */
struct sbx_dirent {
	const char *name;     /* the directory name (borrowed from the listing) */
	struct sbx *sbx;      /* borrowed from the listing */
};

/* The fetch function is api_list in production; tests pass their own. */
typedef int (*sbx_fetch_fn)(void *ctx, struct sbx ***items, size_t *n, struct api_error *err);

struct sbx_cache *cache_new(sbx_fetch_fn fetch, void *ctx, unsigned ttl_ms);
/* Stops and joins the refresher (waiting for a fetch in flight). */
void cache_free(struct sbx_cache *c);

/* Call before the first cache_get.  stale_ms: a listing younger than this
 * (and older than the TTL) is served while a refresh runs; 0, or not above
 * the TTL, or a TTL of 0: never (callers wait, as for no listing).
 * wait_ms: a caller waits at most this long for a refresh (0: until it
 * ends), then gets -ETIMEDOUT while the refresh goes on.  interrupted (may
 * be NULL): polled every 50 ms while waiting, true ends the wait with
 * -EINTR; it is called on the waiting thread. */
void cache_set_limits(struct sbx_cache *c, unsigned stale_ms, unsigned wait_ms,
		      bool (*interrupted)(void));

/* Called on the refresher thread, with no lock held, after a refresh
 * replaced listing old with now (both borrowed for the call); must not
 * call back into the cache's waits.  Set before the first cache_get. */
typedef void (*cache_refresh_fn)(void *ctx, const struct sbx_listing *old,
				 const struct sbx_listing *now);
void cache_set_listener(struct sbx_cache *c, cache_refresh_fn fn, void *ctx);

/* A reference to a snapshot no older than the TTL, or no older than the
 * stale limit while a refresh runs behind it.  Otherwise waits for a
 * refresh (ttl_ms 0 refreshes on every call, still single flight).  Caller
 * drops it with listing_put().  -errno (and *err) when the needed refresh
 * fails, -EINTR or -ETIMEDOUT when the wait ends first (see
 * cache_set_limits).  Callers waiting for the same refresh share its
 * result. */
int cache_get(struct sbx_cache *c, struct sbx_listing **out, struct api_error *err);
void listing_put(struct sbx_listing *l);

/* Directory names: metadata SBX_NAME_KEY when sbx_name_valid() and not
 * equal to any sandbox's ID, else the sandbox ID.  When several sandboxes
 * claim a name the earliest started_at keeps it (tie: the smaller ID) and
 * the others appear under their IDs.  Names are unique in a listing.
 *
 * Lookup by directory name, then by sandbox ID; borrowed from l. */
struct sbx *listing_find(const struct sbx_listing *l, const char *name_or_id);
/* The directory name of a sandbox in this listing (borrowed; NULL when
 * its ID is not in l). */
const char *listing_name_of(const struct sbx_listing *l, const struct sbx *s);
/* Entries sorted by name (strcmp order); listing_at() is NULL past the end.
 * listing_put(NULL) is a no-op. */
size_t listing_count(const struct sbx_listing *l);
const struct sbx_dirent *listing_at(const struct sbx_listing *l, size_t i);

/* Own changes, visible to the next cache_get() without a request.
 * cache_put_sbx takes a reference to s (insert or replace by ID). */
void cache_put_sbx(struct sbx_cache *c, struct sbx *s);
void cache_remove(struct sbx_cache *c, const char *id);
/* Forget everything: the next cache_get() fetches. */
void cache_invalidate(struct sbx_cache *c);
/* cache_invalidate(), handing the caller a reference to the snapshot it
 * dropped (NULL when nothing was cached), to tell who else kept a copy. */
struct sbx_listing *cache_take(struct sbx_cache *c);

struct cache_stats {
	uint64_t hits, misses, refreshes, refresh_errors;
	uint64_t stale_hits;           /* served past the TTL, behind a refresh */
	size_t entries;
	long age_ms;                   /* of the listing held; -1: none */
	bool refreshing;
	long refresh_ms;               /* how long the running refresh has run */
	time_t failing_since;          /* 0: the last refresh succeeded */
	struct api_error last_refresh_error;   /* while failing */
};
void cache_get_stats(struct sbx_cache *c, struct cache_stats *out);

#endif
