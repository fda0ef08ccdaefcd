/* RFC 3339 timestamps, the one format the E2B API uses for times.
 * Shared by sbxfs and sbxd; libc only, no locale, thread-safe.
 *
 * Times are int64_t milliseconds since the epoch (UTC).  Formatting always
 * gives UTC ("Z") with a four-digit year, so everything it writes parses
 * back to the same value. */
#ifndef COMMON_RFC3339_H
#define COMMON_RFC3339_H

#include <stdint.h>

/* Bytes a formatted time needs, NUL included. */
#define RFC3339_LEN 32

/* Writes ms as "2026-01-02T03:04:05.678Z" into out (RFC3339_LEN bytes) and
 * returns out.  Years outside 0000..9999 cannot be written that way and
 * give the epoch instead. */
char *rfc3339_format_ms(int64_t ms, char out[RFC3339_LEN]);

/* The same to whole seconds, without a fraction: "2026-01-02T03:04:05Z".
 * ms is rounded down to its second. */
char *rfc3339_format_s(int64_t ms, char out[RFC3339_LEN]);

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t' and 'z'
 * accepted in lower case).  Fields have exactly their digits and are
 * range-checked (a leap second :60 counts as :59); digits of the fraction
 * past the third are ignored.  Returns 0 and sets *ms, or -EINVAL (NULL or
 * anything else, *ms untouched). */
int rfc3339_parse(const char *s, int64_t *ms);

#endif
