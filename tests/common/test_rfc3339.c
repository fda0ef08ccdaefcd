/* RFC 3339 format and parse (common/rfc3339.h). */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/rfc3339.h"

Test(rfc3339, formats_utc_with_milliseconds)
{
	char buf[RFC3339_LEN];

	cr_expect_str_eq(rfc3339_format_ms(1700000000123LL, buf), "2023-11-14T22:13:20.123Z");
	cr_expect_str_eq(rfc3339_format_ms(0, buf), "1970-01-01T00:00:00.000Z");
	cr_expect_str_eq(rfc3339_format_ms(-1, buf), "1969-12-31T23:59:59.999Z");
	cr_expect_str_eq(rfc3339_format_s(1700000000999LL, buf), "2023-11-14T22:13:20Z");
	cr_expect_str_eq(rfc3339_format_s(-1, buf), "1969-12-31T23:59:59Z");
	cr_expect_str_eq(rfc3339_format_s(-62135596800000LL + 0, buf), "0001-01-01T00:00:00Z",
			 "four-digit years");
	cr_expect_str_eq(rfc3339_format_s(253402300800000LL, buf), "1970-01-01T00:00:00Z",
			 "a year past 9999 gives the epoch");
}

Test(rfc3339, parses_fraction_and_offsets)
{
	int64_t ms = 0;

	cr_assert_eq(rfc3339_parse("2023-11-14T22:13:20.123Z", &ms), 0);
	cr_expect_eq(ms, 1700000000123LL);
	cr_assert_eq(rfc3339_parse("2023-11-14T23:13:20+01:00", &ms), 0);
	cr_expect_eq(ms, 1700000000000LL);
	cr_assert_eq(rfc3339_parse("2023-11-14t21:43:20.5-00:30", &ms), 0);
	cr_expect_eq(ms, 1700000000500LL);
	cr_assert_eq(rfc3339_parse("2023-11-14T22:13:20.123456789z", &ms), 0);
	cr_expect_eq(ms, 1700000000123LL, "digits past the millisecond are ignored");
	cr_assert_eq(rfc3339_parse("2016-12-31T23:59:60Z", &ms), 0);
	cr_expect_eq(ms, 1483228799000LL, "a leap second counts as :59");
	cr_assert_eq(rfc3339_parse("1969-12-31T23:59:59Z", &ms), 0);
	cr_expect_eq(ms, -1000);
	cr_assert_eq(rfc3339_parse("2024-02-29T00:00:00Z", &ms), 0);
	cr_assert_eq(rfc3339_parse("0000-01-01T00:00:00Z", &ms), 0);
	cr_expect_eq(ms, -62167219200000LL);
}

Test(rfc3339, rejects_everything_else_untouched)
{
	static const char *const bad[] = {
		"", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z",
		"2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20+01:00x",
		"2023-11-14T22:13:20Zx", "2023-13-14T22:13:20Z", "2023-02-29T00:00:00Z",
		"2023-11-31T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:60:00Z",
		"2023-11-14T22:13:61Z", "2023-11-14T22:13:20+24:00", "2023-1-14T22:13:20Z",
		" 2023-11-14T22:13:20Z", "+2023-11-14T22:13:20Z", "2023-11-14T22:13:20.12a3Z",
	};
	int64_t ms = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfc3339_parse(bad[i], &ms), -EINVAL, "accepted \"%s\"", bad[i]);
	cr_expect_eq(rfc3339_parse(NULL, &ms), -EINVAL);
	cr_expect_eq(ms, 42);
}

Test(rfc3339, format_parses_back)
{
	static const int64_t samples[] = {
		0, 1, -1, 999, -999, 1700000000123LL, 951782400000LL /* 2000-02-29 */,
		-62167219200000LL, 253402300799999LL, -2208988800001LL,
	};
	char buf[RFC3339_LEN];
	int64_t ms;

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		cr_assert_eq(rfc3339_parse(rfc3339_format_ms(samples[i], buf), &ms), 0, "%s", buf);
		cr_expect_eq(ms, samples[i], "%s", buf);
		cr_assert_eq(rfc3339_parse(rfc3339_format_s(samples[i], buf), &ms), 0, "%s", buf);
		cr_expect_eq(ms, samples[i] - (((samples[i] % 1000) + 1000) % 1000), "%s", buf);
	}
}
