/* Tells the kernel to forget entries of the mount root, from a thread of
 * its own.
 *
 * The kernel may keep sandbox entries long (entry_timeout well past
 * cache_ttl, so a lookup of a known sandbox never waits for the root's
 * directory lock that a mkdir or rmdir holds for its whole request), so a
 * refresh that finds a name gone or moved to another sandbox says so.  An
 * entry invalidation waits for the directory's lock itself; issuing it
 * from a FUSE handler (mkdir holds the root's) or from the cache's
 * refresher (a mkdir may wait for it) could deadlock, hence the queue. */
#ifndef SBXFS_KINVAL_H
#define SBXFS_KINVAL_H

#include <stddef.h>

#include "cache/cache.h"

struct fuse;
struct kinval;

/* NULL on allocation failure. */
struct kinval *kinval_new(void);
/* Starts the thread that sends the invalidations for mount f; call from
 * FUSE's init (threads start after daemonizing).  0 or -errno. */
int kinval_start(struct kinval *k, struct fuse *f);
/* Queues name (copied) of an entry of the root to be forgotten.  Before
 * start or after stop it is dropped; so is a name queued while the queue
 * holds 100 000 (the kernel then keeps it until its entry timeout). */
void kinval_root_entry(struct kinval *k, const char *name);
/* The cache's refresh listener (cache_set_listener, ctx: the kinval):
 * queues every root entry of old whose name now is gone or names another
 * sandbox, under its name and under its sandbox ID. */
void kinval_on_refresh(void *ctx, const struct sbx_listing *old, const struct sbx_listing *now);
/* Files whose size grows behind the kernel's back (a process's output):
 * while open, path is watched under key (both copied); kinval_touch(key)
 * queues each path watched under it, once however often it is touched
 * before the thread gets to it, for the kernel to drop its attributes, so
 * a `tail -f` polling fstat sees the new size at once rather than after
 * the attribute timeout.  unwatch removes one watch of that path. */
void kinval_watch(struct kinval *k, const char *key, const char *path);
void kinval_unwatch(struct kinval *k, const char *key, const char *path);
void kinval_touch(struct kinval *k, const char *key);
/* Stops and joins the thread, dropping what is queued.  Call before the
 * FUSE session goes away. */
void kinval_stop(struct kinval *k);
void kinval_free(struct kinval *k);

struct kinval_stats {
	unsigned long long sent, dropped;
};
void kinval_get_stats(struct kinval *k, struct kinval_stats *out);

#endif
