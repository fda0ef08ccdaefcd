/* An own change patched into a listing (cache/patch.c) gives exactly the
 * listing a full build with that change gives: the same names in the same
 * order, the same ID index, over many random listings and changes, with
 * names contested, given up, and equal to other sandboxes' IDs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_priv.h"

#define N_MAX 24

static unsigned seed = 12345;

static unsigned rnd(unsigned n)
{
	return (unsigned)rand_r(&seed) % n;
}

/* A sandbox with ID s<i>, maybe a name from a small pool (so names are
 * contested), sometimes the ID of another one. */
static struct sbx *random_sbx(unsigned i)
{
	static const char *const names[] = { "web", "db", "s03", "x", "s07" };
	char id[16];
	struct sbx_meta m = { SBX_NAME_KEY, names[rnd(5)] };
	bool named = rnd(3) != 0;

	snprintf(id, sizeof(id), "s%02u", i);
	return sbx_new(id, "base", NULL, SBX_STATE_RUNNING, (time_t)(1 + rnd(3)), 100,
		       named ? &m : NULL, named ? 1 : 0);
}

static void expect_same(const struct sbx_listing *a, const struct sbx_listing *b,
			int round)
{
	cr_assert_eq(a->n, b->n, "round %d: %zu entries, a full build has %zu", round,
		     a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_str_eq(a->ents[i].name, b->ents[i].name, "round %d entry %zu", round, i);
		cr_assert_eq(a->ents[i].sbx, b->ents[i].sbx, "round %d entry %zu", round, i);
		cr_assert_eq(a->by_id[i], b->by_id[i], "round %d index %zu", round, i);
	}
}

Test(patch, a_patched_listing_is_the_full_build)
{
	for (int round = 0; round < 3000; round++) {
		struct sbx *all[N_MAX] = { 0 }, *v[N_MAX], *s;
		size_t n = 0;
		unsigned pick = rnd(N_MAX);
		char id[16];

		for (unsigned i = 0; i < N_MAX; i++)
			if (rnd(2))
				all[i] = random_sbx(i);
		for (unsigned i = 0; i < N_MAX; i++)
			if (all[i])
				v[n++] = all[i];
		struct sbx_listing *l = apply_and_build(v, n, NULL, 0), *p, *full;

		cr_assert_not_null(l);
		snprintf(id, sizeof(id), "s%02u", pick);
		/* a removal, or the sandbox as it is now (new, renamed, or the
		 * same name and start: a state or timeout write) */
		if (rnd(3) == 0)
			s = NULL;
		else if (all[pick] && rnd(2))
			s = sbx_with(all[pick], SBX_STATE_PAUSED, 200);
		else
			s = random_sbx(pick);
		struct change ch = { .id = id, .sbx = s };

		p = listing_patch(l, id, s);
		full = apply_and_build(v, n, &ch, 1);
		cr_assert_not_null(p);
		cr_assert_not_null(full);
		expect_same(p, full, round);
		listing_put(p);
		listing_put(full);
		listing_put(l);
		sbx_unref(s);
		for (unsigned i = 0; i < N_MAX; i++)
			sbx_unref(all[i]);
	}
}
