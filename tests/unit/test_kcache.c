/* The page-cache tag table: what open() decides keep_cache from. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kcache.h"

static bool note(struct kcache *k, const char *path, const char *text)
{
	return kcache_note(k, path, text, strlen(text));
}

Test(kcache, first_sight_is_new_then_same_until_it_changes)
{
	struct kcache *k = kcache_new(0);

	cr_assert_not_null(k);
	cr_expect_not(note(k, "/a/info", "state=running\n"), "never seen, yet same");
	cr_expect(note(k, "/a/info", "state=running\n"));
	cr_expect(note(k, "/a/info", "state=running\n"));
	cr_expect_not(note(k, "/a/info", "state=paused\n"), "changed content kept");
	cr_expect(note(k, "/a/info", "state=paused\n"));
	cr_expect_eq(kcache_count(k), 1);
	kcache_free(k);
}

Test(kcache, paths_are_independent)
{
	struct kcache *k = kcache_new(0);

	cr_expect_not(note(k, "/a/info", "x\n"));
	cr_expect_not(note(k, "/b/info", "x\n"), "b took a's tag");
	cr_expect(note(k, "/a/info", "x\n"));
	cr_expect_not(note(k, "/b/info", "y\n"));
	cr_expect(note(k, "/a/info", "x\n"), "b's change touched a");
	cr_expect_eq(kcache_count(k), 2);
	kcache_free(k);
}

/* Same bytes, different length: an embedded NUL or a cut must not match. */
Test(kcache, length_is_part_of_the_content)
{
	struct kcache *k = kcache_new(0);

	cr_expect_not(kcache_note(k, "/p", "ab\0", 3));
	cr_expect_not(kcache_note(k, "/p", "ab", 2));
	cr_expect_not(kcache_note(k, "/p", "", 0));
	cr_expect(kcache_note(k, "/p", "", 0));
	kcache_free(k);
}

Test(kcache, clear_forgets_everything)
{
	struct kcache *k = kcache_new(0);

	note(k, "/a", "1");
	note(k, "/b", "2");
	kcache_clear(k);
	cr_expect_eq(kcache_count(k), 0);
	cr_expect_not(note(k, "/a", "1"));
	cr_expect_not(note(k, "/b", "2"));
	kcache_free(k);
}

/* Growth rehashes every path; the limit starts over instead of growing. */
Test(kcache, grows_then_starts_over_at_the_limit)
{
	struct kcache *k = kcache_new(5000);
	char path[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/s%d/info", i);
		cr_assert_not(note(k, path, path));
	}
	cr_expect_eq(kcache_count(k), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/s%d/info", i);
		cr_assert(note(k, path, path), "%s lost in growth", path);
	}
	cr_expect_not(note(k, "/one/more", "x"));
	cr_expect_eq(kcache_count(k), 1, "the table did not start over");
	cr_expect_not(note(k, "/s0/info", "/s0/info"), "a forgotten path matched");
	kcache_free(k);
}

Test(kcache, null_is_never_same)
{
	cr_expect_not(note(NULL, "/a", "x"));
	kcache_clear(NULL);
	kcache_free(NULL);
}

struct worker {
	struct kcache *k;
	int id;
	int wrong;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	char path[32], text[32];

	for (int i = 0; i < 20000; i++) {
		snprintf(path, sizeof(path), "/w%d/%d", w->id, i % 50);
		snprintf(text, sizeof(text), "%d", i / 50);
		/* Each content is new on its first note and the same on its
		 * second, whatever the other threads do to their paths. */
		if (note(w->k, path, text) || !note(w->k, path, text))
			w->wrong++;
	}
	return NULL;
}

Test(kcache, threads_see_only_their_own_paths)
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
		cr_expect_eq(w[i].wrong, 0, "thread %d: %d wrong answers", i, w[i].wrong);
	}
	cr_expect_eq(kcache_count(k), 200);
	kcache_free(k);
}
