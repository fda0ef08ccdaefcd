/* What the kernel's page cache holds of each read-only file: a tag of the
 * content sbxfs last served for a path.
 *
 * Read-only files go through the kernel's page cache, so a repeated
 * open+read is one FUSE round trip instead of four.  At each open sbxfs
 * renders the file anew and asks this table whether the kernel has already
 * seen exactly that content: if so the kernel may keep its pages, if not
 * (changed, or never seen) they must go.  Thread-safe (one mutex); bounded:
 * past max_entries the table starts over, which only costs the kernel a
 * reread. */
#ifndef SBXFS_KCACHE_H
#define SBXFS_KCACHE_H

#include <stdbool.h>
#include <stddef.h>

struct kcache;

/* max_entries 0: 32768.  NULL on ENOMEM. */
struct kcache *kcache_new(size_t max_entries);
void kcache_free(struct kcache *k);

/* Records that path shows content (len bytes) from now on.  True when the
 * last content recorded for path was the same; false when it differed or
 * none was recorded (and always when the table could not grow). */
bool kcache_note(struct kcache *k, const char *path, const char *content, size_t len);

/* Forgets every path: the next note of each is false. */
void kcache_clear(struct kcache *k);

/* Paths recorded now. */
size_t kcache_count(struct kcache *k);

#endif
