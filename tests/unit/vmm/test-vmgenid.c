/*
 * The VM generation ID device (dev/vmgenid.c): the GUID it puts in guest memory, its
 * save/load (a migration keeps the GUID, a restore gets a new one), and hostile state
 * sections: seeded random mutations of a good one never load another layout's address or
 * write anything but the 16 bytes at LAYOUT_VMGENID. The guest has no register to write: its
 * only input is the state stream.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/vmgenid.h"
#include "vmm/memory.h"
#include "vmm/state.h"
#include "vmm/x86/layout.h"

#define MEM (1U << 20)

/* A finished stream with one vmgenid section (id 0x17) of payload p. */
static void stream(struct state_writer *w, const uint8_t *p, size_t len)
{
	state_writer_init(w);
	state_begin(w, 0x17, 0);
	state_put_bytes(w, p, len);
	state_end(w);
	assert_int_equal(state_writer_finish(w), 0);
}

static int load(struct vmgenid *g, const struct state_writer *w)
{
	struct state_reader r, sec;
	uint32_t id, idx;

	assert_int_equal(state_reader_init(&r, w->buf, w->len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	return vmgenid_load(g, &sec);
}

static void saved(struct vmgenid *g, struct state_writer *w)
{
	state_writer_init(w);
	state_begin(w, 0x17, 0);
	vmgenid_save(g, w);
	state_end(w);
	assert_int_equal(state_writer_finish(w), 0);
}

static void test_guid_in_memory(void **state)
{
	struct guest_mem m;
	uint8_t a[VMGENID_SIZE], b[VMGENID_SIZE];
	struct vmgenid *g1, *g2;

	assert_int_equal(gmem_init(&m, MEM), 0);
	g1 = vmgenid_new_test(&m, false);
	vmgenid_get(g1, a);
	assert_memory_equal(gmem_ptr(&m, LAYOUT_VMGENID, VMGENID_SIZE), a, VMGENID_SIZE);
	assert_int_equal(a[6] >> 4, 4);      /* RFC 4122 version 4 */
	assert_int_equal(a[8] & 0xc0, 0x80); /* its variant */
	g2 = vmgenid_new_test(&m, false);
	vmgenid_get(g2, b);
	assert_memory_not_equal(a, b, VMGENID_SIZE); /* random: each VM its own */
	vmgenid_free(g1);
	vmgenid_free(g2);
	gmem_release(&m);
}

static void test_migration_keeps_restore_renews(void **state)
{
	struct guest_mem m;
	struct state_writer w;
	uint8_t orig[VMGENID_SIZE], got[VMGENID_SIZE];
	struct vmgenid *src, *dst;

	assert_int_equal(gmem_init(&m, MEM), 0);
	src = vmgenid_new_test(&m, false);
	vmgenid_get(src, orig);
	saved(src, &w);
	/* a migration's destination: the source's GUID, in its memory too */
	dst = vmgenid_new_test(&m, false);
	assert_int_equal(load(dst, &w), 0);
	vmgenid_get(dst, got);
	assert_memory_equal(got, orig, VMGENID_SIZE);
	assert_memory_equal(gmem_ptr(&m, LAYOUT_VMGENID, VMGENID_SIZE), orig, VMGENID_SIZE);
	vmgenid_free(dst);
	/* a restore: the guest's RAM holds the saved GUID; the clone gets a new one */
	assert_int_equal(gmem_write(&m, LAYOUT_VMGENID, orig, VMGENID_SIZE), 0);
	dst = vmgenid_new_test(&m, true);
	assert_int_equal(load(dst, &w), 0);
	vmgenid_get(dst, got);
	assert_memory_not_equal(got, orig, VMGENID_SIZE);
	assert_memory_equal(gmem_ptr(&m, LAYOUT_VMGENID, VMGENID_SIZE), got, VMGENID_SIZE);
	vmgenid_free(dst);
	vmgenid_free(src);
	state_writer_release(&w);
	gmem_release(&m);
}

/* Random payloads and mutations of a good one: refused unless exactly the layout's. */
static void test_hostile_sections(void **state)
{
	struct guest_mem m, ref;
	struct state_writer good, w;
	struct vmgenid *src, *dst;
	uint8_t payload[64], mine[VMGENID_SIZE];
	unsigned loaded = 0;

	srandom(1717);
	assert_int_equal(gmem_init(&m, MEM), 0);
	assert_int_equal(gmem_init(&ref, MEM), 0);
	src = vmgenid_new_test(&m, false);
	saved(src, &good);
	for (unsigned i = 0; i < 1000; i++) {
		struct state_reader r, sec;
		uint32_t id, idx;
		size_t len;
		int ret;

		assert_int_equal(state_reader_init(&r, good.buf, good.len), 0);
		assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
		len = sec.len;
		memcpy(payload, sec.p, len);
		if (i % 3 == 0) {
			len = (size_t)random() % sizeof(payload);
			for (size_t j = 0; j < len; j++)
				payload[j] = (uint8_t)random();
		} else if (i % 3 == 1) {
			payload[(size_t)random() % 28] ^= (uint8_t)(1 + random() % 255);
		} else {
			len = (size_t)random() % len; /* truncated, or one byte longer */
			if (i % 2)
				len = sec.len + 1;
		}
		stream(&w, payload, len);
		memcpy(ref.host, m.host, MEM);
		dst = vmgenid_new_test(&m, false);
		vmgenid_get(dst, mine);
		memcpy(ref.host + LAYOUT_VMGENID, mine, VMGENID_SIZE);
		ret = load(dst, &w);
		if (ret == 0) { /* the 12-byte header intact, 16 GUID bytes */
			assert_int_equal(len, 28);
			assert_memory_equal(payload, sec.p, 12);
			memcpy(ref.host + LAYOUT_VMGENID, payload + 12, VMGENID_SIZE);
			loaded++;
		} else {
			assert_int_equal(ret, -EBADMSG);
		}
		/* nothing but the GUID's 16 bytes changed, and those only to the loaded ones */
		assert_memory_equal(ref.host, m.host, MEM);
		vmgenid_free(dst);
		state_writer_release(&w);
	}
	assert_true(loaded > 0);
	vmgenid_free(src);
	state_writer_release(&good);
	gmem_release(&ref);
	gmem_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guid_in_memory),
		cmocka_unit_test(test_migration_keeps_restore_renews),
		cmocka_unit_test(test_hostile_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
