/*
 * Dirty page bitmaps (dirty.c) against a plain bool-array model, with seeded random ranges,
 * offsets that are and are not multiples of 64, and sizes that end mid-word; and the VMM's own
 * writes (gmem_mark_dirty, the virtqueue's marks) taken atomically into a bitmap.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dirty.h"
#include "vmm/memory.h"

static uint64_t rng_state = 1717;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? rng_state % n : 0;
}

static void check_model(const struct dirty_bitmap *b, const bool *model)
{
	uint64_t count = 0, pg = 0, seen = 0;

	for (uint64_t i = 0; i < b->npages; i++) {
		assert_int_equal(dirty_bitmap_test(b, i), model[i]);
		count += model[i];
	}
	assert_int_equal(dirty_bitmap_count(b), count);
	/* next() visits exactly the set bits, in order */
	while (dirty_bitmap_next(b, &pg)) {
		assert_true(model[pg]);
		seen++;
		pg++;
	}
	assert_int_equal(seen, count);
	assert_false(dirty_bitmap_test(b, b->npages)); /* past the end: never set */
}

static void test_init_refuses(void **state)
{
	struct dirty_bitmap b;

	(void)state;
	assert_int_equal(dirty_bitmap_init(&b, 0), -EINVAL);
	assert_int_equal(dirty_bitmap_init(&b, (1ULL << 34) + 1), -EINVAL);
	dirty_bitmap_free(&b);
}

static void test_random_against_model(void **state)
{
	(void)state;
	for (int iter = 0; iter < 300; iter++) {
		uint64_t n = 1 + rnd(700);
		struct dirty_bitmap b, src;
		bool *model = calloc(n, 1), *smodel;
		uint64_t sn = 1 + rnd(300), off;

		assert_int_equal(dirty_bitmap_init(&b, n), 0);
		for (int k = 0; k < 8; k++) {
			uint64_t first = rnd(n + 80), len = rnd(100);

			dirty_bitmap_set_range(&b, first, len);
			for (uint64_t p = first; p < first + len && p < n; p++)
				model[p] = true;
		}
		check_model(&b, model);
		/* OR another bitmap in at an offset, aligned or not, clipped at the end */
		assert_int_equal(dirty_bitmap_init(&src, sn), 0);
		smodel = calloc(sn, 1);
		for (uint64_t p = 0; p < sn; p++)
			if (rnd(3) == 0) {
				dirty_bitmap_set_range(&src, p, 1);
				smodel[p] = true;
			}
		off = rnd(2) ? rnd(n / 64 + 1) * 64 : rnd(n + 10);
		dirty_bitmap_or_at(&b, off, src.words, sn);
		for (uint64_t p = 0; p < sn; p++)
			if (smodel[p] && off + p < n)
				model[off + p] = true;
		check_model(&b, model);
		dirty_bitmap_clear(&b);
		memset(model, 0, n);
		check_model(&b, model);
		dirty_bitmap_free(&src);
		dirty_bitmap_free(&b);
		free(smodel);
		free(model);
	}
}

static void test_take_clears_and_clips(void **state)
{
	struct dirty_bitmap b;
	uint64_t words[3] = { 0x8000000000000001ULL, 0, ~0ULL };

	(void)state;
	assert_int_equal(dirty_bitmap_init(&b, 130), 0); /* 2 bits of the third word */
	dirty_bitmap_take(&b, words);
	assert_int_equal(words[0], 0);
	assert_int_equal(words[2], 0);
	assert_int_equal(dirty_bitmap_count(&b), 4); /* 0, 63, 128, 129: nothing past 130 */
	assert_true(dirty_bitmap_test(&b, 129));
	assert_false(dirty_bitmap_test(&b, 130));
	dirty_bitmap_free(&b);
}

/* gmem_mark_dirty: guest addresses below and above the hole, ranges across pages, bad ones. */
static void test_gmem_mark(void **state)
{
	struct guest_mem m;
	struct dirty_bitmap b;

	(void)state;
	assert_int_equal(gmem_init(&m, 8ULL << 20), 0);
	assert_non_null(m.dev_dirty);
	assert_int_equal(dirty_bitmap_init(&b, m.size / DIRTY_PAGE), 0);
	gmem_mark_dirty(&m, 0x1ff0, 0x20);              /* pages 1 and 2 */
	gmem_mark_dirty(&m, 0x5000, 1);                 /* page 5 */
	gmem_mark_dirty(&m, m.size - 1, 1);             /* the last page */
	gmem_mark_dirty(&m, m.size - 1, 2);             /* past RAM: ignored */
	gmem_mark_dirty(&m, 0x3000, 0);                 /* empty: ignored */
	gmem_mark_dirty(&m, UINT64_MAX - 10, 100);      /* wraps: ignored */
	dirty_bitmap_take(&b, m.dev_dirty);
	assert_int_equal(dirty_bitmap_count(&b), 4);
	assert_true(dirty_bitmap_test(&b, 1) && dirty_bitmap_test(&b, 2));
	assert_true(dirty_bitmap_test(&b, 5) && dirty_bitmap_test(&b, b.npages - 1));
	dirty_bitmap_clear(&b);
	dirty_bitmap_take(&b, m.dev_dirty); /* taken: nothing left */
	assert_int_equal(dirty_bitmap_count(&b), 0);
	dirty_bitmap_free(&b);
	gmem_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_refuses),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_take_clears_and_clips),
		cmocka_unit_test(test_gmem_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
