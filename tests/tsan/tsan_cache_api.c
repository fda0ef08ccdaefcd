/* ThreadSanitizer driver for the listing cache and the API client (with
 * its libcurl handle pool), against an in-process sbxd.  Not Criterion:
 * Criterion itself crashes under TSan here.  Built only with
 * -Db_sanitize=thread; a data race makes TSan exit non-zero
 * (TSAN_OPTIONS=halt_on_error=1), a wrong result exits 1.
 *
 * Threads share one api and one cache the way sbxfs's FUSE threads do:
 * readers take snapshots and look names up, writers create, change and
 * kill sandboxes and record their changes, one thread keeps invalidating
 * and one reads the stats. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cache.h"
#include "sbxd.h"

#define KEY "sk_tsan_key"
#define WRITERS 4
#define READERS 4
#define ROUNDS 40

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
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = KEY, .log_level = SBXD_LOG_ERROR };
	pthread_t w[WRITERS], r[READERS], c;
	char *err = NULL, url[64];
	struct sbxd *srv;
	struct sbx **items = NULL;
	size_t n = 0;
	struct api_error e;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	json_object_seed(0);
	srv = sbxd_start(&cfg, &err);
	if (!srv) {
		fprintf(stderr, "sbxd_start: %s\n", err ? err : "?");
		return 1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", sbxd_port(srv));
	api = api_new(&(struct api_config){ .url = url, .api_key = KEY,
					    .request_timeout_ms = 10000 }, &err);
	if (!api) {
		fprintf(stderr, "api_new: %s\n", err ? err : "?");
		return 1;
	}
	cache = cache_new(fetch, api, 5);
	for (unsigned i = 0; i < WRITERS; i++)
		pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < READERS; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	pthread_create(&c, NULL, churn, NULL);
	for (unsigned i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	atomic_store(&done, true);
	for (unsigned i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	pthread_join(c, NULL);

	/* Every sandbox was killed: the server and a fresh listing agree. */
	if (api_list(api, &items, &n, &e) < 0 || n != 0)
		FAIL("%zu sandboxes left after the run", n);
	sbx_array_free(items, n);
	cache_free(cache);
	api_free(api);
	sbxd_stop(srv);
	curl_global_cleanup();
	if (atomic_load(&failures)) {
		fprintf(stderr, "tsan_cache_api: %d failures\n", atomic_load(&failures));
		return 1;
	}
	printf("tsan_cache_api: %d writers x %d rounds, %d readers: no races reported\n",
	       WRITERS, ROUNDS, READERS);
	return 0;
}
