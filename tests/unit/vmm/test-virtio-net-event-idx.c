/*
 * VIRTIO_F_EVENT_IDX (virtio 1.2, 2.7.10) through virtio-net's BAR0, with a datagram
 * socketpair standing in for the tap: the device interrupts only when its used index crosses
 * the driver's used_event, publishes avail_event (the next entry it wants a kick for) when
 * it runs out of entries, and a hostile driver's used_event (random at every kick, seeded)
 * changes when interrupts come, never whether frames move. Without the feature negotiated,
 * every used batch interrupts as before.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/queue.h"

#include "virtio-driver.h"

#define QSIZE 256
#define RXQ 0
#define TXQ 1
#define RX_DESC 0x1000
#define RX_AVAIL 0x3000
#define RX_USED 0x4000
#define TX_DESC 0x8000
#define TX_AVAIL 0xa000
#define TX_USED 0xb000
#define TXBUF 0x200000
#define MEM_SIZE (4U << 20)
#define HLEN 12
#define FRAME 60
#define F_MAC (1ULL << 5)

static const uint8_t mac[6] = { 0x02, 0x16, 0, 0, 0x16, 0x29 };

struct fx {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	int sp[2];
	uint16_t tx_avail;
};

static uint16_t *ring16(struct fx *f, uint64_t gpa)
{
	return gmem_ptr(&f->mem, gpa, 2);
}

/* The driver's used_event for the tx queue: after its avail ring. */
static void set_used_event(struct fx *f, uint16_t ev)
{
	*ring16(f, TX_AVAIL + 4 + 2ULL * QSIZE) = htole16(ev);
}

static uint16_t avail_event(struct fx *f)
{
	return le16toh(*ring16(f, TX_USED + 4 + 8ULL * QSIZE));
}

static uint16_t tx_used(struct fx *f)
{
	return le16toh(*ring16(f, TX_USED + 2));
}

/* Reading the ISR clears it: did the device notify since the last read? */
static bool interrupted(struct fx *f)
{
	return bar_r(f->v, VIRTIO_BAR_ISR, 1) & 1;
}

static void driver_init(struct fx *f, uint64_t features)
{
	bar_w(f->v, 0x14, 0, 1);
	f->tx_avail = 0;
	memset(gmem_ptr(&f->mem, 0, TXBUF), 0, TXBUF);
	bar_w(f->v, 0x14, 1 | 2, 1);
	bar_w(f->v, 0x08, 0, 4);
	bar_w(f->v, 0x0c, (uint32_t)features, 4);
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, (uint32_t)(features >> 32) | 1, 4);
	bar_w(f->v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(f->v, 0x14, 1) & 8); /* the device offers what was asked */
	drv_queue(f->v, RXQ, QSIZE, 1, RX_DESC, RX_AVAIL, RX_USED);
	drv_queue(f->v, TXQ, QSIZE, 2, TX_DESC, TX_AVAIL, TX_USED);
	drv_ok(f->v);
	(void)interrupted(f);
}

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f.sp),
			 0);
	assert_int_equal(gmem_init(&f.mem, MEM_SIZE), 0);
	memset(gmem_ptr(&f.mem, 0, MEM_SIZE), 0, MEM_SIZE);
	f.v = virtio_net_new_test(&f.mem, mac, &f.sp[0], 1);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_net_free(f->v);
	gmem_release(&f->mem);
	close(f->sp[1]);
	return 0;
}

/* Post n frames on tx (descriptors i..i+n-1, each its own chain) and kick once. */
static void send_frames(struct fx *f, unsigned n)
{
	uint16_t *avail = gmem_ptr(&f->mem, TX_AVAIL, 4 + 2 * QSIZE);

	for (unsigned k = 0; k < n; k++) {
		uint16_t d = f->tx_avail % QSIZE;
		uint8_t *desc = gmem_ptr(&f->mem, TX_DESC + 16ULL * d, 16);
		uint64_t addr = TXBUF + 0x100ULL * d;
		uint32_t len = HLEN + FRAME;
		uint16_t flags = 0, next = 0;

		memset(gmem_ptr(&f->mem, addr, len), 0, HLEN);
		memset(gmem_ptr(&f->mem, addr + HLEN, FRAME), (int)d, FRAME);
		memcpy(desc, &addr, 8);
		memcpy(desc + 8, &len, 4);
		memcpy(desc + 12, &flags, 2);
		memcpy(desc + 14, &next, 2);
		avail[2 + d] = htole16(d);
		f->tx_avail++;
	}
	avail[1] = htole16(f->tx_avail);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + (uint64_t)TXQ * VIRTIO_NOTIFY_MULT, TXQ, 2);
}

static unsigned drain(struct fx *f)
{
	uint8_t buf[256];
	unsigned n = 0;

	while (recv(f->sp[1], buf, sizeof(buf), 0) == HLEN + FRAME)
		n++;
	return n;
}

/* 2.7.10's vring_need_event, as the driver computes it. */
static bool need_event(uint16_t event, uint16_t now, uint16_t old)
{
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

static void test_used_event(void **state)
{
	struct fx *f = *state;

	driver_init(f, F_MAC | VIRTQ_F_EVENT_IDX);
	set_used_event(f, 4);
	for (unsigned i = 1; i <= 8; i++) {
		send_frames(f, 1);
		assert_int_equal(tx_used(f), i);
		/* the first, and the one that moves the used index past 4 */
		assert_int_equal(interrupted(f), i == 1 || i == 5);
		/* out of entries: a kick wanted for the next one */
		assert_int_equal(avail_event(f), i);
	}
	assert_int_equal(drain(f), 8);
	/* a batch that jumps over used_event interrupts once */
	set_used_event(f, 10);
	send_frames(f, 5);
	assert_int_equal(tx_used(f), 13);
	assert_true(interrupted(f));
	assert_int_equal(avail_event(f), 13);
	assert_int_equal(drain(f), 5);
}

static void test_without_event_idx(void **state)
{
	struct fx *f = *state;

	driver_init(f, F_MAC);
	set_used_event(f, 100);
	for (unsigned i = 1; i <= 4; i++) {
		send_frames(f, 1);
		assert_true(interrupted(f));
	}
	assert_int_equal(avail_event(f), 0); /* the device area's extra field is not touched */
	assert_int_equal(drain(f), 4);
}

/* A driver that writes a random used_event before every kick: frames always move. */
static void test_hostile_used_event(void **state)
{
	struct fx *f = *state;
	unsigned seed = 1600 + 29;
	uint16_t signalled = 0;
	bool first = true;

	driver_init(f, F_MAC | VIRTQ_F_EVENT_IDX);
	for (unsigned round = 0; round < 2000; round++) {
		uint16_t old_used = tx_used(f), ev = (uint16_t)rand_r(&seed);
		unsigned n = 1 + (unsigned)rand_r(&seed) % 16;
		bool want;

		if (rand_r(&seed) % 4 == 0)
			ev = (uint16_t)(old_used + rand_r(&seed) % 8); /* near: crossings happen */
		set_used_event(f, ev);
		send_frames(f, n);
		assert_int_equal(tx_used(f), (uint16_t)(old_used + n));
		assert_int_equal(drain(f), n);
		want = first || need_event(ev, tx_used(f), signalled);
		assert_int_equal(interrupted(f), want);
		if (want) {
			signalled = tx_used(f);
			first = false;
		}
		assert_int_equal(avail_event(f), f->tx_avail);
		assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_used_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_used_event, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
