/* The sandbox listing cache: one snapshot of the paginated
 * GET /v2/sandboxes result (all states), shared by every FUSE thread.
 *
 * Snapshots are immutable and reference counted, so readers never hold the
 * cache lock while using one.  A stale snapshot is refreshed by one thread
 * (single flight) while concurrent callers wait for that same refresh.  Own
 * changes (create, kill, timeout, pause, resume) are applied to the snapshot
 * at once, and re-applied to a refresh that raced them (generation
 * numbers), so a user always sees their own writes. */
#ifndef SBXFS_CACHE_H
#define SBXFS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

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
void cache_free(struct sbx_cache *c);

/* A reference to a snapshot no older than the TTL (refreshing if needed;
 * ttl_ms 0 refreshes on every call, still single flight).  Caller drops it
 * with listing_put().  -errno (and *err) when a needed refresh fails: a
 * stale snapshot is never served, so a dead backend shows within the TTL.
 * Callers waiting for the same refresh share its result. */
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
	size_t entries;
};
void cache_get_stats(struct sbx_cache *c, struct cache_stats *out);

#endif
