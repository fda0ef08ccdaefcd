/* The listing values behind dircache.c: one made from a fetch, one from
 * another with a change to one name, a flat one.  Private to dircache.c
 * and dirlist.c. */
#ifndef SBXFS_CACHE_DIRLIST_PRIV_H
#define SBXFS_CACHE_DIRLIST_PRIV_H

#include <stdbool.h>

#include "dircache.h"

/* A listing of the fetched entries v (n of them, sorted by name; taken),
 * with one reference: NULL on ENOMEM, v freed. */
struct dirlist *dirlist_fetched(struct fentry *v, size_t n);
/* Another reference to l. */
struct dirlist *dirlist_get(struct dirlist *l);
/* A listing over old's entries with name as e (copied), or gone: stale,
 * or known absent when e is NULL and stale false.  Past
 * DIRCACHE_MAX_DELTA changes it has entries of its own.  NULL on ENOMEM. */
struct dirlist *dirlist_derive(const struct dirlist *old, const char *name,
			       const struct fentry *e, bool stale);

#endif
