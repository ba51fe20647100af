/* The binary sizes of stats (docker's -m grammar is tested in tests/unit/common/test-size.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/human.h"

static void test_size_binary(void **state)
{
	char b[32];

	human_size_binary(0, b, sizeof(b));
	assert_string_equal(b, "0B");
	human_size_binary(1023, b, sizeof(b));
	assert_string_equal(b, "1023B");
	human_size_binary(48 << 20, b, sizeof(b));
	assert_string_equal(b, "48MiB");
	human_size_binary(1536, b, sizeof(b));
	assert_string_equal(b, "1.5KiB");
	human_size_binary(UINT64_MAX, b, sizeof(b));
	assert_string_equal(b, "16EiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
