/* RFC 3339 format and parse; see rfc3339.h.  Calendar arithmetic is done
 * here rather than with timegm/strptime: those depend on the locale and
 * the time zone, and accept more than RFC 3339 allows. */
#include "common/rfc3339.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define MS_PER_DAY (86400LL * 1000)

/* Days from 1970-01-01 to year-mon-mday of the proleptic Gregorian
 * calendar (the well-known "days from civil" computation). */
static int64_t days_from_civil(int64_t y, int mon, int mday)
{
	y -= mon <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + mday - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static char *format(int64_t ms, char out[RFC3339_LEN], bool frac)
{
	int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
	time_t secs;
	struct tm tm;

	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	secs = (time_t)(days * 86400 + rem / 1000);
	if (!gmtime_r(&secs, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		secs = 0;
		rem = 0;
		gmtime_r(&secs, &tm);
	}
	/* The casts bound every field for the format checker. */
	int n = snprintf(out, RFC3339_LEN, "%04u-%02u-%02uT%02u:%02u:%02u",
			 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned char)(tm.tm_mon + 1),
			 (unsigned char)tm.tm_mday, (unsigned char)tm.tm_hour,
			 (unsigned char)tm.tm_min, (unsigned char)tm.tm_sec);
	if (frac)
		snprintf(out + n, RFC3339_LEN - (size_t)n, ".%03uZ", (unsigned)(rem % 1000));
	else
		snprintf(out + n, RFC3339_LEN - (size_t)n, "Z");
	return out;
}

char *rfc3339_format_ms(int64_t ms, char out[RFC3339_LEN])
{
	return format(ms, out, true);
}

char *rfc3339_format_s(int64_t ms, char out[RFC3339_LEN])
{
	return format(ms, out, false);
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

/* ".digits": the first three as milliseconds.  -1 when malformed. */
static int take_fraction(const char **p)
{
	int ms = 0, digits = 0;

	if (**p != '.')
		return 0;
	for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, digits++)
		if (digits < 3)
			ms = ms * 10 + (**p - '0');
	if (digits == 0)
		return -1;
	for (; digits < 3; digits++)
		ms *= 10;
	return ms;
}

/* "Z" or "+HH:MM" / "-HH:MM" ending the string: *off in seconds east. */
static int take_offset(const char *p, int *off)
{
	int sign, oh, om;

	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*off = 0;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if ((oh = take_digits(&p, 2)) < 0 || *p++ != ':' || (om = take_digits(&p, 2)) < 0 ||
	    oh > 23 || om > 59 || *p != '\0')
		return -EINVAL;
	*off = sign * (oh * 3600 + om * 60);
	return 0;
}

int rfc3339_parse(const char *s, int64_t *ms)
{
	int year, mon, mday, hour, min, sec, frac, off;
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
	if ((frac = take_fraction(&p)) < 0 || take_offset(p, &off) < 0)
		return -EINVAL;
	if (sec == 60)
		sec = 59;   /* a leap second counts as :59 */
	int64_t secs = days_from_civil(year, mon, mday) * 86400 + hour * 3600 + min * 60 + sec;
	*ms = (secs - off) * 1000 + frac;
	return 0;
}
