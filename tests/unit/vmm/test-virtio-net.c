/*
 * virtio-net driven through BAR0 as Linux's virtio_net would, and as a hostile driver would,
 * with a datagram socketpair standing in for the tap (the backend is an fd: each datagram a
 * virtio_net_hdr_v1 and a frame, as a tap with IFF_VNET_HDR reads and writes them).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
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
#include "vmm/state.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"

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
#define RXBUF 0x100000 /* rx buffers, 0x800 apart */
#define TXBUF 0x200000 /* tx frames */
#define MEM_SIZE (4U << 20)
#define HLEN 12

#define F_CSUM (1ULL << 0)
#define F_GUEST_CSUM (1ULL << 1)
#define F_MAC (1ULL << 5)
#define F_GUEST_TSO4 (1ULL << 7)
#define F_HOST_TSO4 (1ULL << 11)
#define F_MRG_RXBUF (1ULL << 15)
#define F_STATUS (1ULL << 16)

static const uint8_t test_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

struct fx {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	int sp[2]; /* sp[0]: the device's backend fd; sp[1]: the tap's far side, the test's */
	uint16_t rx_avail, tx_avail;
};

static void set_desc(struct fx *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, table + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Put head on a queue's avail ring; kick it when asked. */
static void offer(struct fx *f, unsigned q, uint16_t head, bool kick)
{
	uint64_t avail_gpa = q == RXQ ? RX_AVAIL : TX_AVAIL;
	uint16_t *idx = q == RXQ ? &f->rx_avail : &f->tx_avail;
	uint16_t *avail = gmem_ptr(&f->mem, avail_gpa, 4 + 2 * QSIZE);

	avail[2 + *idx % QSIZE] = head;
	(*idx)++;
	avail[1] = *idx;
	if (kick)
		bar_w(f->v, VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT, q, 2);
}

static uint16_t used_idx(struct fx *f, uint64_t used_gpa)
{
	return ((uint16_t *)gmem_ptr(&f->mem, used_gpa, 4))[1];
}

static uint32_t used_len(struct fx *f, uint64_t used_gpa, uint16_t slot)
{
	return ((uint32_t *)gmem_ptr(&f->mem, used_gpa + 4 + 8ULL * (slot % QSIZE), 8))[1];
}

static uint32_t used_id(struct fx *f, uint64_t used_gpa, uint16_t slot)
{
	return ((uint32_t *)gmem_ptr(&f->mem, used_gpa + 4 + 8ULL * (slot % QSIZE), 8))[0];
}

/* Reset, negotiate features (which must stick), set up both queues, DRIVER_OK. */
static void driver_init(struct fx *f, uint64_t features)
{
	bar_w(f->v, 0x14, 0, 1);
	f->rx_avail = f->tx_avail = 0;
	memset(gmem_ptr(&f->mem, 0, RXBUF), 0, RXBUF);
	bar_w(f->v, 0x14, 1 | 2, 1);
	bar_w(f->v, 0x08, 0, 4);
	bar_w(f->v, 0x0c, (uint32_t)features, 4);
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, (uint32_t)(features >> 32) | 1, 4); /* VIRTIO_F_VERSION_1 */
	bar_w(f->v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(f->v, 0x14, 1) & 8);
	assert_int_equal(bar_r(f->v, 0x12, 2), 2); /* receiveq1, transmitq1 */
	drv_queue(f->v, RXQ, QSIZE, 1, RX_DESC, RX_AVAIL, RX_USED);
	drv_queue(f->v, TXQ, QSIZE, 2, TX_DESC, TX_AVAIL, TX_USED);
	drv_ok(f->v);
}

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, f.sp),
			 0);
	assert_int_equal(gmem_init(&f.mem, MEM_SIZE), 0);
	memset(gmem_ptr(&f.mem, 0, MEM_SIZE), 0, MEM_SIZE);
	f.v = virtio_net_new_test(&f.mem, test_mac, &f.sp[0], 1);
	driver_init(&f, F_MAC | F_STATUS);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_net_free(f->v); /* closes sp[0] */
	gmem_release(&f->mem);
	close(f->sp[1]);
	return 0;
}

static struct virtio_net_counters counters(struct fx *f)
{
	struct virtio_net_counters c;

	virtio_net_get_counters(f->v, &c);
	return c;
}

/* A frame of len bytes (Ethernet header first), its bytes from seed. */
static void fill_frame(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7);
}

/* The tap hands the device a frame (header all zero: no offloads). */
static void tap_send(struct fx *f, size_t frame_len, unsigned seed)
{
	uint8_t buf[HLEN + 9000];

	assert_true(frame_len <= 9000);
	memset(buf, 0, HLEN);
	fill_frame(buf + HLEN, frame_len, seed);
	assert_int_equal(send(f->sp[1], buf, HLEN + frame_len, 0), (ssize_t)(HLEN + frame_len));
}

/* Post rx buffer i (one writable descriptor of len bytes) without kicking. */
static void post_rx(struct fx *f, uint16_t i, uint32_t len, bool kick)
{
	set_desc(f, RX_DESC, i, RXBUF + 0x800ULL * i, len, 2, 0);
	offer(f, RXQ, i, kick);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t feat;

	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE + i, 1), test_mac[i]);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE + 6, 2), 1); /* VIRTIO_NET_S_LINK_UP */
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE + 8, 2), 1); /* max_virtqueue_pairs */
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE + 10, 2), 0); /* past the config: 0 */
	bar_w(f->v, 0x00, 0, 4);
	feat = bar_r(f->v, 0x04, 4);
	bar_w(f->v, 0x00, 1, 4);
	feat |= bar_r(f->v, 0x04, 4) << 32;
	assert_true(feat & F_MAC);
	assert_true(feat & F_STATUS);
	assert_true(feat & VIRTIO_F_VERSION_1);
	/* the PCI id: modern virtio-net, 0x1041 */
	assert_int_equal(f->v->pci.cfg[2] | (f->v->pci.cfg[3] << 8), 0x1041);
}

/* A feature the device did not offer: FEATURES_OK does not stick. */
static void test_unoffered_feature(void **state)
{
	struct fx *f = *state;

	bar_w(f->v, 0x14, 0, 1);
	bar_w(f->v, 0x14, 1 | 2, 1);
	bar_w(f->v, 0x08, 0, 4);
	bar_w(f->v, 0x0c, (uint32_t)(F_MAC | (1ULL << 30)), 4);
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, 1, 4);
	bar_w(f->v, 0x14, 1 | 2 | 8, 1);
	assert_false(bar_r(f->v, 0x14, 1) & 8);
}

static void test_tx(void **state)
{
	struct fx *f = *state;
	uint8_t *hdr = gmem_ptr(&f->mem, TXBUF, HLEN);
	uint8_t *frame = gmem_ptr(&f->mem, TXBUF + 0x100, 1500);
	uint8_t got[2048];
	struct virtio_net_counters c;

	/* header and frame in two descriptors, as Linux without ANY_LAYOUT... */
	memset(hdr, 0, HLEN);
	fill_frame(frame, 1500, 1);
	set_desc(f, TX_DESC, 0, TXBUF, HLEN, 1, 1);
	set_desc(f, TX_DESC, 1, TXBUF + 0x100, 1500, 0, 0);
	offer(f, TXQ, 0, true);
	assert_int_equal(used_idx(f, TX_USED), 1);
	assert_int_equal(used_len(f, TX_USED, 0), 0);
	assert_int_equal(recv(f->sp[1], got, sizeof(got), 0), HLEN + 1500);
	assert_memory_equal(got + HLEN, frame, 1500);
	/* ...and a header split over descriptors at odd places */
	set_desc(f, TX_DESC, 0, TXBUF, 5, 1, 1);
	set_desc(f, TX_DESC, 1, TXBUF + 5, HLEN - 5 + 3, 1, 2);
	memcpy(gmem_ptr(&f->mem, TXBUF + HLEN, 3), frame, 3);
	set_desc(f, TX_DESC, 2, TXBUF + 0x100 + 3, 60 - 3, 0, 0);
	offer(f, TXQ, 0, true);
	assert_int_equal(used_idx(f, TX_USED), 2);
	assert_int_equal(recv(f->sp[1], got, sizeof(got), 0), HLEN + 60);
	assert_memory_equal(got + HLEN, frame, 60);
	c = counters(f);
	assert_int_equal(c.tx_packets, 2);
	assert_int_equal(c.tx_bytes, 1560);
	assert_int_equal(c.tx_dropped, 0);
}

static void test_rx(void **state)
{
	struct fx *f = *state;
	uint8_t want[1514];
	const uint8_t *buf = gmem_ptr(&f->mem, RXBUF, 0x800);
	struct virtio_net_counters c;

	post_rx(f, 0, 0x800, true);
	tap_send(f, 1514, 7);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 1);
	assert_int_equal(used_id(f, RX_USED, 0), 0);
	assert_int_equal(used_len(f, RX_USED, 0), HLEN + 1514);
	assert_int_equal(buf[10] | (buf[11] << 8), 1); /* num_buffers */
	fill_frame(want, sizeof(want), 7);
	assert_memory_equal(buf + HLEN, want, sizeof(want));
	c = counters(f);
	assert_int_equal(c.rx_packets, 1);
	assert_int_equal(c.rx_bytes, 1514);
	assert_true(virtio_net_test_rx_armed(f->v, 0));
}

/*
 * No buffers: the frame read waits, the backend is not watched (no busy loop), the tap's
 * queue is not drained and dropped; the guest's buffers and kick bring all of it in order.
 */
static void test_rx_waits_for_buffers(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0; i < 5; i++)
		tap_send(f, 100 + i, i);
	virtio_net_test_rx(f->v, 0);
	assert_false(virtio_net_test_rx_armed(f->v, 0));
	assert_int_equal(used_idx(f, RX_USED), 0);
	for (uint16_t i = 0; i < 3; i++)
		post_rx(f, i, 0x800, false);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + RXQ * VIRTIO_NOTIFY_MULT, RXQ, 2);
	assert_int_equal(used_idx(f, RX_USED), 3);
	assert_false(virtio_net_test_rx_armed(f->v, 0)); /* out of buffers again */
	for (uint16_t i = 3; i < 8; i++)
		post_rx(f, i, 0x800, false);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + RXQ * VIRTIO_NOTIFY_MULT, RXQ, 2);
	assert_int_equal(used_idx(f, RX_USED), 5);
	assert_true(virtio_net_test_rx_armed(f->v, 0)); /* the tap is empty: watch it again */
	for (uint16_t i = 0; i < 5; i++) {
		uint8_t want[200];

		fill_frame(want, 100 + i, i);
		assert_int_equal(used_len(f, RX_USED, i), HLEN + 100 + i);
		assert_memory_equal((uint8_t *)gmem_ptr(&f->mem, RXBUF + 0x800ULL * i, 0x800) + HLEN,
				    want, 100 + i);
	}
	assert_int_equal(counters(f).rx_dropped, 0);
}

/* Before DRIVER_OK nothing is read; the first kick after it starts the flow. */
static void test_rx_before_driver_ok(void **state)
{
	struct fx *f = *state;

	bar_w(f->v, 0x14, 0, 1);
	tap_send(f, 64, 1);
	virtio_net_test_rx(f->v, 0);
	assert_false(virtio_net_test_rx_armed(f->v, 0));
	driver_init(f, F_MAC | F_STATUS);
	post_rx(f, 0, 0x800, true);
	assert_int_equal(used_idx(f, RX_USED), 1);
	assert_int_equal(used_len(f, RX_USED, 0), HLEN + 64);
}

/* A buffer too small for the frame (no MRG_RXBUF): the frame is dropped, the buffer kept. */
static void test_rx_too_small(void **state)
{
	struct fx *f = *state;

	post_rx(f, 0, HLEN + 100, true);
	tap_send(f, 1000, 1);
	tap_send(f, 80, 2);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 1);
	assert_int_equal(used_len(f, RX_USED, 0), HLEN + 80);
	assert_int_equal(counters(f).rx_dropped, 1);
	assert_int_equal(counters(f).rx_packets, 1);
}

/* A header the tap should not have produced for this guest (no GUEST_CSUM/TSO): dropped. */
static void test_rx_bad_header(void **state)
{
	struct fx *f = *state;
	uint8_t buf[HLEN + 100];

	post_rx(f, 0, 0x800, true);
	memset(buf, 0, sizeof(buf));
	buf[1] = 1; /* GSO TCPv4 */
	assert_int_equal(send(f->sp[1], buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	memset(buf, 0, sizeof(buf));
	buf[0] = 1; /* NEEDS_CSUM */
	assert_int_equal(send(f->sp[1], buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(send(f->sp[1], buf, 5, 0), 5); /* a runt */
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 0);
	assert_int_equal(counters(f).rx_dropped, 3);
	/* DATA_VALID without GUEST_CSUM: delivered with the flag cleared */
	memset(buf, 0, sizeof(buf));
	buf[0] = 2;
	assert_int_equal(send(f->sp[1], buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 1);
	assert_int_equal(((uint8_t *)gmem_ptr(&f->mem, RXBUF, 1))[0], 0);
}

/* Headers a guest did not negotiate, lengths out of range: dropped, counted, buffers back. */
static void test_tx_lies(void **state)
{
	struct fx *f = *state;
	uint8_t *hdr = gmem_ptr(&f->mem, TXBUF, HLEN);
	uint8_t got[2048];
	const struct {
		uint8_t flags, gso;
		uint16_t csum_start, csum_off;
		uint32_t len;
	} cases[] = {
		{ 1, 0, 0, 0, 100 },     /* NEEDS_CSUM without VIRTIO_NET_F_CSUM */
		{ 0, 1, 0, 0, 100 },     /* GSO TCPv4 without HOST_TSO4 */
		{ 0, 0x80, 0, 0, 100 },  /* ECN without HOST_ECN */
		{ 0, 5, 0, 0, 100 },     /* an unknown GSO type */
		{ 4, 0, 0, 0, 100 },     /* an rx-only flag */
		{ 0, 0, 0, 0, HLEN },    /* no frame */
		{ 0, 0, 0, 0, 70000 },   /* larger than any frame */
	};
	unsigned n = sizeof(cases) / sizeof(cases[0]);

	for (unsigned i = 0; i < n; i++) {
		memset(hdr, 0, HLEN);
		hdr[0] = cases[i].flags;
		hdr[1] = cases[i].gso;
		set_desc(f, TX_DESC, (uint16_t)i, TXBUF, cases[i].len, 0, 0);
		offer(f, TXQ, (uint16_t)i, true);
	}
	assert_int_equal(used_idx(f, TX_USED), n);
	assert_int_equal(recv(f->sp[1], got, sizeof(got), 0), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(counters(f).tx_dropped, n);
	assert_int_equal(counters(f).tx_bad_hdr, 5);
	assert_int_equal(counters(f).tx_packets, 0);
	assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
}

/* At most 64 frames per kick: a flooding queue yields (the I/O loop comes back to it). */
static void test_tx_budget(void **state)
{
	struct fx *f = *state;
	uint8_t got[256];
	unsigned n = 0;

	memset(gmem_ptr(&f->mem, TXBUF, 256), 0, 256);
	for (uint16_t i = 0; i < 100; i++) {
		set_desc(f, TX_DESC, i, TXBUF, HLEN + 60, 0, 0);
		offer(f, TXQ, i, false);
	}
	bar_w(f->v, VIRTIO_BAR_NOTIFY + TXQ * VIRTIO_NOTIFY_MULT, TXQ, 2);
	assert_int_equal(used_idx(f, TX_USED), 64);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + TXQ * VIRTIO_NOTIFY_MULT, TXQ, 2);
	assert_int_equal(used_idx(f, TX_USED), 100);
	while (recv(f->sp[1], got, sizeof(got), 0) == HLEN + 60)
		n++;
	assert_int_equal(n, 100);
}

/* The same for rx: one wake-up moves at most 64 frames. */
static void test_rx_budget(void **state)
{
	struct fx *f = *state;

	for (uint16_t i = 0; i < 100; i++)
		post_rx(f, i, 0x800, false);
	for (unsigned i = 0; i < 100; i++)
		tap_send(f, 60, i);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 64);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 100);
	assert_true(virtio_net_test_rx_armed(f->v, 0));
}

/* Broken rings (a loop, memory outside RAM, a garbage index): DEVICE_NEEDS_RESET, no crash. */
static void test_hostile_rings(void **state)
{
	struct fx *f = *state;

	set_desc(f, TX_DESC, 0, TXBUF, 4, 1, 1);
	set_desc(f, TX_DESC, 1, TXBUF, 4, 1, 0);
	offer(f, TXQ, 0, true);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	driver_init(f, F_MAC | F_STATUS);
	set_desc(f, RX_DESC, 0, MEM_SIZE - 0x10, 0x800, 2, 0); /* runs past guest RAM */
	offer(f, RXQ, 0, true);
	tap_send(f, 60, 1);
	virtio_net_test_rx(f->v, 0);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(virtio_net_test_rx_armed(f->v, 0));
	driver_init(f, F_MAC | F_STATUS);
	((uint16_t *)gmem_ptr(&f->mem, RX_AVAIL, 4))[1] = 0x8000; /* more than the ring holds */
	tap_send(f, 60, 2); /* rx pops a buffer only for a frame */
	bar_w(f->v, VIRTIO_BAR_NOTIFY + RXQ * VIRTIO_NOTIFY_MULT, RXQ, 2);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* kicks of queues the device does not have, garbage in every register */
	bar_w(f->v, VIRTIO_BAR_NOTIFY + 7 * VIRTIO_NOTIFY_MULT, 7, 2);
	for (uint64_t off = 0; off < 0x40; off++)
		bar_w(f->v, off, 0xffffffffffffffffULL, (uint32_t)(1U << (off % 4)));
}

/* Seeded random tx chains: whatever the guest writes, nothing but sane frames reach the tap. */
static void test_tx_random_chains(void **state)
{
	struct fx *f = *state;
	uint8_t got[70000];
	unsigned seed = 16;

	for (unsigned round = 0; round < 300; round++) {
		uint16_t nd = (uint16_t)(1 + rand_r(&seed) % 6);
		ssize_t r;

		if (bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET)
			driver_init(f, F_MAC | F_STATUS);
		for (uint16_t i = 0; i < nd; i++) {
			uint64_t addr = TXBUF + (uint64_t)(rand_r(&seed) % 0x10000);
			uint32_t len = rand_r(&seed) % 3 ? (uint32_t)(rand_r(&seed) % 2000) :
							   (uint32_t)rand_r(&seed);
			uint16_t flags = (uint16_t)(rand_r(&seed) % 8 ? (i + 1 < nd) : rand_r(&seed) % 8);
			uint16_t next = (uint16_t)(rand_r(&seed) % 10 ? i + 1 : rand_r(&seed) % 300);

			if (rand_r(&seed) % 20 == 0)
				addr = (uint64_t)rand_r(&seed) << (rand_r(&seed) % 33);
			set_desc(f, TX_DESC, i, addr, len, flags, next);
		}
		memset(gmem_ptr(&f->mem, TXBUF, HLEN), 0, HLEN);
		((uint8_t *)gmem_ptr(&f->mem, TXBUF, HLEN))[rand_r(&seed) % HLEN] =
			(uint8_t)rand_r(&seed);
		offer(f, TXQ, 0, true);
		while ((r = recv(f->sp[1], got, sizeof(got), 0)) >= 0) {
			assert_true(r >= HLEN + 14 && r <= HLEN + 65535 + 18);
			assert_int_equal(got[0], 0); /* no offload the guest did not negotiate */
			assert_int_equal(got[1], 0);
		}
	}
	assert_true(counters(f).tx_packets > 0);
	assert_true(counters(f).tx_dropped > 0);
}

/* The guest state (MAC in the config space, queues) goes through save and load. */
static void test_save_load(void **state)
{
	struct fx *f = *state;
	struct state_writer w;
	struct state_reader r, sec;
	uint32_t id, idx;
	struct virtio_pci_dev *v2;
	static const uint8_t other_mac[6] = { 0x02, 0, 0, 0, 0, 9 };
	int sp2[2];

	post_rx(f, 0, 0x800, true);
	state_writer_init(&w);
	state_begin(&w, 0x13, 0);
	virtio_pci_save(f->v, &w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sp2), 0);
	v2 = virtio_net_new_test(&f->mem, other_mac, &sp2[0], 1);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	assert_int_equal(virtio_pci_load(v2, &sec), 0);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(bar_r(v2, VIRTIO_BAR_DEVICE + i, 1), test_mac[i]);
	assert_true(bar_r(v2, 0x14, 1) & VIRTIO_STATUS_DRIVER_OK);
	/* the loaded device serves the posted buffer */
	assert_int_equal(send(sp2[1], (uint8_t[HLEN + 60]){ 0 }, HLEN + 60, 0), HLEN + 60);
	virtio_net_test_rx(v2, 0);
	assert_int_equal(used_idx(f, RX_USED), 1);
	virtio_net_free(v2);
	close(sp2[1]);
	state_writer_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unoffered_feature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_waits_for_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_before_driver_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_small, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_bad_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_lies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_random_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
