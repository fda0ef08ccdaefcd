/* Listings of directories inside sandboxes, keyed by (sandbox ID, remote
 * path), for a TTL: the mechanism behind MOUNT/<sandbox>/fs/.
 *
 * A listing is immutable and reference counted (struct dirlist): a reader
 * takes one and uses it without the cache lock.  Fetches run on the
 * calling thread, one per key at a time (single flight: a second caller
 * for the same key waits for the first one's result, at most
 * DIRCACHE_WAIT_MS).  A change the caller makes meanwhile (dircache_drop)
 * bumps a generation, so a fetch that raced it is handed to its caller but
 * not kept.  At most max_dirs listings are kept, the least recently used
 * going first, so a walk over a huge tree keeps memory flat.  No lock is
 * held while fetching.  Thread-safe.
 *
 * A change the caller makes to one name (an upload, a mkdir, an unlink)
 * need not cost the whole listing: dircache_forget_name keeps the others
 * and marks that name stale, and a lookup of it asks envd for that entry
 * alone (dircache_settle keeps the answer).  Otherwise `cp -r` or `rm -r`
 * would fetch the directory again for every file.  Such changes are laid
 * over the fetched entries, which the listings made from one fetch share:
 * a change costs what changed since the fetch (at most DIRCACHE_MAX_DELTA
 * names, then the entries are merged once), not the directory's size. */
#ifndef SBXFS_CACHE_DIRCACHE_H
#define SBXFS_CACHE_DIRCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/fentry.h"

#define DIRCACHE_WAIT_MS 60000
#define DIRCACHE_MAX_STALE 64
#define DIRCACHE_MAX_DELTA 256

struct dirvec;
struct dirgone;

struct dircache;

/* What a listing holds: the entries of v (sorted by name, shared with
 * the other listings of its fetch), less the names changed since (gone),
 * plus the entries in extra, which take the place of v's of the same name.
 * Read it with dirlist_find; only a flat listing (dirlist_flatten: no
 * extra, nothing gone but stale names, which v never has) may be walked
 * through v directly. */
struct dirlist {
	size_t n;
	const struct fentry *v;
	size_t n_extra;
	struct fentry *extra;       /* owned */
	size_t n_gone;
	struct dirgone *gone;       /* names not as v has them */
	size_t n_stale;             /* of gone: changed here, to be asked */
	uint64_t version;           /* the cached listing it is (or is from) */
	int refs;                   /* atomic */
	struct dirvec *vec;         /* owns v */
};

/* Fills a fresh listing (caller of the cache hands it over): 0 or -errno. */
typedef int (*dircache_fetch_fn)(void *ctx, struct fentry **v, size_t *n);

/* ttl_ms 0: every get fetches (still single flight).  NULL on ENOMEM. */
struct dircache *dircache_new(unsigned ttl_ms, size_t max_dirs);
/* Every listing must have been put back. */
void dircache_free(struct dircache *c);
/* The listing of (id, path): from the cache when fresh, else fetched with
 * fetch(ctx).  0 and *out (caller dirlist_put()s it), or fetch's -errno,
 * or -ETIMEDOUT after waiting for another caller's fetch too long. */
int dircache_get(struct dircache *c, const char *id, const char *path, dircache_fetch_fn fetch,
		 void *ctx, struct dirlist **out);
/* The listing of (id, path) if one is cached and fresh, else NULL. */
struct dirlist *dircache_peek(struct dircache *c, const char *id, const char *path);
/* Drops (id, path)'s listing, and with subtree every listing under path
 * too: a change there happened. */
void dircache_drop(struct dircache *c, const char *id, const char *path, int subtree);
/* A change to name in directory (id, dir) made here: a fresh cached
 * listing keeps its other entries and has name stale; past
 * DIRCACHE_MAX_STALE stale names, or without a fresh listing, or with a
 * fetch in flight, the listing is dropped as by dircache_drop. */
void dircache_forget_name(struct dircache *c, const char *id, const char *dir, const char *name);
/* What envd says of stale name in listing version of (id, dir) now: e
 * (copied), or NULL for no such entry.  Kept only while that listing is
 * still the cached one (no change or fetch came between). */
void dircache_settle(struct dircache *c, const char *id, const char *dir, uint64_t version,
		     const char *name, const struct fentry *e);
/* Drops every listing of sandbox id, or of all sandboxes when id is NULL. */
void dircache_drop_all(struct dircache *c, const char *id);
/* Number of listings held (tests). */
size_t dircache_count(struct dircache *c);

void dirlist_put(struct dirlist *l);
/* A private listing (never cached): base with the n_extra entries of
 * extra (taken: their contents move, the array stays the caller's) in
 * place of base's of the same name or added.  0 and *out (caller
 * dirlist_put()s it), or -ENOMEM. */
int dirlist_overlay(const struct dirlist *base, struct fentry *extra, size_t n_extra,
		    struct dirlist **out);
/* A flat listing of what l holds (l itself, with another reference, when
 * it already is): 0 and *out (caller dirlist_put()s it), or -ENOMEM. */
int dirlist_flatten(struct dirlist *l, struct dirlist **out);
/* The entry named name, or NULL; borrowed from l. */
const struct fentry *dirlist_find(const struct dirlist *l, const char *name);
/* name's entry as fetched, when nothing changed it here since: one of
 * l->v, whose neighbours are in the listing's order; else NULL. */
const struct fentry *dirlist_as_fetched(const struct dirlist *l, const char *name);
/* Is name stale in l (not in it, to be asked of envd)? */
bool dirlist_stale(const struct dirlist *l, const char *name);

#endif
