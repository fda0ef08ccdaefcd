#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_fetch.h"

struct fake F;

struct sbx *mk(const char *id, const char *name, time_t started)
{
	struct sbx_meta m = { SBX_NAME_KEY, name };
	struct sbx *s = sbx_new(id, "base", NULL, SBX_STATE_RUNNING, started, started + 600,
				name ? &m : NULL, name ? 1 : 0);

	cr_assert_not_null(s);
	return s;
}

void server_add(struct sbx *s)
{
	pthread_mutex_lock(&F.lock);
	F.list[F.n++] = s;
	pthread_mutex_unlock(&F.lock);
}

void server_del(const char *id)
{
	pthread_mutex_lock(&F.lock);
	for (size_t i = 0; i < F.n; i++) {
		if (strcmp(F.list[i]->id, id) == 0) {
			sbx_unref(F.list[i]);
			F.list[i] = F.list[--F.n];
			break;
		}
	}
	pthread_mutex_unlock(&F.lock);
}

int fake_fetch(void *ctx, struct sbx ***items, size_t *n, struct api_error *err)
{
	struct fake *f = ctx;
	struct sbx **v;
	size_t k;

	__atomic_add_fetch(&f->fetches, 1, __ATOMIC_SEQ_CST);
	/* the test changes these while the cache's refresher runs */
	unsigned delay = __atomic_load_n(&f->delay_ms, __ATOMIC_SEQ_CST);
	int fail = __atomic_load_n(&f->fail, __ATOMIC_SEQ_CST);

	if (delay)
		usleep(delay * 1000);
	if (fail) {
		err->err = fail;
		err->http_status = 503;
		snprintf(err->message, sizeof(err->message), "backend down");
		return fail;
	}
	pthread_mutex_lock(&f->lock);
	k = f->n;
	v = calloc(k + 1, sizeof(*v));
	for (size_t i = 0; i < k; i++)
		v[i] = sbx_ref(f->list[i]);
	pthread_mutex_unlock(&f->lock);
	if (f->entered) {
		sem_t *proceed = f->proceed;   /* the test clears them meanwhile */

		sem_post(f->entered);
		sem_wait(proceed);
	}
	*items = v;
	*n = k;
	return 0;
}

void setup(void)
{
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
}

void teardown(void)
{
	for (size_t i = 0; i < F.n; i++)
		sbx_unref(F.list[i]);
	pthread_mutex_destroy(&F.lock);
}

