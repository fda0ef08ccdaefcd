/* The listing snapshot behind the cache: how one is built from fetched
 * sandboxes and own changes.  Private to cache.c and listing.c. */
#ifndef SBXFS_CACHE_PRIV_H
#define SBXFS_CACHE_PRIV_H

#include <stdint.h>

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

struct sbx_listing *listing_get(struct sbx_listing *l);
/* The sandboxes of items (sorted by ID, deduplicated) with the changes in
 * ch[0..nch) applied, the newest per ID deciding.  The change entries are
 * borrowed.  Returns a new listing or NULL. */
struct sbx_listing *apply_and_build(struct sbx **items, size_t n,
				    const struct change *ch, size_t nch);
/* l with one change applied (s the sandbox id now is, NULL: removed),
 * in place when no name moves between sandboxes, else built anew (patch.c).
 * l is borrowed; returns a new listing or NULL on allocation failure. */
struct sbx_listing *listing_patch(const struct sbx_listing *l, const char *id, struct sbx *s);
/* Sorts fetched items by ID and drops duplicate IDs (the later one in the
 * listing wins).  Returns the new count, or -ENOMEM leaving items as is. */
long listing_dedupe(struct sbx **items, size_t n);

#endif
