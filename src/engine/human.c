#include "engine/human.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/timefmt.h"

void human_duration(time_t secs, char *buf, size_t len)
{
	if (secs < 1)
		(void)snprintf(buf, len, "Less than a second");
	else if (secs == 1)
		(void)snprintf(buf, len, "1 second");
	else if (secs < 60)
		(void)snprintf(buf, len, "%ld seconds", (long)secs);
	else if (secs < 120)
		(void)snprintf(buf, len, "About a minute");
	else if (secs < 3600)
		(void)snprintf(buf, len, "%ld minutes", (long)secs / 60);
	else if (secs < 7200)
		(void)snprintf(buf, len, "About an hour");
	else if (secs < 48 * 3600)
		(void)snprintf(buf, len, "%ld hours", (long)secs / 3600);
	else if (secs < 14 * 86400)
		(void)snprintf(buf, len, "%ld days", (long)secs / 86400);
	else if (secs < 60 * 86400)
		(void)snprintf(buf, len, "%ld weeks", (long)secs / (7 * 86400));
	else if (secs < 2 * 365 * 86400)
		(void)snprintf(buf, len, "%ld months", (long)secs / (30 * 86400));
	else
		(void)snprintf(buf, len, "%ld years", (long)secs / (365 * 86400));
}

void human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000.0;
		u++;
	}
	if (u == 0)
		(void)snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else
		(void)snprintf(buf, len, "%.3g%s", v, units[u]);
}

void human_size_binary(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	(void)snprintf(buf, len, u ? "%.4g%s" : "%.0f%s", v, units[u]);
}

time_t human_parse_time(const char *s)
{
	struct timespec t;

	return s && rfc3339_parse(s, &t) == 0 ? t.tv_sec : 0;
}

char *human_rfc3339(const struct timespec *t)
{
	char buf[RFC3339_MAX];

	if (rfc3339_format(t, buf, sizeof(buf)) < 0)
		return xstrdup("0001-01-01T00:00:00Z"); /* Go's zero time, as docker prints it */
	return xstrdup(buf);
}
