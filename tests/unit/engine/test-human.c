/* Sizes as docker's -m parses them (human_parse_bytes), and the binary sizes of stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/human.h"

static void test_sizes(void **state)
{
	static const struct {
		const char *in;
		int64_t want;
	} cases[] = {
		{ "0", 0 },		{ "4096", 4096 },	   { "100b", 100 },
		{ "100B", 100 },	{ "1k", 1024 },		   { "1.5k", 1536 },
		{ "64m", 64 << 20 },	{ "64M", 64 << 20 },	   { "64mb", 64 << 20 },
		{ "64MiB", 64 << 20 },	{ "64 m", 64 << 20 },	   { "1.5g", 3LL << 29 },
		{ "2t", 2LL << 40 },	{ "1p", 1LL << 50 },	   { "0.5", 0 },
		/* refused */
		{ "", -1 },		{ "m", -1 },		   { "-1", -1 },
		{ "+1", -1 },		{ "1.", -1 },		   { ".5m", -1 },
		{ "1e3", -1 },		{ "0x10", -1 },		   { "64mm", -1 },
		{ "64x", -1 },		{ "64  m", -1 },	   { " 64m", -1 },
		{ "64m ", -1 },		{ "nan", -1 },		   { "inf", -1 },
		{ "8192p", -1 },	{ "99999999999999999999", -1 }, { "1.2.3", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = human_parse_bytes(cases[i].in);

		if (got != cases[i].want)
			fail_msg("\"%s\": got %lld, want %lld", cases[i].in, (long long)got,
				 (long long)cases[i].want);
	}
	assert_int_equal(human_parse_bytes(NULL), -1);
}

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
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_size_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
