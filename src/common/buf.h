/* A growable byte buffer with a size cap, for bodies received from a
 * peer: past the cap the data is dropped, never buffered, and the buffer
 * remembers that it overflowed.  Shared by sbxfs and sbxd; libc only.
 *
 * The struct is public so it can live inside a caller's struct without an
 * allocation; touch its fields only to read them.  Not thread-safe: one
 * owner at a time. */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;     /* NUL-terminated when not NULL; owned by the buf */
	size_t len;     /* bytes held, NUL not counted */
	size_t cap;     /* bytes allocated */
	size_t max;     /* the cap on len */
	bool over;      /* an append went past max (or failed): data dropped */
};

/* An empty buffer that holds at most max bytes.  Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Appends n bytes.  Returns 0; -EFBIG when len would pass max: the data
 * held so far is freed, over is set, and every later append is dropped
 * with -EFBIG too; -ENOMEM: over is set, the data held so far is kept. */
int buf_append(struct buf *b, const void *data, size_t n);

/* Hands over the data (caller frees; NULL when empty) and its length, and
 * leaves the buffer empty with the same max, over cleared. */
char *buf_steal(struct buf *b, size_t *len);

/* Frees the data and empties the buffer (max kept, over cleared). */
void buf_release(struct buf *b);

#endif
