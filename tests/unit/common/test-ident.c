/* Object names and random hex ids (src/common/ident.c): docker's name rule for containers,
 * volumes and networks, checked against a reference on seeded random strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"

static void test_names(void **state)
{
	(void)state;
	assert_true(ident_name_is_valid("a", 1));
	assert_true(ident_name_is_valid("web_1.a-b", 64));
	assert_true(ident_name_is_valid("0x", 64));
	assert_false(ident_name_is_valid("", 64));
	assert_false(ident_name_is_valid("_a", 64));
	assert_false(ident_name_is_valid(".a", 64));
	assert_false(ident_name_is_valid("a/b", 64));
	assert_false(ident_name_is_valid("a b", 64));
	assert_false(ident_name_is_valid("ab", 1));
}

/* the rule written another way */
static bool reference(const char *s, size_t max)
{
	static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(s);

	return n >= 1 && n <= max && strchr(first, s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void test_random_names(void **state)
{
	static const char alphabet[] = "aZ09_.-/ :\x01\xff";
	char s[12];

	(void)state;
	srand(15);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)rand() % sizeof(s);

		for (size_t k = 0; k < n; k++)
			s[k] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		s[n] = '\0';
		assert_int_equal(ident_name_is_valid(s, 8), reference(s, 8));
	}
}

static void test_random_hex(void **state)
{
	char a[65], b[65];

	(void)state;
	ident_random_hex(a, 32);
	ident_random_hex(b, 32);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_random_names),
		cmocka_unit_test(test_random_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
