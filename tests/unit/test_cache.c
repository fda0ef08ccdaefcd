#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache.h"

#include "fake_fetch.h"

TestSuite(cache, .init = setup, .fini = teardown, .timeout = 60);

static struct sbx_listing *get(struct sbx_cache *c)
{
	struct sbx_listing *l = NULL;
	struct api_error e = { 0 };
	int r = cache_get(c, &l, &e);

	cr_assert_eq(r, 0, "cache_get: %d %s", r, e.message);
	cr_assert_not_null(l);
	return l;
}

static int fetches(void)
{
	return __atomic_load_n(&F.fetches, __ATOMIC_SEQ_CST);
}

Test(cache, basic_listing)
{
	server_add(mk("id-b", NULL, 10));
	server_add(mk("id-a", "zed", 10));
	server_add(mk("id-c", "alpha", 10));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 10000);
	struct sbx_listing *l = get(c);

	cr_assert_eq(listing_count(l), 3);
	cr_expect_str_eq(listing_at(l, 0)->name, "alpha");
	cr_expect_str_eq(listing_at(l, 1)->name, "id-b");
	cr_expect_str_eq(listing_at(l, 2)->name, "zed");
	cr_expect_str_eq(listing_at(l, 2)->sbx->id, "id-a");
	cr_expect_null(listing_at(l, 3));
	cr_expect_str_eq(listing_find(l, "zed")->id, "id-a");
	cr_expect_str_eq(listing_find(l, "id-a")->id, "id-a", "lookup by ID of a named sandbox");
	cr_expect_str_eq(listing_find(l, "id-b")->id, "id-b");
	cr_expect_null(listing_find(l, "nope"));
	cr_expect_null(listing_find(l, ""));
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "id-c")), "alpha");
	listing_put(l);
	cache_free(c);
	cache_free(NULL);
	listing_put(NULL);
}

Test(cache, ttl_expiry)
{
	server_add(mk("x", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100);

	listing_put(get(c));
	listing_put(get(c));
	listing_put(get(c));
	cr_expect_eq(fetches(), 1);
	usleep(150 * 1000);
	listing_put(get(c));
	cr_expect_eq(fetches(), 2);
	listing_put(get(c));
	cr_expect_eq(fetches(), 2);

	struct cache_stats st;
	cache_get_stats(c, &st);
	cr_expect_eq(st.refreshes, 2);
	cr_expect_eq(st.misses, 2);
	cr_expect_eq(st.hits, 3);
	cr_expect_eq(st.entries, 1);
	cr_expect_eq(st.refresh_errors, 0);
	cache_free(c);
}

Test(cache, ttl_zero_always_fetches)
{
	struct sbx_cache *c = cache_new(fake_fetch, &F, 0);

	for (int i = 0; i < 5; i++)
		listing_put(get(c));
	cr_expect_eq(fetches(), 5);
	cache_free(c);
}

Test(cache, invalidate)
{
	server_add(mk("x", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);
	struct sbx_listing *old = get(c);

	server_add(mk("y", NULL, 1));
	listing_put(get(c));
	cr_expect_eq(fetches(), 1);
	cache_invalidate(c);
	struct sbx_listing *l = get(c);
	cr_expect_eq(fetches(), 2);
	cr_expect_eq(listing_count(l), 2);
	cr_expect_eq(listing_count(old), 1, "a held listing never changes");
	listing_put(old);
	listing_put(l);
	cache_free(c);
}

/* take hands over what was cached (so refresh can tell the kernel which
 * directories to forget) and leaves the cache empty. */
Test(cache, take_hands_over_the_dropped_snapshot)
{
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);
	struct sbx_listing *l;

	cr_expect_null(cache_take(c), "nothing cached, yet a snapshot");
	server_add(mk("x", "web", 1));
	listing_put(get(c));
	l = cache_take(c);
	cr_assert_not_null(l);
	cr_expect_eq(listing_count(l), 1);
	cr_expect_str_eq(listing_at(l, 0)->name, "web");
	cr_expect_null(cache_take(c), "taken twice");
	listing_put(get(c));
	cr_expect_eq(fetches(), 2, "a take did not make the next get fetch");
	listing_put(l);
	cache_free(c);
}

struct getter {
	struct sbx_cache *c;
	struct sbx_listing *l;
	int r;
	struct api_error e;
};

static void *getter_main(void *p)
{
	struct getter *g = p;

	g->r = cache_get(g->c, &g->l, &g->e);
	return NULL;
}

static void run_getters(struct sbx_cache *c, struct getter *g, int n)
{
	pthread_t t[32];

	for (int i = 0; i < n; i++) {
		g[i] = (struct getter){ .c = c };
		pthread_create(&t[i], NULL, getter_main, &g[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

Test(cache, single_flight)
{
	struct getter g[32];

	server_add(mk("x", NULL, 1));
	F.delay_ms = 300;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 10000);
	run_getters(c, g, 32);
	cr_expect_eq(fetches(), 1, "%d fetches for 32 concurrent callers", fetches());
	for (int i = 0; i < 32; i++) {
		cr_expect_eq(g[i].r, 0);
		cr_expect_eq(g[i].l, g[0].l, "all share one snapshot");
		listing_put(g[i].l);
	}
	cache_free(c);
}

Test(cache, single_flight_error_shared)
{
	struct getter g[16];

	F.delay_ms = 200;
	F.fail = -EHOSTUNREACH;
	struct sbx_cache *c = cache_new(fake_fetch, &F, 10000);
	run_getters(c, g, 16);
	cr_expect_eq(fetches(), 1);
	for (int i = 0; i < 16; i++) {
		cr_expect_eq(g[i].r, -EHOSTUNREACH);
		cr_expect_null(g[i].l);
		cr_expect_str_eq(g[i].e.message, "backend down");
		cr_expect_eq(g[i].e.http_status, 503);
	}
	struct cache_stats st;
	cache_get_stats(c, &st);
	cr_expect_eq(st.refresh_errors, 1);
	cache_free(c);
}

Test(cache, error_is_not_hidden_by_stale_data)
{
	server_add(mk("x", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 50);
	struct sbx_listing *l = NULL;
	struct api_error e;

	listing_put(get(c));
	F.fail = -ETIMEDOUT;
	usleep(80 * 1000);
	cr_expect_eq(cache_get(c, &l, &e), -ETIMEDOUT);
	cr_expect_null(l);
	cr_expect_eq(e.err, -ETIMEDOUT);
	F.fail = 0;
	l = get(c);
	cr_expect_eq(listing_count(l), 1);
	listing_put(l);
	cache_free(c);
}

Test(cache, own_writes_visible_at_once)
{
	server_add(mk("a", "web", 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);
	struct sbx_listing *l0 = get(c), *l;
	struct sbx *s = mk("b", "db", 2);

	cache_put_sbx(c, s);
	sbx_unref(s);   /* the cache took its own reference */
	l = get(c);
	cr_expect_eq(listing_count(l), 2);
	cr_expect_str_eq(listing_find(l, "db")->id, "b");
	listing_put(l);

	struct sbx *p = sbx_with(listing_find(l0, "web"), SBX_STATE_PAUSED, 999);
	cache_put_sbx(c, p);
	sbx_unref(p);
	l = get(c);
	cr_expect_eq(listing_find(l, "web")->state, SBX_STATE_PAUSED);
	cr_expect_eq(listing_find(l, "web")->end_at, 999);
	cr_expect_eq(listing_count(l), 2);
	listing_put(l);

	cache_remove(c, "a");
	l = get(c);
	cr_expect_eq(listing_count(l), 1);
	cr_expect_null(listing_find(l, "web"));
	cr_expect_null(listing_find(l, "a"));
	listing_put(l);
	cache_remove(c, "not-there");
	l = get(c);
	cr_expect_eq(listing_count(l), 1);
	listing_put(l);

	cr_expect_eq(fetches(), 1, "own writes need no request");
	cr_expect_eq(listing_find(l0, "web")->state, SBX_STATE_RUNNING, "old snapshot intact");
	cr_expect_eq(listing_count(l0), 1);
	listing_put(l0);
	cache_free(c);
}

struct race {
	struct sbx_cache *c;
	struct getter g;
	pthread_t t;
	sem_t entered, proceed;
};

/* Starts a refresh that has read the server's list and is held before
 * returning it. */
static void race_begin(struct race *r, struct sbx_cache *c)
{
	r->c = c;
	sem_init(&r->entered, 0, 0);
	sem_init(&r->proceed, 0, 0);
	F.entered = &r->entered;
	F.proceed = &r->proceed;
	cache_invalidate(c);
	r->g = (struct getter){ .c = c };
	pthread_create(&r->t, NULL, getter_main, &r->g);
	sem_wait(&r->entered);
}

static struct sbx_listing *race_end(struct race *r)
{
	F.entered = F.proceed = NULL;
	sem_post(&r->proceed);
	pthread_join(r->t, NULL);
	cr_assert_eq(r->g.r, 0);
	sem_destroy(&r->entered);
	sem_destroy(&r->proceed);
	return r->g.l;
}

Test(cache, refresh_racing_kill_does_not_resurrect)
{
	struct race r;
	struct sbx_listing *l;

	server_add(mk("a", "web", 1));
	server_add(mk("b", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);
	listing_put(get(c));

	race_begin(&r, c);      /* the refresh has seen a and b */
	server_del("a");
	cache_remove(c, "a");   /* the kill lands while the reply is in flight */
	l = race_end(&r);
	cr_expect_null(listing_find(l, "a"), "killed sandbox came back");
	cr_expect_null(listing_find(l, "web"));
	cr_expect_not_null(listing_find(l, "b"));
	listing_put(l);

	/* and the very next get (no refresh) still lacks it */
	l = get(c);
	cr_expect_null(listing_find(l, "a"));
	listing_put(l);
	cache_free(c);
}

Test(cache, refresh_racing_create_and_change_keeps_them)
{
	struct race r;
	struct sbx_listing *l;

	server_add(mk("a", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);

	race_begin(&r, c);
	struct sbx *n = mk("new", "fresh", 5);
	cache_put_sbx(c, n);
	sbx_unref(n);
	struct sbx *p = sbx_new("a", "base", NULL, SBX_STATE_PAUSED, 1, 601, NULL, 0);
	cache_put_sbx(c, p);
	sbx_unref(p);
	l = race_end(&r);
	cr_expect_not_null(listing_find(l, "fresh"), "created sandbox lost");
	cr_expect_eq(listing_find(l, "a")->state, SBX_STATE_PAUSED, "own pause undone");
	listing_put(l);

	/* A later refresh started after the changes: the server's word wins
	 * and the change log is pruned. */
	cache_invalidate(c);
	l = get(c);
	cr_expect_null(listing_find(l, "fresh"));
	cr_expect_eq(listing_find(l, "a")->state, SBX_STATE_RUNNING);
	listing_put(l);
	cache_free(c);
}

Test(cache, name_collisions)
{
	server_add(mk("id-late", "web", 300));
	server_add(mk("id-b", "web", 100));
	server_add(mk("id-a", "web", 100));      /* same start, smaller ID: wins */
	server_add(mk("id-x", "id-b", 1));       /* claims another's ID: not honoured */
	server_add(mk("id-y", "..bad", 1));      /* invalid name */
	server_add(mk("id-z", "id-z", 1));       /* its own ID */
	server_add(mk("id-w", "solo", 500));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);
	struct sbx_listing *l = get(c);

	cr_assert_eq(listing_count(l), 7);
	cr_expect_str_eq(listing_find(l, "web")->id, "id-a");
	cr_expect_str_eq(listing_find(l, "id-b")->id, "id-b");
	cr_expect_str_eq(listing_find(l, "id-late")->id, "id-late");
	cr_expect_str_eq(listing_find(l, "id-x")->id, "id-x");
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "id-x")), "id-x");
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "id-y")), "id-y");
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "id-z")), "id-z");
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "id-w")), "solo");
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "id-a")), "web");
	for (size_t i = 1; i < listing_count(l); i++)
		cr_expect_lt(strcmp(listing_at(l, i - 1)->name, listing_at(l, i)->name), 0,
			     "names unique and sorted");
	/* every sandbox is findable by ID */
	static const char *const ids[] = { "id-late", "id-b", "id-a", "id-x", "id-y", "id-z", "id-w" };
	for (size_t i = 0; i < 7; i++)
		cr_expect_str_eq(listing_find(l, ids[i])->id, ids[i]);
	listing_put(l);

	/* killing the winner hands the name to the next claimant */
	cache_remove(c, "id-a");
	l = get(c);
	cr_expect_str_eq(listing_find(l, "web")->id, "id-b");
	cr_expect_eq(listing_count(l), 6);
	listing_put(l);
	cache_free(c);
}

Test(cache, duplicate_ids_in_fetch)
{
	server_add(mk("dup", "one", 1));
	server_add(mk("dup", "two", 1));
	server_add(mk("other", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);
	struct sbx_listing *l = get(c);

	cr_expect_eq(listing_count(l), 2);
	cr_expect_str_eq(listing_name_of(l, listing_find(l, "dup")), "two", "the later wins");
	listing_put(l);
	cache_free(c);
}

static int big_fetch(void *ctx, struct sbx ***items, size_t *n, struct api_error *err)
{
	struct sbx **all = ctx;
	struct sbx **v = malloc(10000 * sizeof(*v));

	(void)err;
	for (int i = 0; i < 10000; i++)
		v[i] = sbx_ref(all[i]);
	*items = v;
	*n = 10000;
	return 0;
}

Test(cache, many_sandboxes_fast_lookups)
{
	enum { N = 10000, LOOKUPS = 200000 };
	struct sbx **all = calloc(N, sizeof(*all));
	struct sbx_cache *c = NULL;
	char id[32], name[32];

	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "sbx%06d", i);
		snprintf(name, sizeof(name), "n%d", i);
		all[i] = mk(id, i % 2 ? name : NULL, i);
	}
	struct sbx_listing *l;

	c = cache_new(big_fetch, all, 100000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	l = get(c);
	cr_assert_eq(listing_count(l), N);
	listing_put(l);
	for (int i = 0; i < LOOKUPS; i++) {
		l = get(c);
		snprintf(id, sizeof(id), "sbx%06d", (i * 7919) % N);
		cr_assert_not_null(listing_find(l, id));
		listing_put(l);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_expect_lt(secs, 10.0, "%d lookups took %.2f s", LOOKUPS, secs);
	cache_free(c);
	for (int i = 0; i < N; i++)
		sbx_unref(all[i]);
	free(all);
}


#include <malloc.h>

static int list_fetch(void *ctx, struct sbx ***items, size_t *n, struct api_error *err)
{
	const char *body = ctx;
	char why[200];

	(void)err;
	return sbx_list_from_json(body, strlen(body), items, n, why, sizeof(why));
}

/* 10,000 typical sandboxes (parsed from list JSON) plus their listing stay
 * well inside the process budget of ~20 MiB. */
Test(cache, memory_for_10k)
{
	enum { N = 10000 };
	size_t cap = (size_t)N * 600 + 16, len = 1;
	char *body = malloc(cap);

	body[0] = '[';
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(body + len, cap - len,
			"%s{\"alias\":\"base\",\"clientID\":\"6532622b\",\"cpuCount\":2,"
			"\"diskSizeMB\":512,\"endAt\":\"2026-11-28T14:24:27Z\",\"envdVersion\":\"0.2.0\","
			"\"memoryMB\":512,\"metadata\":{\"sbxfs.name\":\"box-%d\",\"owner\":\"ci\"},"
			"\"sandboxID\":\"i%019d\",\"startedAt\":\"2026-11-28T14:14:27Z\","
			"\"state\":\"running\",\"templateID\":\"rki5dems9wqfm4r03t7g\"}",
			i ? "," : "", i, i);
	len += (size_t)snprintf(body + len, cap - len, "]");

	struct mallinfo2 before = mallinfo2();
	struct sbx_cache *c = cache_new(list_fetch, body, 100000);
	struct sbx_listing *l = get(c);
	struct mallinfo2 after = mallinfo2();
	size_t used = after.uordblks - before.uordblks;

	cr_expect_eq(listing_count(l), N);
	cr_expect_str_eq(listing_find(l, "box-9999")->id, "i0000000000000009999");
	if (after.uordblks)   /* 0 under a sanitizer's allocator */
		cr_expect_lt(used, 10u << 20, "10k sandboxes take %zu bytes", used);
	cr_log_info("10k sandboxes: %zu bytes (%zu per sandbox)", used, used / N);
	listing_put(l);
	cache_free(c);
	free(body);
}

/* Readers, writers and refreshes at once (run under ASan to catch a
 * listing or sandbox freed while in use). */
struct stress {
	struct sbx_cache *c;
	int stop;   /* atomic */
	int id;
	long ops;
};

static void *stress_reader(void *p)
{
	struct stress *st = p;

	while (!__atomic_load_n(&st->stop, __ATOMIC_RELAXED)) {
		struct sbx_listing *l = NULL;
		struct api_error e;

		if (cache_get(st->c, &l, &e) == 0) {
			for (size_t i = 0; i < listing_count(l); i++) {
				const struct sbx_dirent *d = listing_at(l, i);

				cr_assert_eq(listing_find(l, d->name), d->sbx);
				cr_assert_eq(listing_find(l, d->sbx->id), d->sbx);
				cr_assert_str_eq(listing_name_of(l, d->sbx), d->name);
				if (i)
					cr_assert_lt(strcmp(listing_at(l, i - 1)->name, d->name), 0);
			}
			listing_put(l);
		}
		st->ops++;
	}
	return NULL;
}

static void *stress_writer(void *p)
{
	struct stress *st = p;
	char id[32], name[32];
	unsigned seed = (unsigned)st->id;

	while (!__atomic_load_n(&st->stop, __ATOMIC_RELAXED)) {
		int k = rand_r(&seed) % 40;

		snprintf(id, sizeof(id), "w%d-%d", st->id, k);
		snprintf(name, sizeof(name), "name%d", k % 10);   /* collisions galore */
		if (rand_r(&seed) % 2) {
			struct sbx *s = mk(id, name, k % 3);

			cache_put_sbx(st->c, s);
			sbx_unref(s);
		} else {
			cache_remove(st->c, id);
		}
		if (rand_r(&seed) % 50 == 0)
			cache_invalidate(st->c);
		st->ops++;
	}
	return NULL;
}

Test(cache, stress)
{
	struct stress rd[6], wr[2];
	pthread_t t[8];

	for (int i = 0; i < 20; i++) {
		char id[16];

		snprintf(id, sizeof(id), "srv%d", i);
		server_add(mk(id, i % 2 ? "name1" : NULL, i));
	}
	struct sbx_cache *c = cache_new(fake_fetch, &F, 1);
	for (int i = 0; i < 6; i++) {
		rd[i] = (struct stress){ .c = c, .id = i };
		pthread_create(&t[i], NULL, stress_reader, &rd[i]);
	}
	for (int i = 0; i < 2; i++) {
		wr[i] = (struct stress){ .c = c, .id = 100 + i };
		pthread_create(&t[6 + i], NULL, stress_writer, &wr[i]);
	}
	usleep(1000 * 1000);
	for (int i = 0; i < 6; i++)
		__atomic_store_n(&rd[i].stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		__atomic_store_n(&wr[i].stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	long reads = 0;
	for (int i = 0; i < 6; i++)
		reads += rd[i].ops;
	cr_expect_gt(reads, 0);
	cr_expect_gt(wr[0].ops + wr[1].ops, 0);
	cache_free(c);
}

Test(cache, newest_change_per_id_wins_in_a_race)
{
	struct race r;
	struct sbx_listing *l;

	server_add(mk("a", NULL, 1));
	server_add(mk("b", NULL, 1));
	struct sbx_cache *c = cache_new(fake_fetch, &F, 100000);

	race_begin(&r, c);
	struct sbx *a2 = sbx_new("a", "base", NULL, SBX_STATE_PAUSED, 1, 2, NULL, 0);
	cache_put_sbx(c, a2);
	cache_remove(c, "a");           /* put then remove: gone */
	cache_remove(c, "b");
	struct sbx *b2 = sbx_new("b", "base", NULL, SBX_STATE_PAUSED, 1, 2, NULL, 0);
	cache_put_sbx(c, b2);           /* remove then put: there, paused */
	cache_remove(c, "zz");          /* unknown ID: harmless */
	sbx_unref(a2);
	sbx_unref(b2);
	l = race_end(&r);
	cr_expect_null(listing_find(l, "a"));
	cr_expect_not_null(listing_find(l, "b"));
	cr_expect_eq(listing_find(l, "b")->state, SBX_STATE_PAUSED);
	cr_expect_eq(listing_count(l), 1);
	listing_put(l);
	cache_free(c);
}
