/* Parsers and formatters for the small values users write and read. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/rfc3339.h"
#include "values.h"

/* Drops one optional trailing newline; the rest of the value must not
 * contain another. */
static size_t strip_newline(const char *buf, size_t len)
{
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	return len;
}

int sbx_parse_timeout(const char *buf, size_t len, unsigned long *secs)
{
	unsigned long v = 0, mult = 1;
	size_t i;

	if (!buf)
		return -EINVAL;
	len = strip_newline(buf, len);
	if (len == 0)
		return -EINVAL;
	switch (buf[len - 1]) {
	case 's': mult = 1; len--; break;
	case 'm': mult = 60; len--; break;
	case 'h': mult = 3600; len--; break;
	default: break;
	}
	if (len == 0)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		d = (unsigned)(buf[i] - '0');
		if (v > (ULONG_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (v == 0 || v > SBX_TIMEOUT_MAX / mult)
		return -EINVAL;
	*secs = v * mult;
	return 0;
}

int sbx_parse_state(const char *buf, size_t len, enum sbx_state *out)
{
	if (!buf)
		return -EINVAL;
	len = strip_newline(buf, len);
	if (len == 7 && memcmp(buf, "running", 7) == 0) {
		*out = SBX_STATE_RUNNING;
		return 0;
	}
	if (len == 6 && memcmp(buf, "paused", 6) == 0) {
		*out = SBX_STATE_PAUSED;
		return 0;
	}
	return -EINVAL;
}

const char *sbx_state_name(enum sbx_state s)
{
	switch (s) {
	case SBX_STATE_RUNNING: return "running";
	case SBX_STATE_PAUSED: return "paused";
	default: return "unknown";
	}
}

enum sbx_state sbx_state_from_api(const char *s)
{
	if (!s)
		return SBX_STATE_UNKNOWN;
	if (strcmp(s, "running") == 0)
		return SBX_STATE_RUNNING;
	if (strcmp(s, "paused") == 0)
		return SBX_STATE_PAUSED;
	return SBX_STATE_UNKNOWN;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool sbx_name_valid(const char *name)
{
	size_t i;

	if (!name || !is_alnum(name[0]))
		return false;
	for (i = 1; name[i]; i++) {
		char c = name[i];

		if (i >= 63)
			return false;
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

bool sbx_component_valid(const char *s)
{
	size_t len;

	if (!s || !*s)
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	if (strchr(s, '/'))
		return false;
	len = strlen(s);
	return len <= NAME_MAX;
}

_Static_assert(SBX_TIME_LEN >= RFC3339_LEN, "sbx_format_time's buffer holds common's format");

/* The first and last second RFC 3339's four-digit years can write. */
#define FIRST_WRITABLE (-62167219200LL)   /* 0000-01-01T00:00:00Z */
#define LAST_WRITABLE 253402300799LL      /* 9999-12-31T23:59:59Z */

char *sbx_format_time(time_t t, char *buf)
{
	/* Outside four-digit years (where seconds in ms would overflow, too)
	 * common's formatter gives the epoch; so does this, without the
	 * multiplication. */
	if ((long long)t < FIRST_WRITABLE || (long long)t > LAST_WRITABLE)
		t = 0;
	return rfc3339_format_s((int64_t)t * 1000, buf);
}

int sbx_parse_time(const char *s, time_t *out)
{
	int64_t ms;

	if (rfc3339_parse(s, &ms) < 0)
		return -EINVAL;
	/* to the second, rounding down also before the epoch */
	long long t = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);

	/* A time whose offset moves it out of four-digit years in UTC
	 * (0000-01-01T00:00:27+02:00) could not be shown again as itself. */
	if (t < FIRST_WRITABLE || t > LAST_WRITABLE)
		return -EINVAL;
	*out = (time_t)t;
	return 0;
}
