/* Split virtqueue handling, including a hostile guest, over a fake guest memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

#define ITABLE 0x4000 /* an indirect table's place */

/* Entry i of the indirect table at gpa. */
static void set_idesc(struct fx *f, uint64_t gpa, uint16_t i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, gpa + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Pop once on a fresh copy of the ring state (the queue is marked broken by a refusal). */
static int pop_again(struct fx *f, struct virtq_elem *e)
{
	f->q.broken = false;
	f->q.last_avail = 0;
	return virtq_pop(&f->q, e);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;
	struct virtq_elem e;

	f->q.indirect = true; /* VIRTQ_F_INDIRECT_DESC negotiated */
	set_idesc(f, ITABLE, 0, 0x10000, 12, 1, 1); /* readable, NEXT */
	set_idesc(f, ITABLE, 1, 0x11000, 100, 1, 2);
	set_idesc(f, ITABLE, 2, 0x12000, 9, 2, 0);   /* writable */
	set_desc(f, 0, ITABLE, 48, 4, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &e), 1);
	assert_int_equal(e.head, 0);
	assert_int_equal(e.n_in, 2);
	assert_int_equal(e.n_out, 1);
	assert_int_equal(e.in_len, 112);
	assert_int_equal(e.out_len, 9);
	/* after a direct descriptor (NEXT to it): allowed, the table ends the chain */
	set_desc(f, 1, 0x13000, 4, 1, 2);
	set_desc(f, 2, ITABLE, 48, 4, 0);
	offer(f, 1);
	assert_int_equal(virtq_pop(&f->q, &e), 1);
	assert_int_equal(e.n_in, 3);
	/* the refusals, each marks the queue broken */
	static const struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		int want;
	} bad[] = {
		{ ITABLE, 48, 4 | 1, -EINVAL },        /* INDIRECT with NEXT */
		{ ITABLE, 40, 4, -EINVAL },            /* not a whole number of descriptors */
		{ ITABLE, 0, 4, -EINVAL },             /* empty */
		{ ITABLE, 16 * 65, 4, -EINVAL },       /* more than VIRTQ_MAX_CHAIN */
		{ MEM_SIZE - 16, 48, 4, -EFAULT },     /* the table past guest RAM */
		{ ITABLE + 8, 48, 4, -EFAULT },        /* misaligned */
		{ 0xfffffffffffffff0ULL, 48, 4, -EFAULT },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_desc(f, 0, bad[i].addr, bad[i].len, bad[i].flags, 1);
		*(uint16_t *)gmem_ptr(&f->mem, AVAIL + 4, 2) = 0;
		assert_int_equal(pop_again(f, &e), bad[i].want);
		assert_true(f->q.broken);
	}
	set_desc(f, 0, ITABLE, 48, 4, 0);
	set_idesc(f, ITABLE, 2, ITABLE, 48, 4, 0); /* an indirect one inside the table */
	assert_int_equal(pop_again(f, &e), -EINVAL);
	set_idesc(f, ITABLE, 2, 0x12000, 9, 3, 3); /* next beyond the 3-entry table */
	assert_int_equal(pop_again(f, &e), -EINVAL);
	set_idesc(f, ITABLE, 2, 0x12000, 9, 3, 1); /* a loop inside the table */
	assert_int_equal(pop_again(f, &e), -ELOOP);
	set_idesc(f, ITABLE, 2, 0x12000, 9, 2, 0);
	set_idesc(f, ITABLE, 1, 0x11000, 100, 3, 2); /* writable then */
	set_idesc(f, ITABLE, 2, 0x12000, 9, 0, 0);   /* readable after it */
	assert_int_equal(pop_again(f, &e), -EINVAL);
	set_idesc(f, ITABLE, 2, MEM_SIZE - 4, 9, 2, 0); /* a buffer past guest RAM */
	assert_int_equal(pop_again(f, &e), -EFAULT);
	f->q.indirect = false; /* not negotiated: refused as before */
	set_idesc(f, ITABLE, 1, 0x11000, 100, 1, 2);
	set_idesc(f, ITABLE, 2, 0x12000, 9, 2, 0);
	assert_int_equal(pop_again(f, &e), -EINVAL);
	f->q.indirect = true;
	assert_int_equal(pop_again(f, &e), 1);
}

/*
 * Seeded random indirect tables and rings, each field near the edges: whatever the guest
 * wrote, a pop either refuses (and breaks the queue) or gives buffers all inside guest RAM,
 * at most VIRTQ_MAX_CHAIN, the readable ones first, lengths that add up.
 */
static void test_indirect_random(void **state)
{
	struct fx *f = *state;
	static const uint64_t addrs[] = { ITABLE, ITABLE + 16, ITABLE + 8, 0x10000, MEM_SIZE - 16,
					  MEM_SIZE, 0, 0xfffffffffffff000ULL };
	static const uint32_t lens[] = { 0, 1, 16, 48, 64, 16 * 64, 16 * 65, 0xffffffffU, 4096 };
	unsigned ok = 0, refused = 0;

	srand(16);
	for (unsigned it = 0; it < 20000; it++) {
		struct virtq_elem e;
		uint64_t in = 0, out = 0;
		int r;

		f->q.indirect = rand() % 8 != 0;
		for (uint16_t i = 0; i < QSIZE; i++)
			set_desc(f, i, addrs[rand() % 8], lens[rand() % 9], (uint16_t)(rand() % 8),
				 (uint16_t)(rand() % (QSIZE + 2)));
		for (uint16_t i = 0; i < 70; i++)
			set_idesc(f, ITABLE, i, rand() % 4 ? 0x10000 + 64ULL * (unsigned)(rand() % 64)
							   : addrs[rand() % 8],
				  lens[rand() % 9] & 0xfff, (uint16_t)(rand() % 8),
				  (uint16_t)(rand() % 72));
		*(uint16_t *)gmem_ptr(&f->mem, AVAIL + 2, 2) = 1; /* one entry: the head below */
		*(uint16_t *)gmem_ptr(&f->mem, AVAIL + 4, 2) = (uint16_t)(rand() % (QSIZE + 1));
		r = pop_again(f, &e);
		if (r < 0) {
			assert_true(r == -EINVAL || r == -EFAULT || r == -ELOOP);
			assert_true(f->q.broken);
			refused++;
			continue;
		}
		assert_int_equal(r, 1);
		assert_true(e.n_in + e.n_out <= VIRTQ_MAX_CHAIN);
		for (unsigned i = 0; i < e.n_in + e.n_out; i++) {
			const uint8_t *b = e.iov[i].iov_base, *m = gmem_ptr(&f->mem, 0, MEM_SIZE);

			assert_true(b >= m && b + e.iov[i].iov_len <= m + MEM_SIZE);
			*(i < e.n_in ? &in : &out) += e.iov[i].iov_len;
		}
		assert_int_equal(in, e.in_len);
		assert_int_equal(out, e.out_len);
		ok++;
	}
	print_message("indirect: %u popped, %u refused\n", ok, refused);
	assert_true(ok > 100 && refused > 100);
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
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enable_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elem_read_spans_buffers, setup, teardown),
		cmocka_unit_test(test_gmem_hole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
