/* Parsers and formatters for the small values users write and read. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

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

char *sbx_format_time(time_t t, char *buf)
{
	struct tm tm;

	/* Four-digit years always ("%Y" gives "18" for 0018), so what
	 * sbx_parse_time accepts formats into something it accepts again.
	 * Years past 9999 cannot be written that way; like a failed gmtime_r
	 * they give the epoch. */
	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		snprintf(buf, SBX_TIME_LEN, "1970-01-01T00:00:00Z");
	else
		snprintf(buf, SBX_TIME_LEN, "%04u-%02u-%02uT%02u:%02u:%02uZ",
			 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned char)(tm.tm_mon + 1),
			 (unsigned char)tm.tm_mday, (unsigned char)tm.tm_hour,
			 (unsigned char)tm.tm_min, (unsigned char)tm.tm_sec);
	return buf;
}

/* Reads exactly n digits at *p, advancing it.  -1 if they are not there. */
static int take_digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static int days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 2 && leap ? 29 : days[mon - 1];
}

int sbx_parse_time(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int year, mon, mday, hour, min, sec, off = 0;
	time_t t;
	const char *p = s;

	if (!s)
		return -EINVAL;
	if ((year = take_digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mon = take_digits(&p, 2)) < 0 || *p++ != '-' ||
	    (mday = take_digits(&p, 2)) < 0 || (*p != 'T' && *p != 't'))
		return -EINVAL;
	p++;
	if ((hour = take_digits(&p, 2)) < 0 || *p++ != ':' ||
	    (min = take_digits(&p, 2)) < 0 || *p++ != ':' ||
	    (sec = take_digits(&p, 2)) < 0)
		return -EINVAL;
	if (mon < 1 || mon > 12 || mday < 1 || mday > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;

		if ((oh = take_digits(&p, 2)) < 0 || *p++ != ':' ||
		    (om = take_digits(&p, 2)) < 0 || oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec == 60 ? 59 : sec;   /* a leap second counts as :59 */
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && mday == 31))
		return -EINVAL;
	*out = t - off;
	return 0;
}
