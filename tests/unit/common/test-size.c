#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/size.h"

struct tcase {
	const char *in;
	int r;
	int64_t want;
};

static void run(const struct tcase *c, size_t n, enum size_grammar g)
{
	for (size_t i = 0; i < n; i++) {
		int64_t v = 12345;
		int r = size_parse(c[i].in, g, &v);

		if (r != c[i].r || (r == 0 && v != c[i].want))
			fail_msg("grammar %d \"%s\": got %d/%lld, want %d/%lld", (int)g, c[i].in, r,
				 (long long)v, c[i].r, (long long)c[i].want);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_docker(void **state)
{
	static const struct tcase c[] = {
		{ "100", 0, 100 },		{ "512m", 0, 512LL << 20 },  { "1g", 0, 1LL << 30 },
		{ "1G", 0, 1LL << 30 },		{ "1gb", 0, 1LL << 30 },      { "1GiB", 0, 1LL << 30 },
		{ "4k", 0, 4096 },		{ "10b", 0, 10 },	      { "10B", 0, 10 },
		{ "1.5k", 0, 1536 },		{ "1 m", 0, 1 << 20 },	      { "2t", 0, 2LL << 40 },
		{ "1p", 0, 1LL << 50 },		{ "0", 0, 0 },		      { "7i", 0, 7 },
		{ "", -EINVAL, 0 },		{ "m", -EINVAL, 0 },	      { "-1", -EINVAL, 0 },
		{ "1e", -EINVAL, 0 },		{ "1.", -EINVAL, 0 },	      { ".5m", -EINVAL, 0 },
		{ "1.2.3", -EINVAL, 0 },	{ "1  m", -EINVAL, 0 },	      { "1mm", -EINVAL, 0 },
		{ "1bb", -EINVAL, 0 },		{ " 1", -EINVAL, 0 },	      { "8192p", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		/* the cases engine/human.c's copy had */
		{ "64MiB", 0, 64 << 20 },	{ "0.5", 0, 0 },	      { "+1", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },		{ "0x10", -EINVAL, 0 },	      { "64x", -EINVAL, 0 },
		{ "64m ", -EINVAL, 0 },		{ "nan", -EINVAL, 0 },	      { "inf", -EINVAL, 0 },
		{ NULL, -EINVAL, 0 },
	};
	run(c, N(c), SIZE_DOCKER);
}

static void test_runc(void **state)
{
	static const struct tcase c[] = {
		{ "-1", 0, -1 }, { "512m", 0, 512LL << 20 }, { "-2", -EINVAL, 0 }, { "1.5g", 0, 3LL << 29 },
	};
	run(c, N(c), SIZE_RUNC);
}

static void test_qemu(void **state)
{
	static const struct tcase c[] = {
		{ "100", 0, 100 },	       { "1k", 0, 1024 },	  { "1K", 0, 1024 },
		{ "1M", 0, 1 << 20 },	       { "1G", 0, 1 << 30 },	  { "1T", 0, 1LL << 40 },
		{ "1P", 0, 1LL << 50 },	       { "1E", 0, 1LL << 60 },	  { "7E", 0, 7LL << 60 },
		{ "8E", -ERANGE, 0 },	       { "1.5G", 0, 3LL << 29 },  { "1.k", 0, 1024 },
		{ "0.5", -EINVAL, 0 },	       { "1.0", 0, 1 },	  { "1.5B", -EINVAL, 0 },
		{ "0x10", 0, 16 },	       { "0x10k", 0, 16384 },   { "1e3", -EINVAL, 0 },
		{ "1.5e3k", -EINVAL, 0 },      { "-1", -EINVAL, 0 },	  { " 5", 0, 5 },
		{ "5 ", -EINVAL, 0 },	       { "1KiB", -EINVAL, 0 },	  { "1KB", -EINVAL, 0 },
		{ "", -EINVAL, 0 },	       { "k", -EINVAL, 0 },	  { "0.0000000001k", 0, 0 },
		{ "1.0005k", 0, 1025 },	       { "0.99999999999999999999k", 0, 0 }, { "+5", 0, 5 },
		{ "00x10", -EINVAL, 0 },	{ "0x10.5", -EINVAL, 0 }, { "0x1b", 0, 27 },       { "0x", -EINVAL, 0 },	  { "7.99E", 0, 9211842821808707328 },
		{ "1.5E", 0, 1729382256910270464 },	       { "1.0004k", 0, 1024 },	  { "10b", 0, 10 },
		{ "99999999999999999999", -ERANGE, 0 },
	};
	run(c, N(c), SIZE_QEMU);
}

/* format a random value in each grammar's own spelling, read it back */
static void test_roundtrip(void **state)
{
	static const char docker_units[] = "bkmgtp", qemu_units[] = "BKMGTPE";
	unsigned seed = 14;

	srand(seed);
	for (int i = 0; i < 20000; i++) {
		int u = rand() % 6;
		int64_t base = (int64_t)rand() % (u >= 5 ? 8000 : 1 << 20), v;
		char buf[64];

		(void)snprintf(buf, sizeof(buf), "%lld%c%s", (long long)base,
			       rand() & 1 ? docker_units[u] : docker_units[u] - 32,
			       (const char *[]){ "", "b", "ib", "B", "iB" }[u ? rand() % 5 : 0]);
		assert_int_equal(size_parse(buf, SIZE_DOCKER, &v), 0);
		assert_true(v == base << (10 * u));
		u = rand() % 7;
		base = (int64_t)rand() % (u >= 5 ? 8191 >> (10 * (u - 5)) : 1 << 20);
		(void)snprintf(buf, sizeof(buf), "%lld%c", (long long)base,
			       rand() & 1 ? qemu_units[u] : qemu_units[u] + 32);
		assert_int_equal(size_parse(buf, SIZE_QEMU, &v), 0);
		assert_true(v == base << (10 * u));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_runc),
		cmocka_unit_test(test_qemu),
		cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
