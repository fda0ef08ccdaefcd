/* Walk-ahead: a tool that walks a tree in listing order (grep -r, cp -r,
 * tar, rsync, diff -r) lists each directory and reads each small file in
 * turn, one request after the other.  When two opens (or two listings) in
 * a row are of siblings in listing order, the next PREFETCH_AHEAD small
 * files (or subdirectories) of that directory are fetched on
 * PREFETCH_THREADS threads of their own, so that their requests overlap
 * the walker's work instead of following it.
 *
 * A subdirectory fetched ahead goes to the listing cache as any ListDir
 * does.  A file's bytes are kept until its open takes them, and only
 * given to an open that finds the size and mtime they were fetched for,
 * within age_ms of their arrival; a change made here to their directory
 * drops them.  Each file is fetched once either way: an open of a file
 * still queued takes it off the queue and reads it itself, an open of one
 * being fetched waits for it.  Bounded: PREFETCH_KEEP bodies of at most
 * PREFETCH_FILE_MAX bytes.  Thread-safe; no lock is held over a request. */
#ifndef SBXFS_STORE_PREFETCH_H
#define SBXFS_STORE_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "files.h"

#define PREFETCH_AHEAD 4
#define PREFETCH_THREADS 4
#define PREFETCH_FILE_MAX (256u * 1024)
#define PREFETCH_KEEP 32

struct prefetch;

/* A walk-ahead for f (borrowed); NULL when age_ms is 0 (no caching, so
 * nothing may be fetched before it is asked for) or on ENOMEM.  Its
 * threads start with its first fetch. */
struct prefetch *prefetch_new(struct files *f, unsigned age_ms);
/* Stops the threads (waiting for their requests) and frees the rest.
 * NULL is ignored. */
void prefetch_free(struct prefetch *p);

/* File path of sandbox id was opened for reading; directory path was
 * listed.  Either may queue fetches of what comes next.  p may be NULL. */
void prefetch_opened(struct prefetch *p, const char *id, const char *path);
void prefetch_listed(struct prefetch *p, const char *id, const char *path);

/* The bytes of path fetched ahead for (size, mtime_ms): 0 with *buf
 * (malloc'd, caller frees) and *len, or -ENOENT (the caller reads it).
 * Waits for a fetch under way. */
int prefetch_take(struct prefetch *p, const char *id, const char *path, uint64_t size,
		  int64_t mtime_ms, char **buf, size_t *len);

/* Fetches ahead sent so far, and bodies an open took: for .sbxfs/status.
 * p may be NULL (zeros). */
void prefetch_counts(struct prefetch *p, unsigned long long *fetched,
		     unsigned long long *used);

/* Forgets what was fetched of sandbox id under directory dir (its
 * subtree), or of all of id when dir is NULL: a change there. */
void prefetch_drop(struct prefetch *p, const char *id, const char *dir);

#endif
