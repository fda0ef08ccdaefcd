/* Clocks and sleeping, shared by sbxfs and sbxd.  libc only.
 *
 * Monotonic time measures intervals (deadlines, ages, latency); wall time
 * is for what a user or a restart sees (a sandbox's end time).  None of
 * these fail: clock_gettime cannot fail for these clocks on Linux. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds and in whole milliseconds. */
int64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);

/* CLOCK_REALTIME in milliseconds since the epoch. */
int64_t clock_wall_ms(void);

/* The CLOCK_REALTIME instant ms milliseconds from now, for
 * pthread_cond_timedwait (whose default clock is CLOCK_REALTIME).  A
 * negative ms counts as 0. */
struct timespec clock_wall_after(int64_t ms);

/* Sleeps ms milliseconds (nothing for ms <= 0), resuming after signals. */
void clock_sleep_ms(int64_t ms);

#endif
