#include "engine/human.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"

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
	struct tm tm = { 0 };
	const char *p;
	time_t t;

	if (!s || !*s)
		return 0;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	t = timegm(&tm);
	if (*p == '.')
		while (isdigit((unsigned char)*++p))
			;
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		long off = strtol(p + 1, NULL, 10) * 3600 + strtol(p + 4, NULL, 10) * 60;

		t += *p == '+' ? -off : off;
	}
	return t;
}

char *human_rfc3339(const struct timespec *t)
{
	struct tm tm;
	char buf[64];

	(void)gmtime_r(&t->tv_sec, &tm);
	(void)strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%09ldZ", buf, t->tv_nsec);
}

int64_t human_parse_bytes(const char *s)
{
	static const char units[] = "kmgtp";
	const char *p = s, *u;
	long double v = 0, scale = 1;
	int digits = 0;

	/* docker's grammar (go-units RAMInBytes): DIGITS[.DIGITS][ ][kmgtp][i][b], any case */
	if (!s)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		v = v * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			v += (*p - '0') / (scale *= 10);
	if (digits == 0 || p[-1] == '.')
		return -1;
	if (*p == ' ')
		p++;
	if (*p && (u = strchr(units, tolower((unsigned char)*p)))) {
		for (long i = 0; i <= u - units; i++)
			v *= 1024;
		p++;
		if (tolower((unsigned char)*p) == 'i')
			p++;
	}
	if (tolower((unsigned char)*p) == 'b')
		p++;
	if (*p || v >= 9223372036854775807.0L)
		return -1;
	return (int64_t)v;
}

int human_parse_signal(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
		{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "STOP", SIGSTOP },
		{ "CONT", SIGCONT }, { "ALRM", SIGALRM }, { "WINCH", SIGWINCH }, { "PWR", SIGPWR },
	};
	char *end = NULL;
	long n;

	if (!s || !*s)
		return -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcasecmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	n = strtol(s, &end, 10);
	return end != s && !*end && n > 0 && n < 65 ? (int)n : -1;
}
