/* Parsers and formatters for the small values users write and read:
 * timeouts, states, sandbox names, RFC 3339 times.  Pure functions. */
#ifndef SBXFS_VALUES_H
#define SBXFS_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum sbx_state { SBX_STATE_UNKNOWN = 0, SBX_STATE_RUNNING, SBX_STATE_PAUSED };

/* Largest timeout accepted from a write, in seconds (30 days); the server
 * may impose a smaller one. */
#define SBX_TIMEOUT_MAX (30UL * 24 * 3600)

/* A write to `timeout`: one integer with an optional unit suffix s|m|h and an
 * optional single trailing newline ("600", "600\n", "10m", "2h").  Zero,
 * negative, empty, garbage, overflow and more than one value are -EINVAL.
 * buf need not be NUL-terminated. */
int sbx_parse_timeout(const char *buf, size_t len, unsigned long *secs);

/* A write to `state`: "running" or "paused" with an optional trailing
 * newline.  Anything else is -EINVAL. */
int sbx_parse_state(const char *buf, size_t len, enum sbx_state *out);
/* "running", "paused" or "unknown"; static storage. */
const char *sbx_state_name(enum sbx_state s);
/* Parses the API's state string; unknown strings give SBX_STATE_UNKNOWN. */
enum sbx_state sbx_state_from_api(const char *s);

/* A directory name sbxfs accepts for a sandbox:
 * [A-Za-z0-9][A-Za-z0-9._-]{0,62}. */
bool sbx_name_valid(const char *name);

/* True if `s` can be a single path component: not empty, not "." or "..",
 * no '/', at most NAME_MAX bytes.  Used for metadata keys. */
bool sbx_component_valid(const char *s);

/* RFC 3339 in UTC, second precision: "2026-11-28T14:14:27Z".  buf must hold
 * SBX_TIME_LEN bytes.  Returns buf. */
#define SBX_TIME_LEN 32
char *sbx_format_time(time_t t, char *buf);
/* Accepts RFC 3339 with optional fractional seconds and Z or +hh:mm;
 * -EINVAL also for a time outside the years 0000 to 9999 in UTC. */
int sbx_parse_time(const char *s, time_t *out);

#endif
