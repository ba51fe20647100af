/* Unit tests for the pure arithmetic of hull img compare, measure and dd (qemu-img 7.2's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "disk/img-internal.h"
#include "disk/img.h"

static void test_find_nonzero(void **state)
{
	static uint8_t buf[4096];

	memset(buf, 0, sizeof(buf));
	assert_int_equal(img_find_nonzero(buf, sizeof(buf)), -1);
	buf[1500] = 1; /* in the third sector: reported at the sector's start */
	assert_int_equal(img_find_nonzero(buf, sizeof(buf)), 1024);
	buf[0] = 1;
	assert_int_equal(img_find_nonzero(buf, sizeof(buf)), 0);
	(void)state;
}

/* img_is_zero (convert's sparse writes) against a byte loop, on seeded random buffers: any
 * length, any alignment, one non-zero byte anywhere (first, last, middle) or none. */
static void test_is_zero(void **state)
{
	static uint8_t buf[9000 + 64];
	uint32_t x = 13;

	for (int i = 0; i < 20000; i++) {
		size_t start, n, at;
		bool want = true;

		x = x * 1103515245u + 12345u;
		start = (x >> 8) % 64;
		x = x * 1103515245u + 12345u;
		n = (x >> 4) % 9001;
		memset(buf, 0, sizeof(buf));
		buf[start ? start - 1 : 0] = start ? 0xff : 0; /* just before: not looked at */
		x = x * 1103515245u + 12345u;
		if (n && (x >> 4) % 3) {
			at = (x >> 2) % 4 == 0 ? 0 : (x >> 2) % 4 == 1 ? n - 1 : (x >> 9) % n;
			buf[start + at] = (uint8_t)(1 + (x >> 20) % 255);
		}
		for (size_t k = 0; k < n; k++)
			want = want && !buf[start + k];
		buf[start + n] = 0x80; /* just past: not looked at either */
		assert_int_equal(img_is_zero(buf + start, n), want);
	}
	(void)state;
}

static void test_compare_buffers(void **state)
{
	static uint8_t a[4096], b[4096];
	uint64_t run;

	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_false(img_compare_buffers(a, b, sizeof(a), &run));
	assert_int_equal(run, 4096);
	b[2000] = 0; /* equal run of 3 sectors, then a difference */
	assert_false(img_compare_buffers(a, b, sizeof(a), &run));
	assert_int_equal(run, 1536);
	b[0] = 0; /* differing first sector: the run of differing sectors */
	assert_true(img_compare_buffers(a, b, sizeof(a), &run));
	assert_int_equal(run, 512);
	(void)state;
}

static void test_measure_sizes(void **state)
{
	/* qemu-img measure -O qcow2 --size 1G: fully allocated 1074135040 */
	assert_int_equal(img_qcow2_full_size(1ull << 30, 65536, 4), 1074135040ull);
	/* 1 MiB, 64 KiB clusters: 5 clusters of metadata (qemu-img measure) */
	assert_int_equal(img_qcow2_full_size(1 << 20, 65536, 4), 1376256ull);
	/* one refcount block and one table cluster count a few clusters */
	assert_int_equal(img_qcow2_refcount_meta_size(10, 65536, 4), 2 * 65536ull);
	(void)state;
}

static void test_dd_range(void **state)
{
	struct img_dd_opts o = { .bs = 4096 };
	uint64_t s, e;

	assert_int_equal(img_dd_range(1 << 20, &o, &s, &e), 0);
	assert_true(s == 0 && e == 1 << 20);
	o.has_count = true, o.count = 3, o.has_skip = true, o.skip = 1;
	assert_int_equal(img_dd_range(1 << 20, &o, &s, &e), 0);
	assert_true(s == 4096 && e == 12288); /* count counts from the input's start */
	o.skip = 4; /* past the counted end: empty, with qemu-img's warning */
	assert_int_equal(img_dd_range(1 << 20, &o, &s, &e), 1);
	assert_true(s == e);
	o.has_count = false, o.skip = UINT64_MAX / 2; /* no overflow */
	assert_int_equal(img_dd_range(1 << 20, &o, &s, &e), 1);
	(void)state;
}

static void test_refblock_put(void **state)
{
	uint8_t b[16];

	memset(b, 0, sizeof(b));
	img_refblock_put(b, 0, 9, 1); /* 1-bit entries: low bits first */
	assert_int_equal(b[1], 0x02);
	img_refblock_put(b, 2, 1, 0xf); /* 4-bit: entry 1 is the high nibble of byte 0 */
	assert_int_equal(b[0], 0xf0);
	img_refblock_put(b, 2, 1, 0x3);
	assert_int_equal(b[0], 0x30);
	img_refblock_put(b, 4, 2, 0x1234); /* 16-bit big-endian */
	assert_true(b[4] == 0x12 && b[5] == 0x34);
	img_refblock_put(b, 6, 1, 0x0102030405060708ull); /* 64-bit */
	assert_true(b[8] == 1 && b[15] == 8);
	(void)state;
}

static void test_bench_next(void **state)
{
	/* qemu-img bench wraps at the image's size (a request may then straddle the end) */
	assert_int_equal(img_bench_next(0, 4096, 1 << 20, 4096), 4096);
	assert_int_equal(img_bench_next((1 << 20) - 4096, 8192, 1 << 20, 4096), 4096);
	assert_int_equal(img_bench_next(512, 512, 512, 4096), 0);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_nonzero),
		cmocka_unit_test(test_is_zero),
		cmocka_unit_test(test_compare_buffers),
		cmocka_unit_test(test_measure_sizes),
		cmocka_unit_test(test_dd_range),
		cmocka_unit_test(test_refblock_put),
		cmocka_unit_test(test_bench_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
