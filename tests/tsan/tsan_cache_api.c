/* ThreadSanitizer driver for the listing cache and the API client (with
 * its libcurl handle pool), against an in-process sbxd.  Not Criterion:
 * Criterion itself crashes under TSan here.  Built only with
 * -Db_sanitize=thread; a data race makes TSan exit non-zero
 * (TSAN_OPTIONS=halt_on_error=1), a wrong result exits 1.
 *
 * Threads share one api and one cache the way sbxfs's FUSE threads do:
 * readers take snapshots and look names up, writers create, change and
 * kill sandboxes and record their changes, one thread keeps invalidating
 * and one reads the stats, and one lists on its own, beside the cache's
 * listings.  STATIC sandboxes made before the threads start keep every
 * listing at several pages, so each one runs its fetcher thread. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cache/cache.h"
#include "sbxd.h"
#include "tsanfix.h"

#define KEY "sk_tsan_key"
#define WRITERS 4
#define READERS 4
#define ROUNDS 40
#define STATIC 250   /* 3 list pages */
#define MIN_LISTINGS 20

static struct api *api;
static struct sbx_cache *cache;
static atomic_int failures;
static atomic_bool done;

#define FAIL(...)							\
	do {								\
		fprintf(stderr, "tsan_cache_api: " __VA_ARGS__);	\
		fputc('\n', stderr);					\
		atomic_fetch_add(&failures, 1);				\
	} while (0)

static int fetch(void *ctx, struct sbx ***items, size_t *n, struct api_error *err)
{
	return api_list(ctx, items, n, err);
}

static void *writer(void *arg)
{
	unsigned w = (unsigned)(uintptr_t)arg;
	struct api_error e;
	char name[32];

	for (unsigned i = 0; i < ROUNDS; i++) {
		struct sbx *s = NULL, *p;
		int r;

		snprintf(name, sizeof(name), "t%u-%u", w, i);
		if ((r = api_create(api, "base", 300, name, &s, &e)) < 0) {
			FAIL("create %s: %s (%s)", name, strerror(-r), e.message);
			continue;
		}
		cache_put_sbx(cache, s);
		if ((r = api_set_timeout(api, s->id, 120, &e)) < 0)
			FAIL("timeout %s: %s", name, strerror(-r));
		if ((r = api_pause(api, s->id, &e)) < 0)
			FAIL("pause %s: %s", name, strerror(-r));
		p = sbx_with(s, SBX_STATE_PAUSED, s->end_at);
		cache_put_sbx(cache, p);
		sbx_unref(p);
		if ((r = api_resume(api, s->id, 60, &e)) < 0)
			FAIL("resume %s: %s", name, strerror(-r));
		if (i % 3 == 0) {
			struct sbx *g = NULL;

			if ((r = api_get(api, s->id, &g, &e)) < 0)
				FAIL("get %s: %s", name, strerror(-r));
			sbx_unref(g);
		}
		if ((r = api_kill(api, s->id, &e)) < 0)
			FAIL("kill %s: %s", name, strerror(-r));
		cache_remove(cache, s->id);
		sbx_unref(s);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		struct sbx_listing *l = NULL;
		struct api_error e;
		int r = cache_get(cache, &l, &e);

		if (r < 0) {
			FAIL("cache_get: %s (%s)", strerror(-r), e.message);
			continue;
		}
		for (size_t i = 0; i < listing_count(l); i++) {
			const struct sbx_dirent *d = listing_at(l, i);
			struct sbx *s = listing_find(l, d->name);

			if (s != d->sbx || listing_find(l, s->id) != s)
				FAIL("lookup of %s disagrees with the listing", d->name);
			if (strcmp(listing_name_of(l, s), d->name) != 0)
				FAIL("name of %s", s->id);
			char *info = sbx_render_info(s, NULL);

			free(info);
		}
		listing_put(l);
	}
	return NULL;
}

/* The STATIC sandboxes in a listing, each seen once. */
static size_t count_static(struct sbx **items, size_t n)
{
	static const char prefix[] = "static-";
	bool seen[STATIC] = { false };
	size_t found = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = sbx_meta_get(items[i], SBX_NAME_KEY);
		unsigned k;

		if (!name || strncmp(name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		k = (unsigned)atoi(name + sizeof(prefix) - 1);
		if (k < STATIC && !seen[k]) {
			seen[k] = true;
			found++;
		} else {
			FAIL("%s listed twice", name);
		}
	}
	return found;
}

/* At least MIN_LISTINGS of its own, however fast the writers are. */
static void *lister(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < MIN_LISTINGS || !atomic_load(&done); i++) {
		struct sbx **items = NULL;
		size_t n = 0;
		struct api_error e;
		int r = api_list(api, &items, &n, &e);

		if (r < 0)
			FAIL("api_list: %s (%s)", strerror(-r), e.message);
		else if (count_static(items, n) != STATIC)
			FAIL("a listing of %zu lost static sandboxes", n);
		sbx_array_free(items, n);
	}
	return NULL;
}

static void *churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&done)) {
		struct api_stats st;
		struct cache_stats cs;

		cache_invalidate(cache);
		api_get_stats(api, &st);
		cache_get_stats(cache, &cs);
		usleep(2000);
	}
	return NULL;
}

int main(void)
{
	struct tsanfix fx;
	pthread_t w[WRITERS], r[READERS], c, l;
	char *ids[STATIC];
	struct sbx **items = NULL;
	size_t n = 0;
	struct api_error e;

	json_object_seed(0);
	if (tsanfix_start(&fx, KEY, NULL) < 0)
		return 1;
	api = fx.api;
	cache = cache_new(fetch, api, 5);
	/* listings past the TTL are served behind a refresh: readers race the
	 * refresher thread installing them */
	cache_set_limits(cache, 200, 10000, NULL);
	for (unsigned i = 0; i < STATIC; i++) {
		struct sbx *s = NULL;
		char name[32];
		int rc;

		snprintf(name, sizeof(name), "static-%u", i);
		if ((rc = api_create(api, "base", 3600, name, &s, &e)) < 0) {
			fprintf(stderr, "create %s: %s (%s)\n", name, strerror(-rc), e.message);
			return 1;
		}
		ids[i] = strdup(s->id);
		sbx_unref(s);
	}
	for (unsigned i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	pthread_create(&c, NULL, churn, NULL);
	pthread_create(&l, NULL, lister, NULL);
	for (unsigned i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	atomic_store(&done, true);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	pthread_join(c, NULL);
	pthread_join(l, NULL);

	/* Every writer's sandbox was killed: the server and a fresh listing
	 * agree that only the static ones are left. */
	if (api_list(api, &items, &n, &e) < 0 || n != STATIC || count_static(items, n) != STATIC)
		FAIL("%zu sandboxes left after the run, want %d", n, STATIC);
	sbx_array_free(items, n);
	for (unsigned i = 0; i < STATIC; i++) {
		if (api_kill(api, ids[i], &e) < 0)
			FAIL("kill %s: %s", ids[i], e.message);
		free(ids[i]);
	}
	cache_free(cache);
	tsanfix_stop(&fx);
	if (atomic_load(&failures)) {
		fprintf(stderr, "tsan_cache_api: %d failures\n", atomic_load(&failures));
		return 1;
	}
	printf("tsan_cache_api: %d writers x %d rounds, %d readers, %d listed: "
	       "no races reported\n", WRITERS, ROUNDS, READERS, STATIC);
	return 0;
}
