#pragma once
/* One RFC 3339 reader and writer: Created, State.StartedAt, inspect, --since/--until. */

#include <stddef.h>
#include <time.h>

/* The longest text rfc3339_format writes, with its NUL */
#define RFC3339_MAX sizeof("-2147483648-12-31T23:59:59.999999999Z")

/*
 * "2026-12-07T01:50:38Z", "...T01:50:38.5+02:00", "... 01:50:38.123456789-07:30": date, 'T'
 * (or 't' or a space), time, an optional fraction of up to 9 digits (more are cut), and 'Z'
 * or an offset. 0 and *ret (UTC), -EINVAL otherwise.
 */
int rfc3339_parse(const char *s, struct timespec *ret);

/* "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ" (UTC, nine digits, as hull always wrote); -EINVAL if not */
int rfc3339_format(const struct timespec *t, char *buf, size_t len);
