/* Read-ahead streams (see fstream.h).
 *
 * The ring holds bytes [base, head) of the file, at their offset modulo
 * its size.  The receiving thread appends at head; it may drop bytes from
 * base only up to FSTREAM_LOOKBACK behind the furthest read (hi), so a
 * piece of the kernel's read-ahead that arrives late is still there, and
 * never past a byte a reader is copying out.  A reader that finds its
 * offset not yet received raises hi to it (it will read there, so the
 * stream may go that far) and waits.  s->lock guards every field below it;
 * the ring's bytes are copied in and out without it: the receiving thread
 * fills only slots of bytes already dropped (below base), and a reader
 * copies only bytes in [base, head) that it pinned, which base does not
 * pass.  No lock is ever held over a request.
 *
 * A receiver that ran out of room sleeps until there is FSTREAM_RESUME of
 * it, not until the next read frees a little: woken at every read, it
 * cost a context switch per FUSE read, more than the copies themselves. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fstream.h"
#include "workers.h"
#include "common/clock.h"
#include "util/log.h"

#define PINS 8                           /* readers copying out at once */
#define FSTREAM_RESUME (1024u * 1024)

struct fstream {
	struct files *f;
	struct files_worker w;        /* its thread, registered in f */
	char id[65];
	char *path;
	uint64_t start, end;          /* what was asked for: [start, end) */
	char *ring;

	pthread_mutex_t lock;
	pthread_cond_t cond;          /* head moved, hi moved, or the end */
	uint64_t base, head, hi;
	uint64_t wake_at;             /* a reader waits for head to get here */
	uint64_t pin[PINS];           /* where readers copy from, or UINT64_MAX */
	bool room_wait;               /* the receiver waits for room */
	bool done;                    /* the thread's request has ended */
	int err;                      /* and its -errno, or 0 */
};

static void destroy(struct fstream *s)
{
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->ring);
	free(s->path);
	free(s);
}

void fstream_put(struct fstream *s)
{
	if (s != NULL && files_worker_put(&s->w))
		destroy(s);
}

struct fstream *fstream_hold(struct fstream *s)
{
	files_worker_hold(&s->w);
	return s;
}

static bool cancelled(const struct fstream *s)
{
	return files_worker_cancelled(&s->w);
}

/* How far ahead of the furthest read the stream may be: twice what was
 * read, within the ring. */
static uint64_t lead(const struct fstream *s)
{
	uint64_t l = 2 * (s->hi - s->start);

	l = l < FSTREAM_LEAD_MIN ? FSTREAM_LEAD_MIN : l;
	return l > FSTREAM_RING - FSTREAM_LOOKBACK ? FSTREAM_RING - FSTREAM_LOOKBACK : l;
}

/* Where head may go now, dropping what is no longer kept.  Locked. */
static uint64_t head_max(struct fstream *s)
{
	uint64_t keep = s->hi > FSTREAM_LOOKBACK ? s->hi - FSTREAM_LOOKBACK : 0;
	uint64_t lim;

	for (int i = 0; i < PINS; i++)
		keep = s->pin[i] < keep ? s->pin[i] : keep;
	if (keep > s->base)
		s->base = keep < s->head ? keep : s->head;
	lim = s->base + FSTREAM_RING;
	return s->hi + lead(s) < lim ? s->hi + lead(s) : lim;
}

/* Is there room enough for the receiver to go on: FSTREAM_RESUME, or half
 * its lead early on, or what is left of the file?  Locked. */
static bool room_enough(struct fstream *s)
{
	uint64_t want = lead(s) / 2 < FSTREAM_RESUME ? lead(s) / 2 : FSTREAM_RESUME;

	want = s->end - s->head < want ? s->end - s->head : want;
	return head_max(s) - s->head >= want;
}

/* A reader moved hi or let go of a pin.  Locked. */
static void wake_receiver(struct fstream *s)
{
	if (s->room_wait && room_enough(s))
		pthread_cond_broadcast(&s->cond);
}

/* Writes data at the ring's slots for [at, at+len): only the receiving
 * thread writes, and only slots of bytes already dropped (below base), so
 * it does so unlocked. */
static void ring_copy_in(struct fstream *s, uint64_t at, const char *data, size_t len)
{
	size_t i = (size_t)(at % FSTREAM_RING), k = FSTREAM_RING - i;

	k = k < len ? k : len;
	memcpy(s->ring + i, data, k);
	memcpy(s->ring, data + k, len - k);
}

static void ring_copy_out(const struct fstream *s, char *buf, size_t len, uint64_t off)
{
	size_t at = (size_t)(off % FSTREAM_RING), k = FSTREAM_RING - at;

	k = k < len ? k : len;
	memcpy(buf, s->ring + at, k);
	memcpy(buf + k, s->ring, len - k);
}

/* The request's sink: appends to the ring, waiting for room while the
 * reader is behind; a reader gone for FSTREAM_STALL_MS ends it. */
static int ring_write(const char *data, size_t len, void *ctx)
{
	struct fstream *s = ctx;
	int err = 0;

	pthread_mutex_lock(&s->lock);
	while (len > 0 && err == 0) {
		uint64_t lim = head_max(s);

		if (cancelled(s)) {
			err = -ECANCELED;
		} else if (s->head < lim) {
			size_t k = lim - s->head < len ? (size_t)(lim - s->head) : len;
			uint64_t at = s->head;

			pthread_mutex_unlock(&s->lock);
			ring_copy_in(s, at, data, k);
			pthread_mutex_lock(&s->lock);
			s->head = at + k;
			data += k;
			len -= k;
			if (s->head >= s->wake_at) {
				s->wake_at = UINT64_MAX;
				pthread_cond_broadcast(&s->cond);
			}
		} else {
			struct timespec until = clock_wall_after(FSTREAM_STALL_MS);
			uint64_t hi = s->hi;

			s->room_wait = true;
			while (!room_enough(s) && !cancelled(s) && err == 0) {
				if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
					continue;
				if (s->hi == hi)
					err = -ECANCELED;
				hi = s->hi;
				until = clock_wall_after(FSTREAM_STALL_MS);
			}
			s->room_wait = false;
			if (err) {
				/* Not a failure: the next read starts over. */
				__atomic_store_n(&s->w.cancel, 1, __ATOMIC_RELEASE);
				log_debug("fs: %s: read-ahead stopped, no reader for %d ms",
					  s->path, FSTREAM_STALL_MS);
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

static void *run(void *arg)
{
	struct fstream *s = arg;
	struct http_sink sink = { ring_write, s };
	uint64_t got = 0;
	int err = files_read(s->f, s->id, s->path, s->start, s->end - s->start, &sink, &got,
			     &s->w.cancel);

	pthread_mutex_lock(&s->lock);
	s->done = true;
	s->err = err;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	files_worker_end(s->f, &s->w);
	fstream_put(s);
	return NULL;
}

struct fstream *fstream_start(struct files *f, const char *id, const char *path, uint64_t off,
			      uint64_t end)
{
	struct fstream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->path = strdup(path);
	s->ring = malloc(FSTREAM_RING);
	if (s->path == NULL || s->ring == NULL) {
		free(s->path);
		free(s->ring);
		free(s);
		return NULL;
	}
	s->f = f;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->start = s->base = s->head = s->hi = off;
	s->end = end;
	s->wake_at = UINT64_MAX;
	for (int i = 0; i < PINS; i++)
		s->pin[i] = UINT64_MAX;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->w = FILES_WORKER_INIT(FILES_WORKER_STREAM, &s->lock, &s->cond);
	if (files_worker_start(f, &s->w, FSTREAM_MAX, run, s) < 0) {
		destroy(s);
		return NULL;
	}
	return s;
}

ssize_t fstream_read(struct fstream *s, char *buf, size_t size, uint64_t off)
{
	ssize_t r;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (off < s->base) {
			r = -ERANGE;
		} else if (off < s->head) {
			size_t k = s->head - off < size ? (size_t)(s->head - off) : size;
			int pin = 0;

			while (pin < PINS && s->pin[pin] != UINT64_MAX)
				pin++;
			if (off + k > s->hi)
				s->hi = off + k;
			if (pin == PINS) {
				ring_copy_out(s, buf, k, off);
			} else {
				s->pin[pin] = off;
				pthread_mutex_unlock(&s->lock);
				ring_copy_out(s, buf, k, off);
				pthread_mutex_lock(&s->lock);
				s->pin[pin] = UINT64_MAX;
			}
			wake_receiver(s);
			r = (ssize_t)k;
		} else if (off >= s->end) {
			r = 0;
		} else if (s->done || cancelled(s)) {
			/* Ended before off: a failure with nothing given is the
			 * reader's error; else the caller starts over at off. */
			r = s->head == s->start && s->err < 0 && s->err != -ECANCELED ? s->err
			    : s->err == 0 && !cancelled(s) ? 0 : -EAGAIN;
		} else if (off >= s->hi + (FSTREAM_RING - FSTREAM_LOOKBACK)) {
			r = -EAGAIN;   /* too far ahead: not worth the wait */
		} else {
			uint64_t want = off + (size < FSTREAM_LEAD_MIN ? size : FSTREAM_LEAD_MIN);

			want = want < s->end ? want : s->end;
			if (off > s->hi) {
				s->hi = off;
				wake_receiver(s);
			}
			if (want < s->wake_at)
				s->wake_at = want;
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void fstream_stop(struct fstream *s)
{
	if (s == NULL)
		return;
	files_worker_cancel(&s->w);
	fstream_put(s);
}
