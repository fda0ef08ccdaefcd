/* base/: what every sbxd folder may use: the log (log.h) and these small
 * helpers of sbxd's own: randomness, constant-time comparison, identifier
 * checks and URL decoding.  Includes nothing of sbxd but the public sbxd.h;
 * clocks and times are in src/common. */
#ifndef SBXD_UTIL_H
#define SBXD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fills buf with n cryptographically random bytes.  Returns 0 or -errno. */
int util_random(void *buf, size_t n);

/* Writes n random characters from [a-z0-9] plus a NUL into out (n+1 bytes). */
int util_random_alnum(char *out, size_t n);

/* Writes 2*n random lowercase hex digits plus a NUL into out. */
int util_random_hex(char *out, size_t n);

/* Compares two strings without leaking where they differ through timing.
 * Length differences still take time proportional to the longer input. */
bool util_secure_equal(const char *a, const char *b);

/* True for a plausible identifier: 1..64 chars of [A-Za-z0-9_-]. */
bool util_valid_id(const char *s);

/* Decodes %XX escapes and '+' (form encoding) in place.  Returns 0 or
 * -EINVAL for a malformed escape or an encoded NUL. */
int util_url_decode(char *s);

#endif
