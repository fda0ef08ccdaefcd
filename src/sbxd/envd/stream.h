/* A server stream's bytes between the thread that makes them (a watch,
 * a process) and the HTTP server that sends them.  Bounded: a producer
 * that outruns the client waits (at most until the stream is dropped).
 *
 * The server side never blocks: when nothing is queued, estream_read
 * calls `park` (which suspends the connection) under the stream's lock,
 * and the next push or end calls `unpark` (resume) under the same lock, so
 * no wake-up is lost and a resume never precedes its suspend. */
#ifndef SBXD_ENVD_STREAM_H
#define SBXD_ENVD_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct estream;

typedef void (*estream_park_fn)(void *ctx);

/* A stream with one reference, queueing at most `max_queued` bytes.  NULL
 * on ENOMEM. */
struct estream *estream_new(size_t max_queued);
void estream_ref(struct estream *s);
void estream_unref(struct estream *s);

/* Producer: frames `msg` as a message envelope.  0; -EPIPE once the
 * client is gone (drop the work); -ETIMEDOUT when the client did not take
 * the queue within 30 s (treated as gone). */
int estream_push(struct estream *s, const json_t *msg);
/* Producer: the end-of-stream envelope ({} or the error); nothing after. */
void estream_end(struct estream *s, const char *code, const char *msg);
/* True once the client went away or the server stops. */
bool estream_gone(struct estream *s);
/* A descriptor that becomes readable when the stream is gone, for a
 * producer's poll. */
int estream_gone_fd(struct estream *s);

/* Server: copies up to `max` queued bytes.  >0: bytes; 0: none now (park
 * was called); -1: all sent, the stream is over. */
long estream_read(struct estream *s, char *buf, size_t max, estream_park_fn park,
		  estream_park_fn unpark, void *ctx);
/* Server: the server stops (wakes a parked connection so it can end), or
 * with `unpark` false, the connection is closed and must not be woken. */
void estream_drop(struct estream *s, bool unpark);

#endif
