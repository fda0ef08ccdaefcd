/* A forward read-ahead stream of one file in a sandbox: one GET from an
 * offset to the end of the file, received on a thread of its own into a
 * bounded ring, from which the reads at and shortly after the last one are
 * served.  A large sequential read is then one request, whatever order the
 * kernel's read-ahead sends its pieces in, and receiving overlaps with the
 * reader's own work.
 *
 * The stream keeps ahead of its reader by at most twice what has been read
 * (at least FSTREAM_LEAD_MIN), and never more than its ring holds; a reader
 * that stops for FSTREAM_STALL_MS ends it (its connection and thread go),
 * and the next read starts another.  At most FSTREAM_MAX streams are alive
 * per mount (memory: FSTREAM_RING bytes each); fstream_start() says when
 * the budget is spent, and the caller reads with Range requests instead.
 *
 * Thread-safe; no lock is held over a request.  Every function returns 0
 * or a count, or -errno from store/files.h's map. */
#ifndef SBXFS_STORE_FSTREAM_H
#define SBXFS_STORE_FSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "files.h"

#define FSTREAM_RING (8u * 1024 * 1024)
#define FSTREAM_LOOKBACK (3u * 1024 * 1024)  /* kept behind the furthest read */
#define FSTREAM_LEAD_MIN (256u * 1024)
#define FSTREAM_STALL_MS 10000
#define FSTREAM_MAX 8

struct fstream;

/* Starts receiving bytes [off, end) of file path of sandbox id.  NULL
 * when FSTREAM_MAX streams are alive, or on ENOMEM: nothing was sent. */
struct fstream *fstream_start(struct files *f, const char *id, const char *path, uint64_t off,
			      uint64_t end);

/* Copies up to size bytes at off into buf, waiting (while the stream is
 * alive) for it to get there: the count, 0 past the end, -ERANGE when off
 * is behind what the stream keeps (a Range request serves it; the stream
 * goes on), -EAGAIN when off is too far ahead or the stream ended early (a
 * new stream may serve it), or the stream's -errno when it failed before
 * it gave a byte. */
ssize_t fstream_read(struct fstream *s, char *buf, size_t size, uint64_t off);

/* Another reference to s, for a reader that must not lose it to a
 * concurrent fstream_stop(); dropped with fstream_put(). */
struct fstream *fstream_hold(struct fstream *s);
void fstream_put(struct fstream *s);   /* NULL is ignored */

/* Ends the stream (its thread stops soon after, on its own) and drops the
 * caller's reference.  NULL is ignored. */
void fstream_stop(struct fstream *s);

#endif
