/* Clocks and sleeping (common/clock.h). */
#include <criterion/criterion.h>
#include <time.h>

#include "common/clock.h"

Test(clock, monotonic_units_agree)
{
	int64_t ms0 = clock_mono_ms(), ns = clock_mono_ns(), ms1 = clock_mono_ms();

	cr_expect_geq(ns / 1000000, ms0);
	cr_expect_leq(ns / 1000000, ms1);
}

Test(clock, sleep_waits_at_least_the_time)
{
	int64_t t0 = clock_mono_ns();

	clock_sleep_ms(30);
	cr_expect_geq(clock_mono_ns() - t0, 30 * 1000000LL);
	t0 = clock_mono_ns();
	clock_sleep_ms(0);
	clock_sleep_ms(-5);
	/* Generous: only "did not sleep for seconds" is asserted. */
	cr_expect_lt(clock_mono_ns() - t0, 2000 * 1000000LL);
}

Test(clock, wall_is_the_epoch_clock)
{
	int64_t ms = clock_wall_ms();
	time_t now = time(NULL);

	cr_expect_leq(ms / 1000 - now, 1);
	cr_expect_leq(now - ms / 1000, 1);
}

Test(clock, wall_after_is_normalised)
{
	int64_t before = clock_wall_ms();
	struct timespec ts = clock_wall_after(1999);
	int64_t at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

	cr_expect(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	cr_expect_geq(at, before + 1999);
	cr_expect_lt(at, clock_wall_ms() + 1999 + 1);
	ts = clock_wall_after(-100);
	at = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	cr_expect_geq(at, before, "a negative wait counts as none");
}
