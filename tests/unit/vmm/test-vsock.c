/*
 * The transport hooks a vhost backend needs (virtio/pci.c), vhost.c's pure parts, and
 * virtio-vsock driven through BAR0 as a driver would (and as a hostile one would), without
 * /dev/vhost-vsock: the host has none (the sandbox test, test_vsock.py, runs the kernel's).
 *
 * - activate runs once on DRIVER_OK, deactivate on reset and around a save, activate again
 *   after a load of a running driver; a failed activation is DEVICE_NEEDS_RESET;
 * - kicks of the vhost queues never reach queue_notify (they are the worker's), the others do;
 * - msix_changed follows every MSI-X table, enable/mask and queue vector write while active;
 * - the memory table and ring addresses cover guest RAM only;
 * - vsock: device id 19, guest_cid in its configuration, rx and tx required at DRIVER_OK, a
 *   transport reset event after a load (with the new CID in the configuration), and seeded
 *   random event-queue garbage that never crashes and never writes outside the buffers.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/state.h"
#include "vmm/vhost.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/vsock.h"

#include "virtio-driver.h"

static struct {
	unsigned activate, deactivate, msix_changed, notify[4];
	int activate_ret;
} calls;

static int fake_activate(struct virtio_pci_dev *v)
{
	calls.activate++;
	return calls.activate_ret;
}

static void fake_deactivate(struct virtio_pci_dev *v)
{
	calls.deactivate++;
}

static void fake_msix_changed(struct virtio_pci_dev *v)
{
	calls.msix_changed++;
}

static void fake_notify(struct virtio_pci_dev *v, unsigned q)
{
	calls.notify[q]++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "test-vhost", .device_id = 19, .class_code = 0xff0000, .num_queues = 3,
	.queue_max = 16, .vhost_queues = 0x3, .activate = fake_activate,
	.deactivate = fake_deactivate, .msix_changed = fake_msix_changed,
	.queue_notify = fake_notify,
};

static void drv_three_queues(struct virtio_pci_dev *v)
{
	drv_features(v);
	for (uint16_t q = 0; q < 3; q++)
		drv_queue(v, q, 8, q + 1, DESC + q * 0x1000ULL, AVAIL + q * 0x1000ULL,
			  USED + q * 0x1000ULL);
}

static void test_hooks(void **state)
{
	struct virtio_pci_dev *v = calloc(1, sizeof(*v));
	struct state_writer w;
	struct state_reader r, sec;
	uint32_t id, inst;
	struct guest_mem mem;

	memset(&calls, 0, sizeof(calls));
	assert_int_equal(gmem_init(&mem, 1U << 20), 0);
	assert_int_equal(virtio_pci_init(v, NULL, &mem, &fake_ops, NULL), 0);
	drv_three_queues(v);
	assert_int_equal(calls.activate, 0); /* not before DRIVER_OK */
	drv_ok(v);
	drv_ok(v); /* a second write of the same status starts nothing more */
	assert_int_equal(calls.activate, 1);
	assert_true(v->active);
	for (unsigned q = 0; q < 4; q++)
		bar_w(v, VIRTIO_BAR_NOTIFY + q * VIRTIO_NOTIFY_MULT, q, 2);
	assert_int_equal(calls.notify[0] + calls.notify[1], 0); /* the worker's queues */
	assert_int_equal(calls.notify[2], 1);
	assert_int_equal(calls.notify[3], 0);

	/* The MSI-X table, the function's enable/mask bits, a queue's vector. */
	bar_w(v, VIRTIO_BAR_MSIX + 16 + 8, 0x4041, 4);
	assert_int_equal(calls.msix_changed, 1);
	bar_w(v, VIRTIO_BAR_MSIX + 16 + 12, 1, 4); /* vector 1 masked */
	assert_int_equal(calls.msix_changed, 2);
	v->pci.cfg[0x84 + 3] = 0xc0; /* MSI-X enable + function mask */
	v->pci.cfg_written(&v->pci, 0x84, 4);
	assert_int_equal(calls.msix_changed, 3);
	bar_w(v, 0x16, 1, 2);
	bar_w(v, 0x1a, 3, 2);
	assert_int_equal(calls.msix_changed, 4);
	/* No vector interrupt reaches a masked... no VM here: the vector has no irqfd. */
	assert_int_equal(virtio_pci_vector_irqfd(v, 1), -1);
	assert_int_equal(virtio_pci_vector_irqfd(v, 0xffff), -1);

	/*
	 * Save stops the backend (its indices) and leaves the device frozen: no backend, no
	 * queue served, until the thaw (the snapshot's memory is written in between).
	 */
	state_writer_init(&w);
	state_begin(&w, 0x13, 0);
	virtio_pci_save(v, &w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(calls.deactivate, 1);
	assert_int_equal(calls.activate, 1);
	assert_false(v->active);
	bar_w(v, VIRTIO_BAR_NOTIFY + 2 * VIRTIO_NOTIFY_MULT, 2, 2);
	assert_int_equal(calls.notify[2], 1); /* not served while frozen */
	virtio_pci_thaw(v);
	assert_int_equal(calls.activate, 2);
	assert_true(v->active);
	virtio_pci_thaw(v); /* not frozen: nothing */
	assert_int_equal(calls.activate, 2);
	bar_w(v, VIRTIO_BAR_NOTIFY + 2 * VIRTIO_NOTIFY_MULT, 2, 2);
	assert_int_equal(calls.notify[2], 2);

	/* Reset: stopped, and no hook while inactive. */
	bar_w(v, 0x14, 0, 1);
	assert_int_equal(calls.deactivate, 2);
	assert_false(v->active);
	bar_w(v, VIRTIO_BAR_MSIX + 16 + 8, 0x4042, 4);
	assert_int_equal(calls.msix_changed, 4);

	/* A load of a running driver's state starts the backend on it. */
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &inst, &sec), 1);
	assert_int_equal(virtio_pci_load(v, &sec), 0);
	assert_int_equal(calls.activate, 3);
	assert_true(v->active);
	assert_int_equal(v->st.vq[1].msix_vector, 3);

	/* DRIVER_OK without FEATURES_OK: no backend on unsettled features. */
	bar_w(v, 0x14, 0, 1);
	bar_w(v, 0x14, 1 | 2 | 4, 1);
	assert_false(v->active);
	assert_int_equal(calls.activate, 3);
	assert_true(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);

	/* A backend that cannot start: DEVICE_NEEDS_RESET, never active. */
	bar_w(v, 0x14, 0, 1);
	calls.activate_ret = -EINVAL;
	drv_three_queues(v);
	drv_ok(v);
	assert_false(v->active);
	assert_true(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	drv_ok(v);
	assert_int_equal(calls.activate, 4); /* not retried while NEEDS_RESET */
	state_writer_release(&w);
	virtio_pci_release(v);
	free(v);
	gmem_release(&mem);
}

static void test_vhost_mem_and_rings(void **state)
{
	struct guest_mem big = { .host = (uint8_t *)0x7f0000000000ULL, .size = 5ULL << 30,
				 .low_size = GMEM_HOLE_START, .fd = -1 };
	struct vhost_memory_region reg[VHOST_MAX_REGIONS];
	struct vhost_vring_addr a;
	struct guest_mem mem;
	struct virtq q;

	assert_int_equal(vhost_mem_regions(&big, reg, VHOST_MAX_REGIONS), 2);
	assert_int_equal(reg[0].guest_phys_addr, 0);
	assert_int_equal(reg[0].memory_size, GMEM_HOLE_START);
	assert_int_equal(reg[0].userspace_addr, 0x7f0000000000ULL);
	assert_int_equal(reg[1].guest_phys_addr, GMEM_HIGH_START);
	assert_int_equal(reg[1].memory_size, (5ULL << 30) - GMEM_HOLE_START);
	assert_int_equal(reg[1].userspace_addr, 0x7f0000000000ULL + GMEM_HOLE_START);
	assert_int_equal(vhost_mem_regions(&big, reg, 1), 1);

	assert_int_equal(gmem_init(&mem, 1U << 20), 0);
	assert_int_equal(vhost_mem_regions(&mem, reg, VHOST_MAX_REGIONS), 1);
	assert_int_equal(reg[0].memory_size, 1U << 20);
	virtq_reset(&q, &mem, 256);
	q.size = 256;
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	assert_int_equal(vhost_vring_addr(&q, 1, &a), 0);
	assert_int_equal(a.index, 1);
	assert_int_equal(a.desc_user_addr, (uint64_t)(uintptr_t)(mem.host + DESC));
	assert_int_equal(a.avail_user_addr, (uint64_t)(uintptr_t)(mem.host + AVAIL));
	assert_int_equal(a.used_user_addr, (uint64_t)(uintptr_t)(mem.host + USED));
	assert_int_equal(a.flags, 0); /* no dirty log */
	/* Each ring whole inside RAM: one byte over the end is refused. */
	q.used_gpa = (1U << 20) - (6 + 8 * 256) + 1;
	assert_int_equal(vhost_vring_addr(&q, 0, &a), -EFAULT);
	q.used_gpa = (1U << 20) - (6 + 8 * 256);
	assert_int_equal(vhost_vring_addr(&q, 0, &a), 0);
	q.desc_gpa = UINT64_MAX - 8;
	assert_int_equal(vhost_vring_addr(&q, 0, &a), -EFAULT);
	q.desc_gpa = DESC;
	q.size = 0;
	assert_int_equal(vhost_vring_addr(&q, 0, &a), -EFAULT);
	gmem_release(&mem);
}

static void test_cid_candidates(void **state)
{
	uint64_t seeds[] = { 0, 1, 0xfffffffbULL, 0xfffffffcULL, UINT64_MAX, UINT64_MAX - 3 };
	uint64_t seed = 0x16;

	for (unsigned s = 0; s < 1000 + sizeof(seeds) / sizeof(seeds[0]); s++) {
		uint64_t sd = s < sizeof(seeds) / sizeof(seeds[0]) ? seeds[s] : seed;

		for (unsigned i = 0; i < VSOCK_AUTO_TRIES; i++) {
			uint32_t c = vsock_cid_candidate(sd, i);

			assert_true(c >= VSOCK_CID_MIN && c <= VSOCK_CID_MAX);
			/* consecutive candidates differ: 64 tries are 64 CIDs */
			if (i)
				assert_int_not_equal(c, vsock_cid_candidate(sd, i - 1));
		}
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
	}
}

/* Post one event buffer: a writable descriptor of len bytes at gpa (or readable). */
static void post_event_buf(struct guest_mem *mem, uint16_t slot, uint64_t gpa, uint32_t len,
			   bool writable)
{
	uint8_t *desc = mem->host + DESC + 0x2000 + 16ULL * slot;
	uint8_t *avail = mem->host + AVAIL + 0x2000;
	uint16_t idx, flags = writable ? 2 : 0;

	memcpy(desc, &gpa, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	memset(desc + 14, 0, 2);
	memcpy(&idx, avail + 2, 2);
	memcpy(avail + 4 + 2 * (idx % 8), &slot, 2);
	idx++;
	memcpy(avail + 2, &idx, 2);
}

static uint16_t used_idx(struct guest_mem *mem)
{
	uint16_t idx;

	memcpy(&idx, mem->host + USED + 0x2000 + 2, 2);
	return le16toh(idx);
}

static void test_vsock_device(void **state)
{
	struct virtio_pci_dev *v, *v2;
	struct state_writer w;
	struct state_reader r, sec;
	uint32_t id, inst, ev;
	struct guest_mem mem;

	assert_int_equal(gmem_init(&mem, 1U << 20), 0);
	v = virtio_vsock_new_test(&mem, 42);
	assert_int_equal(v->pci.cfg[2] | (v->pci.cfg[3] << 8), 0x1040 + 19);
	assert_int_equal(bar_r(v, 0x12, 2), 3);
	assert_int_equal(bar_r(v, VIRTIO_BAR_DEVICE, 8), 42); /* le64 guest_cid */
	assert_int_equal(bar_r(v, VIRTIO_BAR_DEVICE + 4, 4), 0);
	bar_w(v, 0x00, 0, 4);
	assert_int_equal(bar_r(v, 0x04, 4), 1U << 1); /* SEQPACKET, nothing else */
	/* DRIVER_OK without the rx and tx rings: the worker could not run. */
	drv_features(v);
	drv_queue(v, 2, 8, 3, DESC + 0x2000, AVAIL + 0x2000, USED + 0x2000);
	drv_ok(v);
	assert_true(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(v->active);
	bar_w(v, 0x14, 0, 1);
	drv_three_queues(v);
	drv_ok(v);
	assert_false(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(v->active);
	/* An event buffer waits: no event to send yet. */
	post_event_buf(&mem, 0, 0x20000, 8, true);
	bar_w(v, VIRTIO_BAR_NOTIFY + 2 * VIRTIO_NOTIFY_MULT, 2, 2);
	assert_int_equal(used_idx(&mem), 0);

	/* Saved and loaded into a VM with another CID: the reset event, the new CID. */
	state_writer_init(&w);
	state_begin(&w, 0x13, 0);
	virtio_pci_save(v, &w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	memset(mem.host + 0x20000, 0xff, 8);
	v2 = virtio_vsock_new_test(&mem, 77);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &inst, &sec), 1);
	assert_int_equal(virtio_vsock_load(v2, &sec), 0);
	assert_int_equal(bar_r(v2, VIRTIO_BAR_DEVICE, 8), 77);
	assert_true(v2->active);
	assert_int_equal(used_idx(&mem), 1);
	memcpy(&ev, mem.host + 0x20000, 4);
	assert_int_equal(ev, 0); /* VIRTIO_VSOCK_EVENT_TRANSPORT_RESET */
	assert_int_equal(mem.host[0x20004], 0xff); /* nothing past the event */
	/* Sent once: another buffer stays unused. */
	post_event_buf(&mem, 1, 0x20100, 4, true);
	bar_w(v2, VIRTIO_BAR_NOTIFY + 2 * VIRTIO_NOTIFY_MULT, 2, 2);
	assert_int_equal(used_idx(&mem), 1);
	state_writer_release(&w);
	virtio_vsock_free(v2);
	virtio_vsock_free(v);
	gmem_release(&mem);
}

/* A load with the guest's event buffer too small or readable: NEEDS_RESET, nothing written. */
static void test_vsock_bad_event_buffer(void **state)
{
	for (int kind = 0; kind < 2; kind++) {
		struct virtio_pci_dev *v, *v2;
		struct state_writer w;
		struct state_reader sec;
		struct guest_mem mem;

		assert_int_equal(gmem_init(&mem, 1U << 20), 0);
		v = virtio_vsock_new_test(&mem, 5);
		drv_three_queues(v);
		drv_ok(v);
		post_event_buf(&mem, 0, 0x20000, kind ? 3 : 8, kind == 1);
		state_writer_init(&w);
		virtio_pci_save(v, &w);
		assert_int_equal(state_writer_finish(&w), 0);
		memset(mem.host + 0x20000, 0xee, 8);
		v2 = virtio_vsock_new_test(&mem, 6);
		/* saved without a section header: the payload follows the stream's header */
		sec = (struct state_reader){ .p = w.buf + VM_STATE_HDR_SIZE,
					     .len = w.len - VM_STATE_HDR_SIZE };
		assert_int_equal(virtio_vsock_load(v2, &sec), 0);
		assert_true(bar_r(v2, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
		assert_int_equal(used_idx(&mem), 0);
		for (unsigned i = 0; i < 8; i++)
			assert_int_equal(mem.host[0x20000 + i], 0xee);
		state_writer_release(&w);
		virtio_vsock_free(v2);
		virtio_vsock_free(v);
		gmem_release(&mem);
	}
}

/*
 * A hostile driver: seeded random descriptors and indices in the event queue, random kicks,
 * resets and loads: the device never crashes, writes only into guest RAM (ASan checks the
 * host side in CI) and comes back usable from a reset.
 */
static void test_vsock_hostile_event_queue(void **state)
{
	uint64_t seed = 0x1616;
	struct guest_mem mem;

	assert_int_equal(gmem_init(&mem, 1U << 20), 0);
	for (unsigned round = 0; round < 300; round++) {
		struct virtio_pci_dev *v = virtio_vsock_new_test(&mem, 3 + round);
		struct state_writer w;
		struct state_reader sec;

		drv_three_queues(v);
		drv_ok(v);
		for (unsigned i = 0; i < 64; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			mem.host[DESC + 0x2000 + (seed >> 33) % 128] = (uint8_t)(seed >> 17);
			mem.host[AVAIL + 0x2000 + (seed >> 40) % 20] = (uint8_t)(seed >> 9);
		}
		state_writer_init(&w);
		virtio_pci_save(v, &w);
		assert_int_equal(state_writer_finish(&w), 0);
		sec = (struct state_reader){ .p = w.buf + VM_STATE_HDR_SIZE,
					     .len = w.len - VM_STATE_HDR_SIZE };
		assert_int_equal(virtio_vsock_load(v, &sec), 0);
		for (unsigned k = 0; k < 4; k++)
			bar_w(v, VIRTIO_BAR_NOTIFY + (seed >> (k * 8)) % 5 * VIRTIO_NOTIFY_MULT, 2, 2);
		/* whatever it did: a reset gives a usable device again */
		bar_w(v, 0x14, 0, 1);
		assert_int_equal(bar_r(v, 0x14, 1), 0);
		assert_false(v->active);
		state_writer_release(&w);
		virtio_vsock_free(v);
	}
	gmem_release(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_vhost_mem_and_rings),
		cmocka_unit_test(test_cid_candidates),
		cmocka_unit_test(test_vsock_device),
		cmocka_unit_test(test_vsock_bad_event_buffer),
		cmocka_unit_test(test_vsock_hostile_event_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
