/* MAC addresses (src/common/mac.c): fixed cases, a round trip through mac_format, and seeded
 * random strings near the grammar checked against a reference written another way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mac.h"

static void test_fixed(void **state)
{
	uint8_t m[6];
	char s[MAC_STR_LEN];

	(void)state;
	assert_int_equal(mac_parse("02:00:0A:bc:De:ff", m), 0);
	mac_format(m, s);
	assert_string_equal(s, "02:00:0a:bc:de:ff");
	assert_int_equal(mac_parse("01:00:5e:00:00:01", m), -EINVAL); /* group */
	assert_int_equal(mac_parse("00:00:00:00:00:00", m), -EINVAL);
	assert_int_equal(mac_parse("02:00:00:00:00:01 ", m), -EINVAL);
	assert_int_equal(mac_parse(" 2:00:00:00:00:01", m), -EINVAL);
	assert_int_equal(mac_parse("+2:00:00:00:00:01", m), -EINVAL);
	assert_int_equal(mac_parse("02-00-00-00-00-01", m), -EINVAL);
	assert_int_equal(mac_parse("0200:00:00:00:001", m), -EINVAL);
	assert_int_equal(mac_parse("", m), -EINVAL);
	assert_int_equal(mac_parse(NULL, m), -EINVAL);
}

/* the grammar through sscanf, with what sscanf lets through checked by hand */
static bool reference(const char *s, uint8_t out[6])
{
	unsigned v[6];
	int n = -1;

	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &n) != 6 || n != 17)
		return false;
	for (int i = 0; i < 6; i++)
		out[i] = (uint8_t)v[i];
	return !(v[0] & 1) && (v[0] | v[1] | v[2] | v[3] | v[4] | v[5]);
}

static void test_random(void **state)
{
	static const char alphabet[] = "0123456789abcdefABCDEF:: -+xg";

	(void)state;
	srandom(20261207);
	for (int round = 0; round < 200000; round++) {
		char s[24];
		uint8_t a[6], b[6], c[6];
		char f[MAC_STR_LEN];
		size_t len = round % 7 == 0 ? (size_t)(random() % 20) : 17;

		for (size_t i = 0; i < len; i++)
			s[i] = i % 3 == 2 && random() % 8 ? ':'
			       : alphabet[random() % (sizeof(alphabet) - 1)];
		s[len] = '\0';
		bool want = reference(s, b);

		assert_int_equal(mac_parse(s, a), want ? 0 : -EINVAL);
		if (!want)
			continue;
		assert_memory_equal(a, b, 6);
		mac_format(a, f);
		assert_int_equal(mac_parse(f, c), 0);
		assert_memory_equal(a, c, 6);
		for (int i = 0; i < 17; i++)
			assert_int_equal(f[i], tolower((unsigned char)s[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
