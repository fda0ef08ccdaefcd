#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "model/values.h"

static int tmo(const char *s, unsigned long *out)
{
	return sbx_parse_timeout(s, strlen(s), out);
}

Test(timeout, accepts)
{
	static const struct { const char *in; unsigned long want; } ok[] = {
		{ "600", 600 }, { "600\n", 600 }, { "10m", 600 }, { "2h", 7200 },
		{ "1s", 1 }, { "1s\n", 1 }, { "1", 1 }, { "0600", 600 },
		{ "2592000", 2592000 }, { "720h", 2592000 }, { "43200m", 2592000 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		unsigned long v = 12345;

		cr_expect_eq(tmo(ok[i].in, &v), 0, "\"%s\" rejected", ok[i].in);
		cr_expect_eq(v, ok[i].want, "\"%s\" -> %lu", ok[i].in, v);
	}
}

Test(timeout, rejects)
{
	static const char *const bad[] = {
		"0", "0s", "00", "-5", "+5", "", "\n", "abc", "12 34", "6 00", " 600",
		"600 ", "99999999999999999999", "18446744073709551616", "600\n\n",
		"600x", "s", "m\n", "10ms", "1.5", "0x10", "2592001", "721h", "43201m",
		"600\r\n", "\n600", "1d", "600S", "10M",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long v = 777;

		cr_expect_eq(tmo(bad[i], &v), -EINVAL, "\"%s\" accepted", bad[i]);
		cr_expect_eq(v, 777, "\"%s\" wrote the output", bad[i]);
	}
}

Test(timeout, not_nul_terminated)
{
	char buf[4] = { '6', '0', '0', '7' };
	unsigned long v = 0;

	cr_expect_eq(sbx_parse_timeout(buf, 3, &v), 0);
	cr_expect_eq(v, 600);
	cr_expect_eq(sbx_parse_timeout(buf, 0, &v), -EINVAL);
	cr_expect_eq(sbx_parse_timeout("60\0", 3, &v), -EINVAL);
}

Test(state, parse)
{
	enum sbx_state s = SBX_STATE_UNKNOWN;

	cr_expect_eq(sbx_parse_state("running", 7, &s), 0);
	cr_expect_eq(s, SBX_STATE_RUNNING);
	cr_expect_eq(sbx_parse_state("paused\n", 7, &s), 0);
	cr_expect_eq(s, SBX_STATE_PAUSED);
	cr_expect_eq(sbx_parse_state("running\n", 8, &s), 0);
	cr_expect_eq(s, SBX_STATE_RUNNING);
	static const char *const bad[] = { "", "\n", "Running", "run", "paused\n\n",
		" paused", "paused ", "unknown", "killed", "runningx" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(sbx_parse_state(bad[i], strlen(bad[i]), &s), -EINVAL,
			     "\"%s\" accepted", bad[i]);
}

Test(state, names)
{
	cr_expect_str_eq(sbx_state_name(SBX_STATE_RUNNING), "running");
	cr_expect_str_eq(sbx_state_name(SBX_STATE_PAUSED), "paused");
	cr_expect_str_eq(sbx_state_name(SBX_STATE_UNKNOWN), "unknown");
	cr_expect_str_eq(sbx_state_name((enum sbx_state)42), "unknown");
	cr_expect_eq(sbx_state_from_api("running"), SBX_STATE_RUNNING);
	cr_expect_eq(sbx_state_from_api("paused"), SBX_STATE_PAUSED);
	cr_expect_eq(sbx_state_from_api("killed"), SBX_STATE_UNKNOWN);
	cr_expect_eq(sbx_state_from_api(""), SBX_STATE_UNKNOWN);
	cr_expect_eq(sbx_state_from_api(NULL), SBX_STATE_UNKNOWN);
}

Test(names, valid)
{
	char max[64];

	memset(max, 'a', 63);
	max[63] = '\0';
	static const char *const ok[] = { "a", "Z", "0", "web-1", "my_box.v2", "A.b-c_d",
		"9lives", "a..b", "a-" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_expect(sbx_name_valid(ok[i]), "\"%s\" rejected", ok[i]);
	cr_expect(sbx_name_valid(max), "63 chars rejected");
}

Test(names, invalid)
{
	char toolong[65];

	memset(toolong, 'a', 64);
	toolong[64] = '\0';
	static const char *const bad[] = { "", ".", "..", ".hidden", "-x", "_x", "a/b", "/",
		"a b", "a\nb", "caf\xc3\xa9", "a:b", "a\\b", "a*", "\x01", "a@b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(sbx_name_valid(bad[i]), "\"%s\" accepted", bad[i]);
	cr_expect_not(sbx_name_valid(toolong), "64 chars accepted");
	cr_expect_not(sbx_name_valid(NULL));
}

Test(components, valid)
{
	char max[256], over[257];

	memset(max, 'k', 255);
	max[255] = '\0';
	memset(over, 'k', 256);
	over[256] = '\0';
	cr_expect(sbx_component_valid("sbxfs.name"));
	cr_expect(sbx_component_valid(".hidden"));
	cr_expect(sbx_component_valid("..."));
	cr_expect(sbx_component_valid("a b"));
	cr_expect(sbx_component_valid(max));
	cr_expect_not(sbx_component_valid(over));
	cr_expect_not(sbx_component_valid(""));
	cr_expect_not(sbx_component_valid("."));
	cr_expect_not(sbx_component_valid(".."));
	cr_expect_not(sbx_component_valid("a/b"));
	cr_expect_not(sbx_component_valid("/"));
	cr_expect_not(sbx_component_valid(NULL));
}

Test(time, format)
{
	char buf[SBX_TIME_LEN];

	cr_expect_str_eq(sbx_format_time(0, buf), "1970-01-01T00:00:00Z");
	cr_expect_str_eq(sbx_format_time(1795875267, buf), "2026-11-28T14:14:27Z");
	cr_expect_eq(sbx_format_time(1, buf), buf);
}

Test(time, early_years_round_trip)
{
	char buf[SBX_TIME_LEN];
	time_t t = 0, back = 1;

	/* Found by fuzz_values: "%Y" printed year 18 as "18". */
	cr_assert_eq(sbx_parse_time("0018-01-01T00:00:00Z", &t), 0);
	cr_expect_str_eq(sbx_format_time(t, buf), "0018-01-01T00:00:00Z");
	cr_expect_eq(sbx_parse_time(buf, &back), 0);
	cr_expect_eq(back, t);
}

Test(time, parse)
{
	static const struct { const char *in; time_t want; } ok[] = {
		{ "2026-11-28T14:14:27Z", 1795875267 },
		{ "2026-11-28T14:14:27.123456789Z", 1795875267 },
		{ "2026-11-28T14:14:27.5Z", 1795875267 },
		{ "2026-11-28t14:14:27z", 1795875267 },
		{ "2026-11-28T16:14:27+02:00", 1795875267 },
		{ "2026-11-28T09:14:27-05:00", 1795875267 },
		{ "2026-11-28T14:14:27.000+00:00", 1795875267 },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-02-29T00:00:00Z", 1709164800 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		time_t t = -1;

		cr_expect_eq(sbx_parse_time(ok[i].in, &t), 0, "\"%s\" rejected", ok[i].in);
		cr_expect_eq(t, ok[i].want, "\"%s\" -> %lld", ok[i].in, (long long)t);
	}
	static const char *const bad[] = { "", "2026-11-28", "2026-11-28T14:14:27",
		"2026-11-28 14:14:27Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
		"2023-02-29T00:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T14:60:00Z",
		"2026-11-28T14:14:27.Z", "2026-11-28T14:14:27+0200", "2026-11-28T14:14:27Zjunk",
		"26-11-28T14:14:27Z", "2026-11-28T14:14:27+02", "garbage", "2026-1-28T14:14:27Z",
		/* before 0000-01-01 and after 9999-12-31 in UTC */
		"0000-01-01T00:00:27.123456+02:00", "9999-12-31T23:59:59-00:01" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		time_t t;

		cr_expect_eq(sbx_parse_time(bad[i], &t), -EINVAL, "\"%s\" accepted", bad[i]);
	}
	time_t t;
	cr_expect_eq(sbx_parse_time(NULL, &t), -EINVAL);
}

Test(time, round_trip)
{
	static const time_t ts[] = { 0, 1, 86399, 951782400, 1795875267, 4102444800 };

	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		char buf[SBX_TIME_LEN];
		time_t back = -1;

		cr_expect_eq(sbx_parse_time(sbx_format_time(ts[i], buf), &back), 0);
		cr_expect_eq(back, ts[i], "%s", buf);
	}
}
