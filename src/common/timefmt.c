/* RFC 3339 time stamps (see timefmt.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"

/* n digits at *p into *ret; advances *p */
static int digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

static int is_leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil) */
static long long days_from_civil(long long y, int m, int d)
{
	long long era, yoe, doy;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int parse_offset(const char **p, long *ret)
{
	int sign, hh, mm;

	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*ret = 0;
		return 0;
	}
	if (**p != '+' && **p != '-')
		return -EINVAL;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (digits(p, 2, &hh) < 0 || *(*p)++ != ':' || digits(p, 2, &mm) < 0 || hh > 23 || mm > 59)
		return -EINVAL;
	*ret = sign * (hh * 3600L + mm * 60L);
	return 0;
}

int rfc3339_parse(const char *s, struct timespec *ret)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, se, dmax;
	long nsec = 0, off;

	if (!s || digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 ||
	    *p++ != '-' || digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' ||
	    digits(&p, 2, &se) < 0)
		return -EINVAL;
	if (mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	dmax = mdays[mo - 1] + (mo == 2 && is_leap(y));
	if (d < 1 || d > dmax)
		return -EINVAL;
	if (*p == '.') {
		int n = 0;

		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++, n++)
			if (n < 9)
				nsec = nsec * 10 + (*p - '0');
		for (; n < 9; n++)
			nsec *= 10;
	}
	if (parse_offset(&p, &off) < 0 || *p)
		return -EINVAL;
	/* a leap second (":60") reads as the first second of the next minute, as Go does */
	ret->tv_sec = (time_t)(days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + se -
			       off);
	ret->tv_nsec = nsec;
	return 0;
}

int rfc3339_format(const struct timespec *t, char *buf, size_t len)
{
	struct tm tm;
	int n;

	if (t->tv_nsec < 0 || t->tv_nsec > 999999999 || !gmtime_r(&t->tv_sec, &tm))
		return -EINVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t->tv_nsec);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}
