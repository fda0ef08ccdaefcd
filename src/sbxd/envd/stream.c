/* Server-stream queues; see stream.h. */
#include "envd/stream.h"

#include "envd/connect.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct estream {
	pthread_mutex_t lock;
	pthread_cond_t room;            /* the queue shrank or the stream is gone */
	int refs;
	unsigned char *q;               /* queued bytes q[head..len) */
	size_t head, len, cap, max;
	bool ended;                     /* the end envelope is queued */
	bool gone;
	bool parked;                    /* the server waits for an unpark */
	estream_park_fn unpark;
	void *unpark_ctx;
	int gone_fd;                    /* eventfd, written once when gone */
};

struct estream *estream_new(size_t max_queued)
{
	struct estream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->gone_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->gone_fd < 0) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->room, NULL);
	s->refs = 1;
	s->max = max_queued;
	return s;
}

void estream_ref(struct estream *s)
{
	pthread_mutex_lock(&s->lock);
	s->refs++;
	pthread_mutex_unlock(&s->lock);
}

void estream_unref(struct estream *s)
{
	int left;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	left = --s->refs;
	pthread_mutex_unlock(&s->lock);
	if (left)
		return;
	close(s->gone_fd);
	pthread_cond_destroy(&s->room);
	pthread_mutex_destroy(&s->lock);
	free(s->q);
	free(s);
}

/* Wakes a parked server; called with the lock held. */
static void unpark_locked(struct estream *s)
{
	if (s->parked) {
		s->parked = false;
		s->unpark(s->unpark_ctx);
	}
}

/* Appends bytes; lock held. */
static int append_locked(struct estream *s, const unsigned char *b, size_t n)
{
	if (s->head && s->head == s->len)
		s->head = s->len = 0;
	if (s->len + n > s->cap) {
		if (s->head) {
			memmove(s->q, s->q + s->head, s->len - s->head);
			s->len -= s->head;
			s->head = 0;
		}
		size_t cap = s->cap ? s->cap : 4096;

		while (cap < s->len + n)
			cap *= 2;
		unsigned char *q = cap > s->cap ? realloc(s->q, cap) : s->q;

		if (!q)
			return -ENOMEM;
		s->q = q;
		s->cap = cap;
	}
	memcpy(s->q + s->len, b, n);
	s->len += n;
	unpark_locked(s);
	return 0;
}

static void deadline_in(struct timespec *ts, int s)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += s;
}

int estream_push(struct estream *s, const json_t *msg)
{
	size_t n;
	unsigned char *b = cx_frame(0, msg, &n);
	struct timespec dl;
	int rc = 0;

	if (!b)
		return -ENOMEM;
	deadline_in(&dl, 30);
	pthread_mutex_lock(&s->lock);
	while (!s->gone && !s->ended && s->len - s->head + n > s->max && rc == 0)
		rc = pthread_cond_timedwait(&s->room, &s->lock, &dl) ? -ETIMEDOUT : 0;
	if (s->gone || s->ended)
		rc = -EPIPE;
	if (rc == 0)
		rc = append_locked(s, b, n);
	pthread_mutex_unlock(&s->lock);
	free(b);
	return rc;
}

void estream_end(struct estream *s, const char *code, const char *msg)
{
	size_t n;
	unsigned char *b = cx_frame_end(code, msg, &n);

	pthread_mutex_lock(&s->lock);
	if (!s->ended && b)
		append_locked(s, b, n);
	s->ended = true;
	unpark_locked(s);
	pthread_mutex_unlock(&s->lock);
	free(b);
}

bool estream_gone(struct estream *s)
{
	bool g;

	pthread_mutex_lock(&s->lock);
	g = s->gone;
	pthread_mutex_unlock(&s->lock);
	return g;
}

int estream_gone_fd(struct estream *s)
{
	return s->gone_fd;
}

long estream_read(struct estream *s, char *buf, size_t max, estream_park_fn park,
		  estream_park_fn unpark, void *ctx)
{
	long n = 0;

	pthread_mutex_lock(&s->lock);
	if (s->len > s->head) {
		size_t k = s->len - s->head < max ? s->len - s->head : max;

		memcpy(buf, s->q + s->head, k);
		s->head += k;
		n = (long)k;
		pthread_cond_broadcast(&s->room);
	} else if (s->ended || s->gone) {
		n = -1;
	} else {
		s->parked = true;
		s->unpark = unpark;
		s->unpark_ctx = ctx;
		park(ctx);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void estream_drop(struct estream *s, bool unpark)
{
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	if (!s->gone) {
		s->gone = true;
		(void)!write(s->gone_fd, &one, sizeof(one));
	}
	if (unpark)
		unpark_locked(s);
	s->parked = false;
	pthread_cond_broadcast(&s->room);
	pthread_mutex_unlock(&s->lock);
}
