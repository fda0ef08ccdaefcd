/* List query parsing and page tokens. */
#include "api/query.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static char err[256];

Test(query, defaults_v2)
{
	struct list_params p = { 0 };
	struct list_query q;

	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.states, REG_RUNNING | REG_PAUSED);
	cr_expect_eq(q.filter.limit, 100);
	cr_expect_eq(q.filter.cursor, 0);
	cr_expect_not(q.filter.ascending);
	q_list_free(&q);
}

Test(query, v1_is_running_only_and_unpaginated)
{
	struct list_params p = { .state = "paused", .limit = "junk" };
	struct list_query q;

	cr_assert_eq(q_parse_list(&p, 0, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.states, REG_RUNNING);
	cr_expect_eq(q.filter.limit, 0);
	q_list_free(&q);
}

Test(query, states)
{
	struct list_params p = { .state = "paused" };
	struct list_query q;

	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.states, REG_PAUSED);
	q_list_free(&q);
	p.state = "running,paused";
	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.states, REG_RUNNING | REG_PAUSED);
	q_list_free(&q);
	p.state = "running,stopped";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
	p.state = ",";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
}

Test(query, metadata_is_decoded_again)
{
	/* The value arrives once-decoded: "user=a%20b&app=x%26y". */
	struct list_params p = { .metadata = "user=a%20b&app=x%26y" };
	struct list_query q;

	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(json_string_value(json_object_get(q.metadata, "user")), "a b");
	cr_expect_str_eq(json_string_value(json_object_get(q.metadata, "app")), "x&y");
	cr_expect_eq(json_object_size(q.metadata), 2);
	q_list_free(&q);
	p.metadata = "novalue";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
	p.metadata = "k=%zz";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
	p.metadata = "=v";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
	p.metadata = "k=%FF";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
}

Test(query, limit_bounds)
{
	static const char *const bad[] = { "0", "101", "-1", "", "1x", "1000", " 5" };
	struct list_params p = { .limit = "1" };
	struct list_query q;

	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.limit, 1);
	p.limit = "100";
	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.limit, 100);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		p.limit = bad[i];
		cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL, "%s", bad[i]);
	}
}

Test(query, tokens_round_trip_and_reject_junk)
{
	char tok[64];
	uint64_t c = 0;

	for (uint64_t v = 1; v < 100000; v = v * 3 + 1) {
		q_token_encode(v, tok, sizeof(tok));
		cr_assert_eq(q_token_decode(tok, &c), 0, "%s", tok);
		cr_expect_eq(c, v);
	}
	q_token_encode(42, tok, sizeof(tok));
	tok[3] = tok[3] == 'a' ? 'b' : 'a';
	cr_expect_eq(q_token_decode(tok, &c), -EINVAL);
	cr_expect_eq(q_token_decode("", &c), -EINVAL);
	cr_expect_eq(q_token_decode("42", &c), -EINVAL);
	cr_expect_eq(q_token_decode("zzzzzzzzzzzzzzzzzzzzzzzz", &c), -EINVAL);

	struct list_params p = { .next_token = "bogus" };
	struct list_query q;
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
	q_token_encode(7, tok, sizeof(tok));
	p.next_token = tok;
	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0);
	cr_expect_eq(q.filter.cursor, 7);
	q_list_free(&q);
}

Test(query, order_and_started_after)
{
	struct list_params p = { .order = "asc", .started_after = "2026-01-02T03:04:05Z" };
	struct list_query q;

	cr_assert_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), 0, "%s", err);
	cr_expect(q.filter.ascending);
	cr_expect_eq(q.filter.started_after_ms, 1767323045000LL);
	q_list_free(&q);
	p.order = "sideways";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
	p.order = NULL;
	p.started_after = "yesterday";
	cr_expect_eq(q_parse_list(&p, 1, &q, err, sizeof(err)), -EINVAL);
}
