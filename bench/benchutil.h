/* Small helpers shared by the bench tools: a monotonic clock, percentiles,
 * number parsing, key files. */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bu_now_ns(void);

/* Sorts v in place (ascending). */
void bu_sort_u64(uint64_t *v, size_t n);

/* The p-th percentile (0 < p <= 100, nearest rank) of a sorted array of
 * nanoseconds, in microseconds; 0 when n is 0. */
double bu_pct_us(const uint64_t *sorted, size_t n, double p);

/* The first line of a key file, malloc'd (caller frees); NULL after a
 * message naming tool on stderr when it cannot be read or is empty. */
char *bu_read_key(const char *tool, const char *file);

/* Parses a whole decimal number in [min, max]; 0 or -EINVAL. */
int bu_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
