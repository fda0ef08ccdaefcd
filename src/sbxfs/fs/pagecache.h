/* What the kernel holds of each page-cached file: which version of its
 * content (a 64-bit tag) its pages and its size come from, and how many
 * opens read through the page cache now.
 *
 * Read-only files go through the kernel's page cache, so a repeated
 * open+read is one FUSE round trip instead of four.  The kernel keeps one
 * set of pages and one size per file, and reads a page-cached file only up
 * to that size, while sbxfs gives every open its own snapshot.  To keep
 * pages and size of one version, only opens of a single version read
 * through the page cache at any time: an open of another version while
 * such opens exist reads past it (direct I/O), and a change of version
 * happens only when none are open, with the kernel's copy dropped first.
 * Sizes reported meanwhile are the open version's.
 *
 * Thread-safe (one mutex, never held while the kernel is told anything);
 * bounded: past max_entries, paths with no page-cached open are forgotten,
 * which only costs the kernel a reread. */
#ifndef SBXFS_KCACHE_H
#define SBXFS_KCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kcache;

/* What an open may do. */
enum kcache_use {
	KCACHE_DIRECT,   /* read past the page cache */
	KCACHE_KEEP,     /* read through it; the kernel's pages are this version */
	KCACHE_FRESH,    /* read through it once the caller has dropped the
	                  * kernel's pages and size and called kcache_fresh_done */
};

/* max_entries 0: 32768.  NULL on ENOMEM. */
struct kcache *kcache_new(size_t max_entries);
void kcache_free(struct kcache *k);

/* An open of path whose content is content[0..len).  Unless the answer is
 * KCACHE_DIRECT the open is counted until kcache_release(*key). */
enum kcache_use kcache_open(struct kcache *k, const char *path, const char *content,
			    size_t len, uint64_t *key);
/* The kernel's copy was dropped for the KCACHE_FRESH open of key. */
void kcache_fresh_done(struct kcache *k, uint64_t key);
/* A counted open of key was released. */
void kcache_release(struct kcache *k, uint64_t key);

/* The size to report for path, whose content is content[0..len) now: the
 * open version's while page-cached opens exist, else len (and a version
 * whose size the kernel then no longer holds is forgotten, so the next
 * open drops its pages). */
size_t kcache_size(struct kcache *k, const char *path, const char *content, size_t len);

/* Paths recorded now. */
size_t kcache_count(struct kcache *k);

#endif
