/* Small helpers shared by the sbxd modules: clocks, randomness, time
 * formatting, constant-time comparison and identifier checks. */
#ifndef SBXD_UTIL_H
#define SBXD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch (CLOCK_REALTIME): end times are
 * shown to clients and persisted, so they must survive a restart. */
int64_t util_now_ms(void);

/* Monotonic milliseconds, for measuring request latency. */
double util_mono_ms(void);

/* Fills buf with n cryptographically random bytes.  Returns 0 or -errno. */
int util_random(void *buf, size_t n);

/* Writes n random characters from [a-z0-9] plus a NUL into out (n+1 bytes). */
int util_random_alnum(char *out, size_t n);

/* Writes 2*n random lowercase hex digits plus a NUL into out. */
int util_random_hex(char *out, size_t n);

/* Formats ms-since-epoch as RFC 3339 UTC with milliseconds into out
 * ("2026-01-02T03:04:05.678Z"); out must hold 32 bytes. */
void util_rfc3339(int64_t ms, char out[32]);

/* Parses an RFC 3339 timestamp (fraction and offset optional).  Returns 0
 * and sets *ms, or -EINVAL. */
int util_parse_rfc3339(const char *s, int64_t *ms);

/* Compares two strings without leaking where they differ through timing.
 * Length differences still take time proportional to the longer input. */
bool util_secure_equal(const char *a, const char *b);

/* True for a plausible identifier: 1..64 chars of [A-Za-z0-9_-]. */
bool util_valid_id(const char *s);

/* Decodes %XX escapes and '+' (form encoding) in place.  Returns 0 or
 * -EINVAL for a malformed escape or an encoded NUL. */
int util_url_decode(char *s);

/* Sleeps for ms milliseconds, resuming after signals. */
void util_sleep_ms(long ms);

#endif
