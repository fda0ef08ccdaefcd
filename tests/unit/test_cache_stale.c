/* The cache's waits: stale-while-revalidate, the wait bound, interrupts,
 * and the pause after a failed background refresh. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_fetch.h"

TestSuite(stale, .init = setup, .fini = teardown, .timeout = 60);

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int fetches(void)
{
	return __atomic_load_n(&F.fetches, __ATOMIC_SEQ_CST);
}

static void set_delay(unsigned ms)
{
	__atomic_store_n(&F.delay_ms, ms, __ATOMIC_SEQ_CST);
}

static void set_fail(int r)
{
	__atomic_store_n(&F.fail, r, __ATOMIC_SEQ_CST);
}

/* cache_get, timed: its result, the listing's size in *count, ms in *took. */
static int timed_get(struct sbx_cache *c, size_t *count, long *took, struct api_error *e)
{
	struct sbx_listing *l = NULL;
	long t0 = ms_now();
	int r = cache_get(c, &l, e);

	*took = ms_now() - t0;
	*count = listing_count(l);
	listing_put(l);
	return r;
}

static void wait_idle(struct sbx_cache *c)
{
	struct cache_stats st;

	for (int i = 0; i < 500; i++) {
		cache_get_stats(c, &st);
		if (!st.refreshing)
			return;
		usleep(10 * 1000);
	}
	cr_assert_fail("the refresh never ended");
}

Test(stale, served_at_once_while_one_refresh_runs_behind)
{
	struct api_error e = { 0 };
	struct cache_stats st;
	size_t n;
	long took;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100);

	cache_set_limits(c, 30000, 0, NULL);
	server_add(mk("a", NULL, 1));
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	usleep(150 * 1000);
	server_add(mk("b", NULL, 1));
	set_delay(600);
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(timed_get(c, &n, &took, &e), 0, "%s", e.message);
		cr_expect_eq(n, 1, "the stale listing is served");
		cr_expect_lt(took, 300, "a stale get waited %ld ms for the refresh", took);
	}
	cache_get_stats(c, &st);
	cr_expect(st.refreshing);
	cr_expect_geq(st.age_ms, 100);
	wait_idle(c);
	cr_expect_eq(fetches(), 2, "one refresh behind 20 stale gets, not %d", fetches() - 1);
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	cr_expect_eq(n, 2, "the refresh was installed");
	/* The new listing's age counts from its fetch's start, 600 ms ago:
	 * that get was stale too. */
	cache_get_stats(c, &st);
	cr_expect_eq(st.stale_hits, 21);
	cache_free(c);
}

/* With a TTL of 100 ms and the given stale limit, a get after idle_ms must
 * wait for the (300 ms) refresh and see what it fetched. */
static void expect_get_waits(unsigned stale_ms, unsigned idle_ms, const char *why)
{
	struct api_error e = { 0 };
	size_t n;
	long took;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100);

	cache_set_limits(c, stale_ms, 0, NULL);
	server_add(mk("a", NULL, 1));
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	usleep(idle_ms * 1000);
	server_add(mk("b", NULL, 1));
	set_delay(300);
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	cr_expect_eq(n, 2, "%s: the old listing was served", why);
	cr_expect_geq(took, 250, "%s: did not wait for the refresh (%ld ms)", why, took);
	cache_free(c);
}

Test(stale, past_the_stale_limit_callers_wait)
{
	expect_get_waits(300, 400, "past the stale limit");
}

Test(stale, zero_keeps_blocking_refreshes)
{
	expect_get_waits(0, 150, "stale_ttl 0");
}

Test(stale, a_wait_ends_at_its_bound_and_the_refresh_goes_on)
{
	struct api_error e = { 0 };
	size_t n;
	long took;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 10000);

	cache_set_limits(c, 30000, 200, NULL);
	server_add(mk("a", NULL, 1));
	set_delay(1000);
	cr_expect_eq(timed_get(c, &n, &took, &e), -ETIMEDOUT);
	cr_expect_geq(took, 190);
	cr_expect_lt(took, 800, "the wait bound of 200 ms took %ld ms", took);
	cr_expect_eq(e.err, -ETIMEDOUT);
	cr_expect_neq(strstr(e.message, "goes on loading"), NULL, "%s", e.message);
	wait_idle(c);
	set_delay(0);
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	cr_expect_eq(n, 1);
	cr_expect_eq(fetches(), 1, "the refresh that outlived the wait was kept");
	cache_free(c);
}

static int interrupt_flag;

static bool interrupted(void)
{
	return __atomic_load_n(&interrupt_flag, __ATOMIC_SEQ_CST) != 0;
}

static void *interrupt_later(void *arg)
{
	(void)arg;
	usleep(150 * 1000);
	__atomic_store_n(&interrupt_flag, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

Test(stale, an_interrupt_ends_the_wait)
{
	struct api_error e = { 0 };
	pthread_t t;
	size_t n;
	long took;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 10000);

	interrupt_flag = 0;
	cache_set_limits(c, 30000, 0, interrupted);
	set_delay(2000);
	pthread_create(&t, NULL, interrupt_later, NULL);
	cr_expect_eq(timed_get(c, &n, &took, &e), -EINTR);
	pthread_join(t, NULL);
	cr_expect_lt(took, 600, "interrupted after 150 ms, returned after %ld", took);
	cr_expect_eq(e.err, -EINTR);
	cache_free(c);   /* joins the refresher, still fetching */
	cr_expect_eq(fetches(), 1);
}

Test(stale, a_failed_background_refresh_is_not_retried_on_every_get)
{
	struct api_error e = { 0 };
	struct cache_stats st;
	size_t n;
	long took;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100);

	cache_set_limits(c, 30000, 0, NULL);
	server_add(mk("a", NULL, 1));
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	usleep(150 * 1000);
	set_fail(-EIO);
	cr_assert_eq(timed_get(c, &n, &took, &e), 0, "stale served while the backend fails");
	wait_idle(c);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(timed_get(c, &n, &took, &e), 0);
		cr_expect_eq(n, 1);
	}
	cr_expect_eq(fetches(), 2, "a failed refresh was retried at once (%d fetches)", fetches());
	cache_get_stats(c, &st);
	cr_expect_neq(st.failing_since, 0);
	cr_expect_eq(st.last_refresh_error.err, -EIO);
	cr_expect_str_eq(st.last_refresh_error.message, "backend down");
	/* a second later it tries again, and a success ends the failure */
	usleep(1100 * 1000);
	set_fail(0);
	cr_assert_eq(timed_get(c, &n, &took, &e), 0);
	wait_idle(c);
	cache_get_stats(c, &st);
	cr_expect_eq(fetches(), 3);
	cr_expect_eq(st.failing_since, 0);
	cache_free(c);
}
