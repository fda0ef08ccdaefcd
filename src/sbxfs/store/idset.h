/* A small thread-safe set of sandbox IDs, for the fs layer's notes about
 * particular sandboxes (e.g. whose state is in doubt).  At most `cap`
 * entries: adding past it forgets the oldest. */
#ifndef SBXFS_IDSET_H
#define SBXFS_IDSET_H

#include <stdbool.h>
#include <stddef.h>

struct idset;

/* NULL on allocation failure. */
struct idset *idset_new(size_t cap);
void idset_free(struct idset *s);
/* Adds a copy of id (already there: nothing).  An allocation failure
 * drops it: callers treat the set as advice. */
void idset_add(struct idset *s, const char *id);
/* Removes id; true if it was there. */
bool idset_take(struct idset *s, const char *id);

#endif
