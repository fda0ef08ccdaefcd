/* What each sandbox's files take of its disk, for the quota of uploads and
 * for metrics, without walking the sandbox's tree on every request: a
 * walk of a tree of n entries costs n stat calls, and one per upload made
 * `cp -r`, `tar x` or `git` into a sandbox quadratic in its file count.
 *
 * A walk (ep_usage) is reused for the time-to-live given to usage_new, or
 * twenty times what the walk took when that is longer, so walking takes
 * at most a twentieth of a busy sandbox's time.  Meanwhile the bytes
 * uploads write are added to it, and a Remove forgets it (the next request
 * walks).  Files that processes in the sandbox write show at the next
 * walk.  At most USAGE_SLOTS sandboxes are remembered; the one least
 * recently used is forgotten first.
 *
 * Thread-safe; the lock is never held over a walk. */
#ifndef SBXD_ENVD_USAGE_H
#define SBXD_ENVD_USAGE_H

#include <stdint.h>

#define USAGE_TTL_MS 2000
#define USAGE_SLOTS 256

struct usage;

/* NULL on ENOMEM. */
struct usage *usage_new(int ttl_ms);
void usage_free(struct usage *u);   /* NULL is ignored */

/* The bytes sandbox id's files take: the last walk of root (an fd of the
 * sandbox's "/", borrowed) plus what uploads wrote since, or a new walk
 * when that one is too old. */
int64_t usage_get(struct usage *u, const char *id, int root);
/* An upload wrote n bytes to sandbox id (n < 0: it dropped them, or the
 * file it replaced is gone).  Ignored when id has no walk to add to. */
void usage_add(struct usage *u, const char *id, int64_t n);
/* Sandbox id's next usage_get walks its tree again. */
void usage_forget(struct usage *u, const char *id);

#endif
