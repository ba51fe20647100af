#pragma once
/* docker's human-readable forms: "5 seconds", "2 hours ago", "4.26MB". */
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "Less than a second", "5 seconds", "About a minute", "3 hours", "2 days", ... */
void human_duration(time_t secs, char *buf, size_t len);
/* SI sizes as docker prints them: "0B", "932kB", "4.26MB", "1.2GB". */
void human_size(uint64_t bytes, char *buf, size_t len);
/* "1.289MiB", "31.3GiB": 1024-based, as docker stats prints memory. */
void human_size_binary(uint64_t bytes, char *buf, size_t len);
/* Seconds of an RFC 3339 time (common/timefmt.h's grammar); 0 when unparsable. */
time_t human_parse_time(const char *s);
/* Format t as RFC 3339 UTC with nanoseconds. Heap string. */
char *human_rfc3339(const struct timespec *t);
