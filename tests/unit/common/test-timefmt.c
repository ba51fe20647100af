#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <time.h>

#include "common/timefmt.h"

static void test_table(void **state)
{
	static const struct {
		const char *in;
		int r;
		long long sec;
		long nsec;
	} c[] = {
		{ "1970-01-01T00:00:00Z", 0, 0, 0 },
		{ "2026-12-07T01:50:38Z", 0, 1796608238, 0 },
		{ "2026-12-07T01:50:38.5Z", 0, 1796608238, 500000000 },
		{ "2026-12-07t01:50:38.123456789z", 0, 1796608238, 123456789 },
		{ "2026-12-07 01:50:38.1234567891Z", 0, 1796608238, 123456789 },
		{ "2026-12-07T03:50:38+02:00", 0, 1796608238, 0 },
		{ "2026-12-06T18:20:38.000001-07:30", 0, 1796608238, 1000 },
		{ "2000-02-29T00:00:00Z", 0, 951782400, 0 },
		{ "1969-12-31T23:59:59Z", 0, -1, 0 },
		{ "1900-02-29T00:00:00Z", -EINVAL, 0, 0 },
		{ "2026-13-01T00:00:00Z", -EINVAL, 0, 0 },
		{ "2026-12-07T24:00:00Z", -EINVAL, 0, 0 },
		{ "2026-12-07T01:50:38", -EINVAL, 0, 0 },
		{ "2026-12-07T01:50:38.Z", -EINVAL, 0, 0 },
		{ "2026-12-07T01:50:38+0200", -EINVAL, 0, 0 },
		{ "2026-12-07T01:50:38Zx", -EINVAL, 0, 0 },
		{ "2026-12-07", -EINVAL, 0, 0 },
		{ "", -EINVAL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct timespec t = { 0 };
		int r = rfc3339_parse(c[i].in, &t);

		if (r != c[i].r || (r == 0 && (t.tv_sec != c[i].sec || t.tv_nsec != c[i].nsec)))
			fail_msg("\"%s\": got %d %lld.%09ld", c[i].in, r, (long long)t.tv_sec,
				 t.tv_nsec);
	}
}

/* format then parse; and parse against the libc (timegm) for random offsets */
static void test_random(void **state)
{
	char buf[RFC3339_MAX], other[64];

	srand(14);
	for (int i = 0; i < 20000; i++) {
		struct timespec t = { .tv_sec = (time_t)(((long long)rand() << 12) % 253402300800LL),
				      .tv_nsec = rand() % 1000000000 }, u;
		int off = (rand() % (24 * 60 * 2 - 1)) - (24 * 60 - 1);
		struct tm tm;
		time_t local = t.tv_sec + off * 60;

		assert_int_equal(rfc3339_format(&t, buf, sizeof(buf)), 0);
		assert_int_equal(rfc3339_parse(buf, &u), 0);
		assert_true(u.tv_sec == t.tv_sec && u.tv_nsec == t.tv_nsec);
		if (!gmtime_r(&local, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year < -1900)
			continue;
		(void)strftime(other, sizeof(other), "%Y-%m-%dT%H:%M:%S", &tm);
		(void)snprintf(other + strlen(other), sizeof(other) - strlen(other), "%c%02d:%02d",
			       off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
		assert_int_equal(rfc3339_parse(other, &u), 0);
		if (u.tv_sec != t.tv_sec || timegm(&tm) - off * 60 != t.tv_sec)
			fail_msg("\"%s\": got %lld, want %lld", other, (long long)u.tv_sec,
				 (long long)t.tv_sec);
	}
	assert_int_equal(rfc3339_format(&(struct timespec){ 0, 0 }, buf, 10), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
