/* The sandbox changes as the filesystem asks for them: each one makes its
 * API call and keeps the listing cache coherent with what it did (or may
 * have done), so the FUSE layer only parses, resolves and reports.  No
 * FUSE here: these are unit-tested against an in-process sbxd.
 *
 * Each returns 0 or -errno (the API's, see api.h; the cache already
 * reflects a failure: a sandbox found gone leaves it, a state the server
 * disputes drops the listing).  *out, when out is not NULL, gets the new
 * record (caller sbx_unref()s it), or NULL when it could not be built, in
 * which case the cache was dropped instead. */
#ifndef SBXFS_STORE_SANDBOXES_H
#define SBXFS_STORE_SANDBOXES_H

#include "api/api.h"
#include "cache/cache.h"
#include "idset.h"

/* Borrowed, set up by the caller and read-only afterwards; the members are
 * thread-safe, so one store serves every thread. */
struct store {
	struct api *api;
	struct sbx_cache *cache;
	struct idset *state_unsure; /* sandboxes whose last state write may or
	                             * may not have happened */
	unsigned long timeout;      /* seconds, for create and resume */
};

/* Creates sandbox name from template tpl (st->timeout seconds).  -EINVAL
 * for a bad name, -EEXIST when the listing has it (nothing sent). */
int store_create(struct store *st, const char *name, const char *tpl, struct sbx **out);
/* Kills sandbox id; a sandbox already gone leaves the cache too. */
int store_kill(struct store *st, const char *id);
/* Sets s's timeout to secs from now. */
int store_set_timeout(struct store *st, const struct sbx *s, unsigned long secs,
		      struct sbx **out);
/* Pauses or resumes s (resumed: st->timeout seconds).  A state already
 * there sends nothing and gives s itself; after a write whose outcome was
 * in doubt the server is asked first (one GET). */
int store_set_state(struct store *st, const struct sbx *s, enum sbx_state want,
		    struct sbx **out);
/* Fetches the whole record of sandbox id (one GET) into the cache. */
int store_complete(struct store *st, const char *id, struct sbx **out);

#endif
