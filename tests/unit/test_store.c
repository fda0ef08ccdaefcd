/* The store's sandbox changes without a mount: against sbxd in-process on
 * a loopback port (every effect checked with a GET of its own), and
 * against the cache's fake fetch where the listing alone decides. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "fake_fetch.h"
#include "api/api.h"
#include "store/sandboxes.h"
#include "util/log.h"
#include "sbxd.h"

#define KEY "sbxfs-store-test-key-0123456789"
#define TIMEOUT 300UL

static struct sbxd *srv;
static struct store st;

static void quiet(void *ctx, enum sbxd_log_level level, const char *msg)
{
	(void)ctx;
	if (level == SBXD_LOG_ERROR)
		fprintf(stderr, "sbxd: %s\n", msg);
}

static int fetch_list(void *ctx, struct sbx ***items, size_t *n, struct api_error *err)
{
	return api_list(ctx, items, n, err);
}

/* sbxd and an API client for it; the cache fetches from fetch. */
static void start(sbx_fetch_fn fetch, void *ctx)
{
	struct sbxd_config cfg = { .listen_fd = -1, .api_key = KEY, .log = quiet };
	static char base[64];
	char *err = NULL;
	struct api_config ac = {
		.url = base, .api_key = KEY, .connect_timeout_ms = 1000,
		.request_timeout_ms = 5000, .deadline_ms = 10000,
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	log_open("stderr", LOG_LVL_ERROR);
	srv = sbxd_start(&cfg, &err);
	cr_assert_not_null(srv, "sbxd_start: %s", err ? err : "?");
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", sbxd_port(srv));
	st.api = api_new(&ac, &err);
	cr_assert_not_null(st.api, "api_new: %s", err ? err : "?");
	/* A minute of TTL: the cache only learns what the store tells it. */
	st.cache = cache_new(fetch, ctx ? ctx : st.api, 60000);
	st.state_unsure = idset_new(16);
	st.timeout = TIMEOUT;
	cr_assert(st.cache && st.state_unsure);
}

static void setup_sbxd(void)
{
	start(fetch_list, NULL);
}

static void setup_fake(void)
{
	setup();        /* fake_fetch.c's F */
	start(fake_fetch, &F);
}

static void stop(void)
{
	cache_free(st.cache);
	idset_free(st.state_unsure);
	api_free(st.api);
	sbxd_stop(srv);
	log_close();
	curl_global_cleanup();
}

static void teardown_fake(void)
{
	stop();
	teardown();
}

/* The server's record (NULL when it answers 404). */
static struct sbx *server(const char *id)
{
	struct sbx *s = NULL;
	int err = api_get(st.api, id, &s, NULL);

	cr_assert(err == 0 || err == -ENOENT, "GET %s: %s", id, strerror(-err));
	return s;
}

/* The cache's record for name or ID (a reference, NULL when not listed). */
static struct sbx *cached(const char *name_or_id)
{
	struct sbx_listing *l;
	struct sbx *s;

	cr_assert_eq(cache_get(st.cache, &l, NULL), 0);
	s = listing_find(l, name_or_id);
	s = s ? sbx_ref(s) : NULL;
	listing_put(l);
	return s;
}

/* A sandbox made behind the store's back, then listed by the cache. */
static struct sbx *listed(const char *name)
{
	struct sbx *s = NULL, *c;

	cr_assert_eq(api_create(st.api, "base", TIMEOUT, name, &s, NULL), 0);
	cache_invalidate(st.cache);
	c = cached(name);
	cr_assert_not_null(c);
	cr_assert_str_eq(c->id, s->id);
	sbx_unref(s);
	return c;
}

static void expect_end_near(time_t end, unsigned long secs, const char *what)
{
	time_t now = time(NULL);

	cr_expect(end >= now + (time_t)secs - 3 && end <= now + (time_t)secs + 1,
		  "%s: endAt %ld, now+%lu = %ld", what, (long)end, secs, (long)now + (long)secs);
}

TestSuite(store, .init = setup_sbxd, .fini = stop, .timeout = 60);

Test(store, create_returns_the_record_and_lists_it)
{
	struct sbx *out = NULL, *srv_rec, *c;

	cr_assert_eq(store_create(&st, "n", "base", &out), 0);
	cr_assert_not_null(out);
	cr_expect_str_eq(sbx_meta_get(out, SBX_NAME_KEY), "n");
	srv_rec = server(out->id);
	cr_assert_not_null(srv_rec, "the server has no %s", out->id);
	c = cached("n");
	cr_assert_not_null(c, "the cache does not list the new sandbox");
	cr_expect_str_eq(c->id, out->id);
	cr_expect_eq(store_create(&st, "n", "base", NULL), -EEXIST);
	cr_expect_eq(store_create(&st, "-bad", "base", NULL), -EINVAL);
	cr_expect_eq(store_create(&st, "", "base", NULL), -EINVAL);
	sbx_unref(c);
	sbx_unref(srv_rec);
	sbx_unref(out);
}

Test(store, set_timeout_reaches_server_and_cache)
{
	struct sbx *s = listed("t"), *out = NULL, *r, *c;

	cr_assert_eq(store_set_timeout(&st, s, 900, &out), 0);
	cr_assert_not_null(out);
	expect_end_near(out->end_at, 900, "returned");
	r = server(s->id);
	cr_assert_not_null(r);
	expect_end_near(r->end_at, 900, "server");
	c = cached("t");
	cr_assert_not_null(c);
	expect_end_near(c->end_at, 900, "cache");
	sbx_unref(c);
	sbx_unref(r);
	sbx_unref(out);
	sbx_unref(s);
}

Test(store, a_change_to_a_gone_sandbox_drops_it)
{
	struct sbx *s = listed("g"), *out = (struct sbx *)1, *c;

	cr_assert_eq(api_kill(st.api, s->id, NULL), 0);
	cr_expect_eq(store_set_timeout(&st, s, 900, &out), -ENOENT);
	cr_expect_null(out);
	c = cached(s->id);
	cr_expect_null(c, "the cache still lists a sandbox the server does not have");
	sbx_unref(c);
	sbx_unref(s);
}

Test(store, pause_and_resume)
{
	struct sbx *s = listed("p"), *out = NULL, *again = NULL, *r, *c;
	struct api_stats before, after;

	cr_assert_eq(store_set_state(&st, s, SBX_STATE_PAUSED, &out), 0);
	cr_assert_not_null(out);
	cr_expect_eq(out->state, SBX_STATE_PAUSED);
	r = server(s->id);
	cr_expect_eq(r->state, SBX_STATE_PAUSED);
	sbx_unref(r);
	c = cached("p");
	cr_expect_eq(c->state, SBX_STATE_PAUSED);
	sbx_unref(c);
	/* Already paused: nothing is sent. */
	api_get_stats(st.api, &before);
	cr_assert_eq(store_set_state(&st, out, SBX_STATE_PAUSED, &again), 0);
	api_get_stats(st.api, &after);
	cr_expect_eq(after.requests, before.requests);
	cr_expect_eq(again->state, SBX_STATE_PAUSED);
	sbx_unref(again);
	cr_assert_eq(store_set_state(&st, out, SBX_STATE_RUNNING, &again), 0);
	cr_expect_eq(again->state, SBX_STATE_RUNNING);
	expect_end_near(again->end_at, TIMEOUT, "resumed");
	r = server(s->id);
	cr_expect_eq(r->state, SBX_STATE_RUNNING);
	sbx_unref(r);
	sbx_unref(again);
	sbx_unref(out);
	sbx_unref(s);
}

/* After a state write whose outcome was in doubt the cache's word is not
 * taken: the server, paused behind the cache's back, is asked first. */
Test(store, an_unsure_state_is_asked_first)
{
	struct sbx *s = listed("u"), *out = NULL, *c;
	struct api_stats before, after;

	cr_assert_eq(api_pause(st.api, s->id, NULL), 0);
	idset_add(st.state_unsure, s->id);
	api_get_stats(st.api, &before);
	cr_assert_eq(store_set_state(&st, s, SBX_STATE_PAUSED, &out), 0);
	api_get_stats(st.api, &after);
	cr_expect_eq(after.requests, before.requests + 1, "one GET, no pause");
	cr_expect_eq(out->state, SBX_STATE_PAUSED, "returned the cache's stale record");
	c = cached("u");
	cr_expect_eq(c->state, SBX_STATE_PAUSED, "the cache learned the server's state");
	cr_expect_eq(idset_take(st.state_unsure, s->id), false);
	sbx_unref(c);
	sbx_unref(out);
	sbx_unref(s);
}

Test(store, kill_removes_it_everywhere)
{
	struct sbx *s = listed("k"), *r, *c;

	cr_assert_eq(store_kill(&st, s->id), 0);
	r = server(s->id);
	cr_expect_null(r, "the server still has %s", s->id);
	c = cached("k");
	cr_expect_null(c);
	sbx_unref(r);
	sbx_unref(c);
	sbx_unref(s);
}

Test(store, complete_fetches_the_whole_record)
{
	struct sbx *s = listed("c"), *out = NULL;

	cr_assert_eq(store_complete(&st, s->id, &out), 0);
	cr_assert_not_null(out);
	cr_expect_str_eq(out->id, s->id);
	cr_expect(!out->partial);
	cr_assert_eq(api_kill(st.api, s->id, NULL), 0);
	sbx_unref(out);
	out = NULL;
	cr_expect_eq(store_complete(&st, s->id, &out), -ENOENT);
	cr_expect_null(out);
	out = cached(s->id);
	cr_expect_null(out);
	sbx_unref(s);
}

/* The listing alone refuses a name it has: the server never hears of it. */
Test(store_fake, create_of_a_listed_name_sends_nothing, .init = setup_fake,
     .fini = teardown_fake, .timeout = 60)
{
	struct sbx **items = NULL;
	struct api_stats before, after;
	size_t n = 0;

	server_add(mk("sb-1", "taken", time(NULL)));
	api_get_stats(st.api, &before);
	cr_expect_eq(store_create(&st, "taken", "base", NULL), -EEXIST);
	api_get_stats(st.api, &after);
	cr_expect_eq(after.requests, before.requests);
	cr_assert_eq(api_list(st.api, &items, &n, NULL), 0);
	cr_expect_eq(n, 0, "the server made a sandbox");
	sbx_array_free(items, n);
}

/* ---- the races the mount tests see, without a mount ---- */

/* A sandbox made on sbxd and shown by the fake listing as well. */
static struct sbx *made_and_listed(const char *name)
{
	struct sbx *s = NULL, *c;

	cr_assert_eq(api_create(st.api, "base", TIMEOUT, name, &s, NULL), 0);
	server_add(sbx_ref(s));
	cache_invalidate(st.cache);
	c = cached(name);
	cr_assert_not_null(c);
	sbx_unref(c);
	return s;
}

static void *get_listing(void *arg)
{
	struct sbx_listing *l;

	(void)arg;
	if (cache_get(st.cache, &l, NULL) == 0)
		listing_put(l);
	return NULL;
}

static sem_t entered, proceed;

/* Starts a refresh that has fetched the fake listing as it is now and
 * waits for finish_racing_refresh() to deliver it. */
static pthread_t start_racing_refresh(void)
{
	pthread_t t;

	sem_init(&entered, 0, 0);
	sem_init(&proceed, 0, 0);
	F.entered = &entered;
	F.proceed = &proceed;
	cache_invalidate(st.cache);
	cr_assert_eq(pthread_create(&t, NULL, get_listing, NULL), 0);
	sem_wait(&entered);
	F.entered = NULL;
	return t;
}

static void finish_racing_refresh(pthread_t t)
{
	sem_post(&proceed);
	pthread_join(t, NULL);
	sem_destroy(&entered);
	sem_destroy(&proceed);
}

/* rmdir while a refresh is in flight: the listing it fetched still has the
 * sandbox, and it must not come back. */
Test(store_fake, a_listing_that_raced_a_kill_does_not_bring_it_back, .init = setup_fake,
     .fini = teardown_fake, .timeout = 60)
{
	struct sbx *s = made_and_listed("web"), *c;
	pthread_t t = start_racing_refresh();

	cr_assert_eq(store_kill(&st, s->id), 0);
	finish_racing_refresh(t);
	cr_expect_null(c = cached("web"), "the killed sandbox is back by name");
	sbx_unref(c);
	cr_expect_null(c = cached(s->id), "the killed sandbox is back by ID");
	sbx_unref(c);
	server_del(s->id);
	sbx_unref(s);
}

/* echo 900 > timeout while a refresh is in flight: the listing it fetched
 * has the old end time, and the new one must stay. */
Test(store_fake, a_listing_that_raced_a_timeout_keeps_the_new_end, .init = setup_fake,
     .fini = teardown_fake, .timeout = 60)
{
	struct sbx *s = made_and_listed("web"), *r = NULL, *c;
	pthread_t t = start_racing_refresh();

	cr_assert_eq(store_set_timeout(&st, s, 900, &r), 0);
	cr_assert_not_null(r);
	finish_racing_refresh(t);
	c = cached("web");
	cr_assert_not_null(c);
	cr_expect_eq(c->end_at, r->end_at, "the stale listing undid the write");
	expect_end_near(c->end_at, 900, "cached");
	sbx_unref(c);
	sbx_unref(r);
	server_del(s->id);
	sbx_unref(s);
}

/* A sandbox killed elsewhere is written to before the listing knows: the
 * write fails with ENOENT and the listing drops it without a refetch. */
Test(store_fake, a_write_to_a_sandbox_gone_elsewhere_drops_it, .init = setup_fake,
     .fini = teardown_fake, .timeout = 60)
{
	struct sbx *s = made_and_listed("web"), *c;
	int fetches;

	cr_assert_eq(api_kill(st.api, s->id, NULL), 0);
	fetches = __atomic_load_n(&F.fetches, __ATOMIC_SEQ_CST);
	cr_expect_eq(store_set_timeout(&st, s, 900, NULL), -ENOENT);
	cr_expect_null(c = cached("web"));
	sbx_unref(c);
	cr_expect_eq(store_set_state(&st, s, SBX_STATE_PAUSED, NULL), -ENOENT);
	cr_expect_eq(__atomic_load_n(&F.fetches, __ATOMIC_SEQ_CST), fetches,
		     "the cache fetched the listing again");
	server_del(s->id);
	sbx_unref(s);
}
