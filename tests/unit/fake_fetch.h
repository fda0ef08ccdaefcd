/* A fake listing backend for the cache tests: the "server's" list and
 * what a fetch does with it (delay, failure, a rendezvous). */
#ifndef SBXFS_TEST_FAKE_FETCH_H
#define SBXFS_TEST_FAKE_FETCH_H

#include <pthread.h>
#include <semaphore.h>

#include "cache/cache.h"

struct fake {
	pthread_mutex_t lock;
	struct sbx *list[64];
	size_t n;
	int fail;               /* -errno to return */
	unsigned delay_ms;
	int fetches;            /* atomic */
	sem_t *entered, *proceed;   /* when set: fetch copies, posts entered, waits */
};

extern struct fake F;

struct sbx *mk(const char *id, const char *name, time_t started);
void server_add(struct sbx *s);
void server_del(const char *id);
int fake_fetch(void *ctx, struct sbx ***items, size_t *n, struct api_error *err);
void setup(void);
void teardown(void);

#endif
