/* The page-cache version table: what open() and getattr decide from. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fs/pagecache.h"

static enum kcache_use op(struct kcache *k, const char *path, const char *text, uint64_t *key)
{
	enum kcache_use u = kcache_open(k, path, text, strlen(text), key);

	if (u == KCACHE_FRESH)
		kcache_fresh_done(k, *key);
	return u;
}

/* An open of path showing text that is released at once: what it got. */
static enum kcache_use cycle(struct kcache *k, const char *path, const char *text)
{
	uint64_t key;
	enum kcache_use u = op(k, path, text, &key);

	if (u != KCACHE_DIRECT)
		kcache_release(k, key);
	return u;
}

static size_t size_of(struct kcache *k, const char *path, const char *text)
{
	return kcache_size(k, path, text, strlen(text));
}

Test(kcache, a_new_version_is_fresh_then_kept)
{
	struct kcache *k = kcache_new(0);
	uint64_t a, b;

	cr_assert_not_null(k);
	cr_expect_eq(op(k, "/w/info", "state=running\n", &a), KCACHE_FRESH);
	kcache_release(k, a);
	cr_expect_eq(op(k, "/w/info", "state=running\n", &a), KCACHE_KEEP);
	cr_expect_eq(op(k, "/w/info", "state=running\n", &b), KCACHE_KEEP, "same version, both open");
	kcache_release(k, a);
	kcache_release(k, b);
	cr_expect_eq(op(k, "/w/info", "state=paused\n", &a), KCACHE_FRESH);
	kcache_release(k, a);
	cr_expect_eq(kcache_count(k), 1);
	kcache_free(k);
}

/* While one version is read through the cache, another is read direct,
 * and sizes reported are the open version's. */
Test(kcache, one_version_in_the_cache_at_a_time)
{
	struct kcache *k = kcache_new(0);
	uint64_t a, b;

	cr_expect_eq(op(k, "/w/info", "state=paused\n", &a), KCACHE_FRESH);
	cr_expect_eq(op(k, "/w/info", "state=running\n", &b), KCACHE_DIRECT);
	cr_expect_eq(size_of(k, "/w/info", "state=running\n"), strlen("state=paused\n"),
		     "a size of another version while one is open");
	kcache_release(k, a);
	cr_expect_eq(size_of(k, "/w/info", "state=running\n"), strlen("state=running\n"));
	cr_expect_eq(op(k, "/w/info", "state=running\n", &b), KCACHE_FRESH,
		     "the kernel holds the paused pages and the running size: both must go");
	kcache_release(k, b);
	kcache_free(k);
}

/* Between a version's open and its drop being done, nobody else may read
 * through the cache (the kernel may still hold the old pages). */
Test(kcache, others_read_direct_while_a_version_is_switched)
{
	struct kcache *k = kcache_new(0);
	uint64_t a, b;

	cr_expect_eq(kcache_open(k, "/w/info", "x", 1, &a), KCACHE_FRESH);
	cr_expect_eq(kcache_open(k, "/w/info", "x", 1, &b), KCACHE_DIRECT);
	kcache_fresh_done(k, a);
	cr_expect_eq(kcache_open(k, "/w/info", "x", 1, &b), KCACHE_KEEP);
	kcache_release(k, a);
	kcache_release(k, b);
	kcache_free(k);
}

/* A size given to the kernel for another version makes the next open of
 * the cached version fresh, even when the content went back to it. */
Test(kcache, a_reported_size_of_another_version_forgets_the_pages)
{
	struct kcache *k = kcache_new(0);
	uint64_t a;

	op(k, "/w/info", "v1\n", &a);
	kcache_release(k, a);
	cr_expect_eq(size_of(k, "/w/info", "version2\n"), strlen("version2\n"));
	cr_expect_eq(op(k, "/w/info", "v1\n", &a), KCACHE_FRESH);
	kcache_release(k, a);
	cr_expect_eq(size_of(k, "/w/info", "v1\n"), 3);
	cr_expect_eq(op(k, "/w/info", "v1\n", &a), KCACHE_KEEP);
	kcache_release(k, a);
	kcache_free(k);
}

Test(kcache, paths_are_independent)
{
	struct kcache *k = kcache_new(0);
	uint64_t a, b;

	cr_expect_eq(op(k, "/a/info", "x\n", &a), KCACHE_FRESH);
	cr_expect_eq(op(k, "/b/info", "y\n", &b), KCACHE_FRESH, "b is held back by a");
	cr_expect_eq(size_of(k, "/b/info", "zz\n"), 2);
	kcache_release(k, a);
	kcache_release(k, b);
	cr_expect_eq(kcache_count(k), 2);
	kcache_free(k);
}

/* Same bytes, different length: an embedded NUL or a cut must not match. */
Test(kcache, length_is_part_of_the_content)
{
	struct kcache *k = kcache_new(0);
	uint64_t a;

	cr_expect_eq(kcache_open(k, "/p", "ab\0", 3, &a), KCACHE_FRESH);
	kcache_fresh_done(k, a);
	kcache_release(k, a);
	cr_expect_eq(kcache_open(k, "/p", "ab", 2, &a), KCACHE_FRESH);
	kcache_fresh_done(k, a);
	kcache_release(k, a);
	kcache_free(k);
}

/* Past the limit idle paths are forgotten; paths with opens are kept. */
Test(kcache, the_limit_forgets_only_idle_paths)
{
	struct kcache *k = kcache_new(3000);
	uint64_t held;
	char path[32];

	cr_expect_eq(op(k, "/held", "h", &held), KCACHE_FRESH);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 2999; i++) {
			snprintf(path, sizeof(path), "/s%d/info", i);
			cr_assert_eq(cycle(k, path, path), round ? KCACHE_KEEP : KCACHE_FRESH,
				     "%s in round %d", path, round);
		}
		cr_expect_eq(kcache_count(k), 3000);
	}
	cr_expect_eq(cycle(k, "/one/more", "x"), KCACHE_FRESH);
	cr_expect_eq(kcache_count(k), 2, "idle paths were kept past the limit");
	cr_expect_eq(size_of(k, "/held", "longer"), 1, "the open path was forgotten");
	cr_expect_eq(cycle(k, "/s0/info", "/s0/info"), KCACHE_FRESH);
	kcache_release(k, held);
	kcache_free(k);
}

Test(kcache, null_table_reads_direct)
{
	uint64_t key;

	cr_expect_eq(kcache_open(NULL, "/a", "x", 1, &key), KCACHE_DIRECT);
	cr_expect_eq(kcache_size(NULL, "/a", "xy", 2), 2);
	kcache_free(NULL);
}

struct worker {
	struct kcache *k;
	int id;
	int wrong;
};

/* Two versions of one path, opened and released by many threads: at no
 * time are both read through the cache. */
static int cached[2];   /* opens of each version reading through the cache */

static void *hammer(void *arg)
{
	struct worker *w = arg;
	const char *text = w->id % 2 ? "paused\n" : "running\n";
	uint64_t key;

	for (int i = 0; i < 20000; i++) {
		enum kcache_use u = kcache_open(w->k, "/w/info", text, strlen(text), &key);

		if (u == KCACHE_DIRECT)
			continue;
		__atomic_add_fetch(&cached[w->id % 2], 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&cached[1 - w->id % 2], __ATOMIC_SEQ_CST) != 0)
			w->wrong++;
		if (u == KCACHE_FRESH)
			kcache_fresh_done(w->k, key);
		__atomic_sub_fetch(&cached[w->id % 2], 1, __ATOMIC_SEQ_CST);
		kcache_release(w->k, key);
	}
	return NULL;
}

Test(kcache, threads_never_cache_two_versions_at_once)
{
	struct kcache *k = kcache_new(0);
	struct worker w[4];
	pthread_t t[4];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ k, i, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(w[i].wrong, 0, "thread %d: %d overlaps", i, w[i].wrong);
	}
	kcache_free(k);
}
