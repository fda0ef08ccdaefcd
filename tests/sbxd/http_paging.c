/* Pagination over HTTP while other threads keep creating sandboxes: every
 * sandbox that existed before the walk is seen exactly once. */
#include "httputil.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BEFORE 250
#define WRITERS 3

static struct tsrv t;
static volatile int stop_writers;

static void *writer(void *arg)
{
	int *made = arg;

	while (!__atomic_load_n(&stop_writers, __ATOMIC_SEQ_CST)) {
		struct resp r;

		http(&t, "POST", "/v2/sandboxes", TEST_KEY, "{\"templateID\":\"base\"}", &r);
		if (r.status == 201)
			__atomic_add_fetch(made, 1, __ATOMIC_SEQ_CST);
		resp_free(&r);
	}
	return NULL;
}

static int made_so_far(int *made)
{
	int n = 0;

	for (int i = 0; i < WRITERS; i++)
		n += __atomic_load_n(&made[i], __ATOMIC_SEQ_CST);
	return n;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

Test(paging, concurrent_creates_do_not_disturb_a_walk, .timeout = 60)
{
	struct sbxd_config cfg = { .max_sandboxes = 5000 };
	static char before[BEFORE][21], seen[5000][21];
	pthread_t th[WRITERS];
	int made[WRITERS] = { 0 };
	size_t nseen = 0;
	char token[128] = "";
	int pages = 0;

	tsrv_start(&t, &cfg);
	for (int i = 0; i < BEFORE; i++)
		create_sandbox(&t, "{\"templateID\":\"base\"}", before[i]);
	for (int i = 0; i < WRITERS; i++)
		pthread_create(&th[i], NULL, writer, &made[i]);
	/* On a loaded machine the writers may take a while to get going; the
	 * walk must run while they write, not before. */
	for (int k = 0; k < 500 && made_so_far(made) == 0; k++)
		usleep(10 * 1000);
	int made_before = made_so_far(made);
	do {
		char path[256];
		struct resp r;
		json_t *arr, *o;
		size_t i;

		snprintf(path, sizeof(path), "/v2/sandboxes?limit=17%s%s",
			 token[0] ? "&nextToken=" : "", token);
		http(&t, "GET", path, TEST_KEY, NULL, &r);
		cr_assert_eq(r.status, 200, "%s", r.body);
		arr = resp_json(&r);
		cr_assert(json_is_array(arr));
		cr_assert_leq(json_array_size(arr), 17);
		json_array_foreach(arr, i, o)
			snprintf(seen[nseen++], 21, "%s",
				 json_string_value(json_object_get(o, "sandboxID")));
		json_decref(arr);
		snprintf(token, sizeof(token), "%s", r.next_token);
		resp_free(&r);
		pages++;
	} while (token[0] && nseen < 4900);
	int made_during = made_so_far(made) - made_before;
	__atomic_store_n(&stop_writers, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);

	/* No duplicates. */
	qsort(seen, nseen, sizeof(*seen), cmp);
	for (size_t i = 1; i < nseen; i++)
		cr_expect_str_neq(seen[i - 1], seen[i], "duplicate %s", seen[i]);
	/* None of the earlier ones missing. */
	for (int i = 0; i < BEFORE; i++)
		cr_expect_not_null(bsearch(before[i], seen, nseen, sizeof(*seen), cmp),
				   "missing %s", before[i]);
	cr_expect_geq(pages, BEFORE / 17);
	cr_expect_gt(made_during, 0, "the writers should have raced the walk");
	tsrv_stop(&t);
}

Test(paging, last_page_has_no_token, .timeout = 30)
{
	struct sbxd_config cfg = { 0 };
	char id[21];
	struct resp r;

	tsrv_start(&t, &cfg);
	for (int i = 0; i < 4; i++)
		create_sandbox(&t, "{\"templateID\":\"base\"}", id);
	http(&t, "GET", "/v2/sandboxes?limit=2", TEST_KEY, NULL, &r);
	cr_assert_neq(r.next_token[0], '\0');
	char path[256];
	snprintf(path, sizeof(path), "/v2/sandboxes?limit=2&nextToken=%s", r.next_token);
	resp_free(&r);
	http(&t, "GET", path, TEST_KEY, NULL, &r);
	json_t *arr = resp_json(&r);
	cr_expect_eq(json_array_size(arr), 2);
	cr_expect_str_eq(r.next_token, "");
	json_decref(arr);
	resp_free(&r);
	tsrv_stop(&t);
}
