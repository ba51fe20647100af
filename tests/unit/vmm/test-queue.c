/* Split virtqueue handling, including a hostile guest, over a fake guest memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/virtio/queue.h"

#define MEM_SIZE (1U << 20)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define QSIZE 8

struct fx {
	struct guest_mem mem;
	struct virtq q;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(gmem_init(&f.mem, MEM_SIZE), 0);
	virtq_reset(&f.q, &f.mem, 256);
	f.q.size = QSIZE;
	f.q.desc_gpa = DESC;
	f.q.avail_gpa = AVAIL;
	f.q.used_gpa = USED;
	assert_int_equal(virtq_enable(&f.q), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	gmem_release(&f->mem);
	return 0;
}

static void set_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, DESC + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Publish head as the next available entry. */
static void offer(struct fx *f, uint16_t head)
{
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 4 + 2 * QSIZE);
	uint16_t idx = avail[1];

	avail[2 + (idx % QSIZE)] = head;
	avail[1] = (uint16_t)(idx + 1);
}

static void test_pop_push(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;
	uint16_t *used = gmem_ptr(&f->mem, USED, 4 + 8 * QSIZE);

	assert_int_equal(virtq_pop(&f->q, &e), 0); /* empty */
	set_desc(f, 0, 0x10000, 16, 1, 1);        /* readable, NEXT */
	set_desc(f, 1, 0x11000, 512, 3, 2);       /* writable, NEXT */
	set_desc(f, 2, 0x12000, 1, 2, 0);         /* writable */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), 1);
	assert_int_equal(e.head, 0);
	assert_int_equal(e.n_in, 1);
	assert_int_equal(e.n_out, 2);
	assert_int_equal(e.in_len, 16);
	assert_int_equal(e.out_len, 513);
	assert_ptr_equal(e.iov[0].iov_base, gmem_ptr(&f->mem, 0x10000, 16));
	assert_int_equal(virtq_push(&f->q, e.head, 513), 0);
	assert_int_equal(used[1], 1);
	assert_int_equal(used[2], 0);   /* id */
	assert_int_equal(used[4], 513); /* len */
	assert_int_equal(virtq_pop(&f->q, &e), 0);
}

static void test_loop_is_refused(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	set_desc(f, 0, 0x10000, 16, 1, 1);
	set_desc(f, 1, 0x10000, 16, 1, 0); /* back to 0: a cycle */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), -ELOOP);
	assert_true(f->q.broken);
	/* A broken queue stays broken until reset. */
	assert_int_equal(virtq_pop(&f->q, &e), -EIO);
}

static void test_address_outside_memory(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	set_desc(f, 0, MEM_SIZE - 8, 16, 0, 0); /* straddles the end of RAM */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), -EFAULT);
}

static void test_address_overflow(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	set_desc(f, 0, UINT64_MAX - 4, 64, 0, 0); /* addr + len wraps around */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), -EFAULT);
}

static void test_bad_head_and_next(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	offer(f, QSIZE + 3);
	assert_int_equal(virtq_pop(&f->q, &e), -EINVAL);
	virtq_reset(&f->q, &f->mem, 256);
	f->q.size = QSIZE;
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	memset(gmem_ptr(&f->mem, AVAIL, 64), 0, 64);
	assert_int_equal(virtq_enable(&f->q), 0);
	set_desc(f, 0, 0x10000, 16, 1, 200); /* next beyond the table */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), -EINVAL);
}

static void test_avail_index_garbage(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 4);

	avail[1] = 1000; /* claims 1000 new entries in an 8-entry ring */
	assert_int_equal(virtq_pop(&f->q, &e), -EINVAL);
}

static void test_readable_after_writable(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	set_desc(f, 0, 0x10000, 16, 3, 1); /* writable, NEXT */
	set_desc(f, 1, 0x11000, 16, 0, 0); /* readable after it */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), -EINVAL);
}

static void test_indirect_not_offered(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	set_desc(f, 0, 0x10000, 64, 4, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), -EINVAL);
}

static void test_chain_limit(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 4 + 2 * 256);

	/* A 256-entry queue with a 100-descriptor chain: no loop, but over VIRTQ_MAX_CHAIN. */
	virtq_reset(&f->q, &f->mem, 256);
	f->q.size = 256;
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	assert_int_equal(virtq_enable(&f->q), 0);
	for (uint16_t i = 0; i < 100; i++)
		set_desc(f, i, 0x10000, 4, 1, (uint16_t)(i + 1));
	set_desc(f, 100, 0x10000, 4, 0, 0);
	avail[2] = 0;
	avail[1] = 1;
	assert_int_equal(virtq_pop(&f->q, &e), -ELOOP);
}

static void test_enable_checks(void **state)
{
	struct fx *f = *state;

	virtq_reset(&f->q, &f->mem, 256);
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	f->q.size = 0;
	assert_int_equal(virtq_enable(&f->q), -EINVAL);
	f->q.size = 100; /* not a power of two */
	assert_int_equal(virtq_enable(&f->q), -EINVAL);
	f->q.size = 32768; /* absurd */
	assert_int_equal(virtq_enable(&f->q), -EINVAL);
	f->q.size = 16;
	f->q.desc_gpa = MEM_SIZE - 16; /* table runs past RAM */
	assert_int_equal(virtq_enable(&f->q), -EFAULT);
	f->q.desc_gpa = DESC + 8; /* misaligned */
	assert_int_equal(virtq_enable(&f->q), -EFAULT);
	f->q.desc_gpa = DESC;
	assert_int_equal(virtq_enable(&f->q), 0);
	assert_true(f->q.ready);
}

static void test_elem_read_spans_buffers(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;
	char out[12] = { 0 };

	memcpy(gmem_ptr(&f->mem, 0x10000, 5), "hello", 5);
	memcpy(gmem_ptr(&f->mem, 0x11000, 6), " world", 6);
	set_desc(f, 0, 0x10000, 5, 1, 1);
	set_desc(f, 1, 0x11000, 6, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), 1);
	assert_int_equal(virtq_elem_read(&e, 0, out, sizeof(out)), 11);
	assert_string_equal(out, "hello world");
	memset(out, 0, sizeof(out));
	assert_int_equal(virtq_elem_read(&e, 3, out, 4), 4);
	assert_string_equal(out, "lo w");
}

static void test_gmem_hole(void **state)
{
	struct guest_mem m;

	/* 5 GiB, reserved only: RAM below 3 GiB and from 4 GiB, nothing in the hole. */
	assert_int_equal(gmem_init(&m, 5ULL << 30), 0);
	assert_int_equal(m.low_size, 3ULL << 30);
	assert_non_null(gmem_ptr(&m, 0, 4096));
	assert_null(gmem_ptr(&m, GMEM_HOLE_START, 1));
	assert_null(gmem_ptr(&m, GMEM_HOLE_START - 2, 4)); /* straddles into the hole */
	assert_ptr_equal(gmem_ptr(&m, GMEM_HIGH_START, 8), m.host + m.low_size);
	assert_non_null(gmem_ptr(&m, GMEM_HIGH_START + (2ULL << 30) - 8, 8));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + (2ULL << 30) - 8, 9));
	assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	gmem_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pop_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_outside_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_head_and_next, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_index_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elem_read_spans_buffers, setup, teardown),
		cmocka_unit_test(test_gmem_hole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
