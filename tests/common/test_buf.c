/* The capped growable buffer (common/buf.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

Test(buf, appends_and_terminates)
{
	struct buf b;
	char chunk[700];

	buf_init(&b, 1 << 20);
	cr_expect_null(b.data);
	cr_assert_eq(buf_append(&b, "abc", 3), 0);
	cr_expect_str_eq(b.data, "abc");
	cr_assert_eq(buf_append(&b, "", 0), 0);
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 10; i++)
		cr_assert_eq(buf_append(&b, chunk, sizeof(chunk)), 0);
	cr_expect_eq(b.len, 3 + 10 * sizeof(chunk));
	cr_expect_eq(strlen(b.data), b.len);
	cr_expect_geq(b.cap, b.len + 1);
	cr_expect_not(b.over);
	buf_release(&b);
	cr_expect_null(b.data);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.max, 1 << 20);
}

Test(buf, exactly_the_cap_fits)
{
	struct buf b;

	buf_init(&b, 5);
	cr_assert_eq(buf_append(&b, "12", 2), 0);
	cr_assert_eq(buf_append(&b, "345", 3), 0);
	cr_expect_str_eq(b.data, "12345");
	cr_expect_not(b.over);
	buf_release(&b);
}

Test(buf, past_the_cap_drops_everything_after)
{
	struct buf b;

	buf_init(&b, 5);
	cr_assert_eq(buf_append(&b, "1234", 4), 0);
	cr_expect_eq(buf_append(&b, "56", 2), -EFBIG);
	cr_expect(b.over);
	cr_expect_null(b.data, "what was held is freed, never buffered");
	cr_expect_eq(b.len, 0);
	cr_expect_eq(buf_append(&b, "x", 1), -EFBIG, "later data is dropped too");
	cr_expect_null(b.data);
	buf_release(&b);
	cr_expect_not(b.over);
	cr_expect_eq(buf_append(&b, "x", 1), 0, "usable again after release");
	buf_release(&b);
}

Test(buf, steal_hands_over)
{
	struct buf b;
	size_t len = 0;

	buf_init(&b, 100);
	cr_expect_null(buf_steal(&b, &len));
	cr_expect_eq(len, 0);
	cr_assert_eq(buf_append(&b, "hello", 5), 0);
	char *s = buf_steal(&b, &len);
	cr_expect_str_eq(s, "hello");
	cr_expect_eq(len, 5);
	cr_expect_null(b.data);
	cr_expect_eq(b.max, 100);
	free(s);
}
