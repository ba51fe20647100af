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
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/state.h"
#include "vmm/ratelimit.h"
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
#define F_GUEST_TSO6 (1ULL << 8)
#define F_HOST_TSO6 (1ULL << 12)
#define F_MRG_RXBUF (1ULL << 15)
#define F_STATUS (1ULL << 16)
#define F_CTRL_VQ (1ULL << 17)
#define F_CTRL_RX (1ULL << 18)
#define F_MQ (1ULL << 22)

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
	assert_int_equal(bar_r(f->v, 0x12, 2), 3); /* receiveq1, transmitq1, controlq */
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

/*
 * tx_pps/rx_pps and tx_bps (the rate limiter): a direction out of tokens stops, nothing is
 * dropped (tx chains stay on the ring, the rx frame waits with the tap unread), the refill
 * (the timer's work) lets the next ones go, and lifting the limit lets all go at once.
 */
static void test_rate_limits(void **state)
{
	struct fx *f = *state;
	const struct ratelimit_config three = { .ops = { .size = 3, .refill_ms = 200 } };
	const struct ratelimit_config two = { .ops = { .size = 2, .refill_ms = 200 } };
	const struct ratelimit_config bytes = { .bytes = { .size = 1000, .refill_ms = 200 } };
	const struct ratelimit_config none = { 0 };
	const struct timespec wait = { 0, 250 * 1000 * 1000 }; /* more than a refill */
	uint8_t got[256];
	unsigned n = 0;

	virtio_net_set_rate_limit(f->v, &two, &three);
	memset(gmem_ptr(&f->mem, TXBUF, 256), 0, 256);
	for (uint16_t i = 0; i < 10; i++) {
		set_desc(f, TX_DESC, i, TXBUF, HLEN + 60, 0, 0);
		offer(f, TXQ, i, false);
	}
	bar_w(f->v, VIRTIO_BAR_NOTIFY + TXQ * VIRTIO_NOTIFY_MULT, TXQ, 2);
	assert_int_equal(used_idx(f, TX_USED), 3);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + TXQ * VIRTIO_NOTIFY_MULT, TXQ, 2);
	assert_int_equal(used_idx(f, TX_USED), 3); /* a kick does not bypass the limiter */
	nanosleep(&wait, NULL);
	virtio_net_test_rate_timer(f->v);
	assert_int_equal(used_idx(f, TX_USED), 6);
	for (uint16_t i = 0; i < 5; i++)
		post_rx(f, i, 0x800, false);
	for (unsigned i = 0; i < 5; i++)
		tap_send(f, 60, i);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 2);
	assert_false(virtio_net_test_rx_armed(f->v, 0)); /* the tap is not read meanwhile */
	nanosleep(&wait, NULL);
	virtio_net_test_rate_timer(f->v);
	assert_int_equal(used_idx(f, RX_USED), 4);
	/* no limits: everything that waited goes at once */
	virtio_net_set_rate_limit(f->v, &none, &none);
	assert_int_equal(used_idx(f, TX_USED), 10);
	assert_int_equal(used_idx(f, RX_USED), 5);
	while (recv(f->sp[1], got, sizeof(got), MSG_DONTWAIT) == HLEN + 60)
		n++;
	assert_int_equal(n, 10);
	/* bytes: 1000 a refill, 60-byte frames: 16 go, the 17th waits */
	virtio_net_set_rate_limit(f->v, NULL, &bytes);
	for (uint16_t i = 0; i < 20; i++) {
		set_desc(f, TX_DESC, (uint16_t)(10 + i), TXBUF, HLEN + 60, 0, 0);
		offer(f, TXQ, (uint16_t)(10 + i), false);
	}
	bar_w(f->v, VIRTIO_BAR_NOTIFY + TXQ * VIRTIO_NOTIFY_MULT, TXQ, 2);
	assert_int_equal(used_idx(f, TX_USED), 10 + 16);
	assert_int_equal(counters(f).tx_dropped, 0);
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
	virtio_net_save(f->v, &w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sp2), 0);
	v2 = virtio_net_new_test(&f->mem, other_mac, &sp2[0], 1);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	assert_int_equal(virtio_net_load(v2, &sec), 0);
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

/* A tx header as a guest fills it. */
static void put_hdr(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
		    uint16_t csum_start, uint16_t csum_offset)
{
	uint16_t v[5] = { htole16(hdr_len), htole16(gso_size), htole16(csum_start),
			  htole16(csum_offset), 0 };

	h[0] = flags;
	h[1] = gso;
	memcpy(h + 2, v, sizeof(v));
}

/*
 * With CSUM and HOST_TSO4/6 negotiated, checksum and GSO headers pass when their offsets are
 * inside the frame; a lie about them (or about features still not negotiated) is dropped.
 */
static void test_tx_offloads(void **state)
{
	struct fx *f = *state;
	uint8_t *hdr = gmem_ptr(&f->mem, TXBUF, HLEN + 4000);
	uint8_t got[4096];
	const struct {
		uint8_t flags, gso;
		uint16_t hdr_len, gso_size, csum_start, csum_off;
		bool ok;
	} cases[] = {
		{ 1, 0, 0, 0, 34, 16, true },          /* TCP checksum at 34 + 16 */
		{ 1, 0, 0, 0, 3990, 8, true },         /* the last bytes of the frame */
		{ 1, 0, 0, 0, 3990, 9, false },        /* one past */
		{ 1, 0, 0, 0, 0xffff, 0xffff, false }, /* far past (and no 16-bit wrap) */
		{ 1, 1, 54, 1448, 34, 16, true },      /* TSO4 */
		{ 1, 4, 74, 1428, 54, 16, true },      /* TSO6 */
		{ 1, 0x81, 54, 1448, 34, 16, false },  /* ECN, not negotiated */
		{ 0, 1, 54, 1448, 34, 16, false },     /* GSO without NEEDS_CSUM */
		{ 1, 1, 54, 0, 34, 16, false },        /* GSO of segments of 0 bytes */
		{ 1, 1, 4001, 1448, 34, 16, false },   /* headers past the frame */
		{ 1, 3, 42, 1472, 34, 6, false },      /* UFO: not offered */
	};
	unsigned n = sizeof(cases) / sizeof(cases[0]), sent = 0;

	driver_init(f, F_MAC | F_STATUS | F_CSUM | F_HOST_TSO4 | F_HOST_TSO6);
	for (unsigned i = 0; i < n; i++) {
		put_hdr(hdr, cases[i].flags, cases[i].gso, cases[i].hdr_len, cases[i].gso_size,
			cases[i].csum_start, cases[i].csum_off);
		fill_frame(hdr + HLEN, 4000, i);
		set_desc(f, TX_DESC, 0, TXBUF, HLEN + 4000, 0, 0);
		offer(f, TXQ, 0, true);
		if (cases[i].ok) {
			assert_int_equal(recv(f->sp[1], got, sizeof(got), 0), HLEN + 4000);
			assert_memory_equal(got, hdr, HLEN);
			sent++;
		}
		assert_int_equal(recv(f->sp[1], got, sizeof(got), 0), -1);
	}
	assert_int_equal(counters(f).tx_packets, sent);
	assert_int_equal(counters(f).tx_bad_hdr, n - sent);
}

/* Frames the tap hands over with offloads pass only when the guest negotiated them. */
static void test_rx_offloads(void **state)
{
	struct fx *f = *state;
	uint8_t buf[HLEN + 3000];
	const uint8_t *rx = gmem_ptr(&f->mem, RXBUF, 0x800 + HLEN);

	driver_init(f, F_MAC | F_STATUS | F_GUEST_CSUM | F_GUEST_TSO4);
	for (uint16_t i = 0; i < 4; i++)
		post_rx(f, i, 0x800 * 2, false); /* the descriptors overlap: only the length counts */
	memset(buf, 0, sizeof(buf));
	put_hdr(buf, 1, 1, 54, 1448, 34, 16); /* TSO4 with a checksum to finish */
	assert_int_equal(send(f->sp[1], buf, HLEN + 3000, 0), HLEN + 3000);
	put_hdr(buf, 1, 4, 74, 1428, 54, 16); /* TSO6: not negotiated */
	assert_int_equal(send(f->sp[1], buf, HLEN + 3000, 0), HLEN + 3000);
	put_hdr(buf, 1, 0, 0, 0, 2990, 9); /* checksum past the frame */
	assert_int_equal(send(f->sp[1], buf, HLEN + 3000, 0), HLEN + 3000);
	put_hdr(buf, 2, 0, 0, 0, 0, 0); /* DATA_VALID: kept with GUEST_CSUM */
	assert_int_equal(send(f->sp[1], buf, HLEN + 1000, 0), HLEN + 1000);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + RXQ * VIRTIO_NOTIFY_MULT, RXQ, 2);
	assert_int_equal(used_idx(f, RX_USED), 2);
	assert_int_equal(used_len(f, RX_USED, 0), HLEN + 3000);
	assert_int_equal(used_len(f, RX_USED, 1), HLEN + 1000);
	assert_int_equal(rx[0], 1);           /* NEEDS_CSUM, for the guest to finish */
	assert_int_equal(rx[0x800], 2);       /* DATA_VALID */
	assert_int_equal(counters(f).rx_dropped, 2);
}

/*
 * MRG_RXBUF: a frame larger than one buffer spreads over as many chains as it fills, with
 * num_buffers in the first header, all published at once; when the ring has too few, the
 * frame waits (nothing is consumed) until the guest posts more.
 */
static void test_rx_mergeable(void **state)
{
	struct fx *f = *state;
	uint8_t want[5000];
	uint8_t *got = malloc(HLEN + sizeof(want));
	size_t off = 0;

	driver_init(f, F_MAC | F_STATUS | F_MRG_RXBUF);
	for (uint16_t i = 0; i < 3; i++)
		post_rx(f, i, 1536, false);
	tap_send(f, sizeof(want), 9);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 0); /* 3 x 1536 < 12 + 5000 */
	assert_false(virtio_net_test_rx_armed(f->v, 0));
	post_rx(f, 3, 1536, true);
	assert_int_equal(used_idx(f, RX_USED), 4);
	for (uint16_t i = 0; i < 4; i++) {
		uint32_t l = used_len(f, RX_USED, i);

		assert_int_equal(used_id(f, RX_USED, i), i);
		assert_int_equal(l, i < 3 ? 1536 : HLEN + sizeof(want) - 3 * 1536);
		memcpy(got + off, gmem_ptr(&f->mem, RXBUF + 0x800ULL * i, l), l);
		off += l;
	}
	assert_int_equal(got[10] | (got[11] << 8), 4); /* num_buffers */
	fill_frame(want, sizeof(want), 9);
	assert_memory_equal(got + HLEN, want, sizeof(want));
	/* a small frame takes one buffer: num_buffers 1 */
	post_rx(f, 4, 1536, true);
	tap_send(f, 60, 1);
	virtio_net_test_rx(f->v, 0);
	assert_int_equal(used_idx(f, RX_USED), 5);
	assert_int_equal(((uint8_t *)gmem_ptr(&f->mem, RXBUF + 0x800ULL * 4, HLEN))[10], 1);
	assert_int_equal(counters(f).rx_dropped, 0);
	free(got);
}

/* Seeded random rx buffers (sizes, splits, mergeable or not): every frame arrives whole. */
static void test_rx_random_buffers(void **state)
{
	struct fx *f = *state;
	unsigned seed = 1616;
	uint8_t *got = malloc(HLEN + 9000), want[9000];
	bool mrg = false; /* as negotiated by setup */

	for (unsigned round = 0; round < 200; round++) {
		size_t len = 14 + (size_t)(rand_r(&seed) % (9000 - 14));
		size_t off = 0, room = 0;
		uint16_t nb = 0;

		/* chains of 1 to 3 descriptors, 64 KiB apart, until the frame fits */
		for (uint16_t i = 0; room < HLEN + len; i++) {
			uint16_t nd = (uint16_t)(1 + rand_r(&seed) % 3), head = (uint16_t)(i * 4);
			size_t chain = HLEN + len;

			for (uint16_t d = 0; d < nd; d++) {
				uint32_t l = mrg ? (uint32_t)(500 + rand_r(&seed) % 2500) :
						   (uint32_t)(chain / nd + (d == 0 ? chain % nd : 0));

				set_desc(f, RX_DESC, (uint16_t)(head + d),
					 RXBUF + 0x10000ULL * i + 0x4000ULL * d, l,
					 (uint16_t)(2 | (d + 1 < nd)), (uint16_t)(head + d + 1));
				room += l;
			}
			offer(f, RXQ, head, false);
			nb++;
		}
		tap_send(f, len, round);
		virtio_net_test_rx(f->v, 0);
		assert_int_equal(used_idx(f, RX_USED), nb); /* every chain was needed */
		for (uint16_t k = 0; k < nb; k++) {
			uint32_t l = used_len(f, RX_USED, k);

			assert_int_equal(used_id(f, RX_USED, k), k * 4);
			for (uint16_t d = (uint16_t)(k * 4); l; d++) { /* the chain's buffers in order */
				uint32_t dl;
				uint64_t a;

				memcpy(&dl, gmem_ptr(&f->mem, RX_DESC + 16ULL * d + 8, 4), 4);
				memcpy(&a, gmem_ptr(&f->mem, RX_DESC + 16ULL * d, 8), 8);
				dl = dl < l ? dl : l;
				memcpy(got + off, gmem_ptr(&f->mem, a, dl), dl);
				off += dl;
				l -= dl;
			}
		}
		assert_int_equal(off, HLEN + len);
		assert_int_equal(got[10] | (got[11] << 8), nb);
		fill_frame(want, len, round);
		assert_memory_equal(got + HLEN, want, len);
		mrg = rand_r(&seed) % 2;
		driver_init(f, F_MAC | F_STATUS | (mrg ? F_MRG_RXBUF : 0));
	}
	assert_int_equal(counters(f).rx_dropped, 0);
	free(got);
}

/* Multiqueue: NP pairs on NP socketpairs, every queue's rings at QRING(q). */
#define NP 4
#define QRING(q) (0x20000ULL + 0x4000ULL * (q))
#define CTRLBUF 0x300000

struct mq {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	int sp[NP][2];
	uint16_t avail[2 * NP + 1];
};

static int setup_mq(void **state)
{
	static struct mq m;
	int fds[NP];

	memset(&m, 0, sizeof(m));
	for (unsigned i = 0; i < NP; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, m.sp[i]), 0);
		fds[i] = m.sp[i][0];
	}
	assert_int_equal(gmem_init(&m.mem, MEM_SIZE), 0);
	memset(gmem_ptr(&m.mem, 0, MEM_SIZE), 0, MEM_SIZE);
	m.v = virtio_net_new_test(&m.mem, test_mac, fds, NP);
	*state = &m;
	return 0;
}

static int teardown_mq(void **state)
{
	struct mq *m = *state;

	virtio_net_free(m->v);
	gmem_release(&m->mem);
	for (unsigned i = 0; i < NP; i++)
		close(m->sp[i][1]);
	return 0;
}

static void mq_init(struct mq *m, uint64_t features)
{
	unsigned nq;

	bar_w(m->v, 0x14, 0, 1);
	memset(m->avail, 0, sizeof(m->avail));
	memset(gmem_ptr(&m->mem, QRING(0), 0x4000 * (2 * NP + 1)), 0, 0x4000 * (2 * NP + 1));
	bar_w(m->v, 0x14, 1 | 2, 1);
	bar_w(m->v, 0x08, 0, 4);
	bar_w(m->v, 0x0c, (uint32_t)features, 4);
	bar_w(m->v, 0x08, 1, 4);
	bar_w(m->v, 0x0c, 1, 4);
	bar_w(m->v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(m->v, 0x14, 1) & 8);
	nq = (unsigned)bar_r(m->v, 0x12, 2);
	assert_int_equal(nq, 2 * NP + 1);
	for (unsigned q = 0; q < nq; q++)
		drv_queue(m->v, (uint16_t)q, 64, -1, QRING(q), QRING(q) + 0x1000, QRING(q) + 0x2000);
	drv_ok(m->v);
}

static void mq_desc(struct mq *m, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		    uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&m->mem, QRING(q) + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void mq_offer(struct mq *m, unsigned q, uint16_t head)
{
	uint16_t *avail = gmem_ptr(&m->mem, QRING(q) + 0x1000, 4 + 2 * 64);

	avail[2 + m->avail[q] % 64] = head;
	avail[1] = ++m->avail[q];
	bar_w(m->v, VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT, q, 2);
}

static uint16_t mq_used(struct mq *m, unsigned q)
{
	return ((uint16_t *)gmem_ptr(&m->mem, QRING(q) + 0x2000, 4))[1];
}

/* A control command (class, cmd, data) on queue q: its ack, or -1 when none was written. */
static int mq_ctrl(struct mq *m, unsigned q, uint8_t cls, uint8_t cmd, const void *data,
		   uint32_t len)
{
	uint8_t *buf = gmem_ptr(&m->mem, CTRLBUF, 0x2000);
	uint16_t used = mq_used(m, q);

	buf[0] = cls;
	buf[1] = cmd;
	if (len)
		memcpy(buf + 2, data, len);
	buf[0x1000] = 0xee;
	mq_desc(m, q, 0, CTRLBUF, 2 + len, 1, 1);
	mq_desc(m, q, 1, CTRLBUF + 0x1000, 1, 2, 0);
	mq_offer(m, q, 0);
	assert_int_equal(mq_used(m, q), (uint16_t)(used + 1));
	return buf[0x1000] == 0xee ? -1 : buf[0x1000];
}

static void mq_tx(struct mq *m, unsigned pair, uint16_t len)
{
	memset(gmem_ptr(&m->mem, TXBUF, HLEN), 0, HLEN);
	mq_desc(m, 2 * pair + 1, 0, TXBUF, HLEN + len, 0, 0);
	mq_offer(m, 2 * pair + 1, 0);
}

static void test_mq_pairs(void **state)
{
	struct mq *m = *state;
	uint8_t got[256], frame[HLEN + 60] = { 0 };
	uint16_t pairs;

	assert_int_equal(bar_r(m->v, VIRTIO_BAR_DEVICE + 8, 2), NP); /* max_virtqueue_pairs */
	mq_init(m, F_MAC | F_STATUS | F_CTRL_VQ | F_CTRL_RX | F_MQ);
	/* until VQ_PAIRS_SET, the first pair only */
	assert_false(virtio_net_test_rx_armed(m->v, 2));
	mq_tx(m, 2, 60);
	assert_int_equal(mq_used(m, 5), 0);
	assert_int_equal(recv(m->sp[2][1], got, sizeof(got), 0), -1);
	pairs = htole16(NP);
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 0, &pairs, 2), 0);
	assert_true(virtio_net_test_rx_armed(m->v, 2));
	/* the kick that was ignored is served with the next one */
	bar_w(m->v, VIRTIO_BAR_NOTIFY + 5 * VIRTIO_NOTIFY_MULT, 5, 2);
	assert_int_equal(mq_used(m, 5), 1);
	assert_int_equal(recv(m->sp[2][1], got, sizeof(got), 0), HLEN + 60);
	/* each pair's rx from its own fd */
	mq_desc(m, 6, 0, RXBUF, 0x800, 2, 0);
	mq_offer(m, 6, 0);
	assert_int_equal(send(m->sp[3][1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	virtio_net_test_rx(m->v, 3);
	assert_int_equal(mq_used(m, 6), 1);
	/* back to two pairs: pair 3's input is no longer read */
	pairs = htole16(2);
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 0, &pairs, 2), 0);
	assert_false(virtio_net_test_rx_armed(m->v, 3));
	assert_int_equal(send(m->sp[3][1], frame, sizeof(frame), 0), (ssize_t)sizeof(frame));
	mq_offer(m, 6, 0);
	virtio_net_test_rx(m->v, 3);
	assert_int_equal(mq_used(m, 6), 1);
	/* out of range */
	pairs = 0;
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 0, &pairs, 2), 1);
	pairs = htole16(NP + 1);
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 0, &pairs, 2), 1);
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 0, &pairs, 1), 1); /* short */
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 1, &pairs, 2), 1); /* RSS: not offered */
	/* a reset goes back to one pair */
	mq_init(m, F_MAC | F_STATUS | F_CTRL_VQ | F_CTRL_RX | F_MQ);
	assert_false(virtio_net_test_rx_armed(m->v, 1));
}

/* RX mode and MAC filter commands: OK or ERR, never a crash; without MQ the ctrl queue is 2. */
/* Save and load keep the pairs in use; a stream that disagrees with the device is refused. */
static void test_mq_save_load(void **state)
{
	struct mq *m = *state;
	uint16_t pairs = htole16(3);
	struct state_writer w;
	struct state_reader r;
	struct virtio_pci_dev *v2;
	int fds[NP];

	mq_init(m, F_MAC | F_STATUS | F_CTRL_VQ | F_CTRL_RX | F_MQ);
	assert_int_equal(mq_ctrl(m, 2 * NP, 4, 0, &pairs, 2), 0);
	state_writer_init(&w);
	virtio_net_save(m->v, &w);
	assert_int_equal(w.err, 0);
	for (unsigned i = 0; i < NP; i++)
		fds[i] = -1;
	v2 = virtio_net_new_test(&m->mem, test_mac, fds, NP);
	/* the stream without its header: a section's payload */
	r = (struct state_reader){ .p = w.buf + VM_STATE_HDR_SIZE, .len = w.len - VM_STATE_HDR_SIZE };
	assert_int_equal(virtio_net_load(v2, &r), 0);
	assert_true(virtio_net_test_rx_armed(v2, 2));
	assert_false(virtio_net_test_rx_armed(v2, 3));
	/* pairs in use: 0, more than the device has */
	for (uint16_t bad = 0; bad < 2; bad++) {
		uint8_t *p = w.buf + VM_STATE_HDR_SIZE;
		uint16_t old;

		memcpy(&old, p, 2);
		p[0] = bad ? NP + 1 : 0;
		r = (struct state_reader){ .p = p, .len = w.len - VM_STATE_HDR_SIZE };
		assert_int_equal(virtio_net_load(v2, &r), -EBADMSG);
		memcpy(p, &old, 2);
	}
	virtio_net_free(v2);
	/* more than one pair without MQ negotiated */
	state_writer_release(&w);
	mq_init(m, F_MAC | F_STATUS | F_CTRL_VQ);
	state_writer_init(&w);
	virtio_net_save(m->v, &w);
	w.buf[VM_STATE_HDR_SIZE] = 2;
	r = (struct state_reader){ .p = w.buf + VM_STATE_HDR_SIZE, .len = w.len - VM_STATE_HDR_SIZE };
	assert_int_equal(virtio_net_load(m->v, &r), -EBADMSG);
	state_writer_release(&w);
}

static void test_ctrl_commands(void **state)
{
	struct mq *m = *state;
	uint8_t on = 1, bad = 7, tables[4 + 6 + 4 + 12];
	uint32_t n1 = htole32(1), n2 = htole32(2), huge = 0xffffffffU;
	uint16_t pairs = htole16(2);
	unsigned seed = 5;

	mq_init(m, F_MAC | F_STATUS | F_CTRL_VQ | F_CTRL_RX); /* no MQ */
	assert_int_equal(mq_ctrl(m, 2, 0, 0, &on, 1), 0);   /* promisc on */
	assert_int_equal(mq_ctrl(m, 2, 0, 1, &on, 1), 0);   /* allmulti on */
	assert_int_equal(mq_ctrl(m, 2, 0, 1, &bad, 1), 1);  /* not a boolean */
	assert_int_equal(mq_ctrl(m, 2, 0, 3, &on, 1), 1);   /* RX_EXTRA: not offered */
	assert_int_equal(mq_ctrl(m, 2, 4, 0, &pairs, 2), 1); /* MQ: not negotiated */
	memcpy(tables, &n1, 4);
	memset(tables + 4, 0x02, 6);
	memcpy(tables + 10, &n2, 4);
	memset(tables + 14, 0x33, 12);
	assert_int_equal(mq_ctrl(m, 2, 1, 0, tables, sizeof(tables)), 0);
	assert_int_equal(mq_ctrl(m, 2, 1, 0, tables, sizeof(tables) - 1), 1);
	memcpy(tables + 10, &huge, 4);
	assert_int_equal(mq_ctrl(m, 2, 1, 0, tables, sizeof(tables)), 1);
	assert_int_equal(mq_ctrl(m, 2, 1, 1, tables, 6), 1); /* MAC_ADDR_SET: not offered */
	assert_int_equal(mq_ctrl(m, 2, 9, 0, NULL, 0), 1);   /* no such class */
	/* a command with no room for the ack, one with nothing readable */
	mq_desc(m, 2, 0, CTRLBUF, 3, 0, 0);
	mq_offer(m, 2, 0);
	mq_desc(m, 2, 0, CTRLBUF, 1, 2, 0);
	mq_offer(m, 2, 0);
	assert_int_equal(mq_used(m, 2), 12);
	/* seeded random commands */
	for (unsigned i = 0; i < 500; i++) {
		uint8_t data[64];
		uint32_t len = (uint32_t)rand_r(&seed) % sizeof(data);
		int ack;

		for (unsigned j = 0; j < len; j++)
			data[j] = (uint8_t)rand_r(&seed);
		ack = mq_ctrl(m, 2, (uint8_t)(rand_r(&seed) % 6), (uint8_t)(rand_r(&seed) % 3),
			      data, len);
		assert_true(ack == 0 || ack == 1);
	}
	assert_false(bar_r(m->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
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
		cmocka_unit_test_setup_teardown(test_rate_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_random_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_offloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_offloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_random_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mq_pairs, setup_mq, teardown_mq),
		cmocka_unit_test_setup_teardown(test_ctrl_commands, setup_mq, teardown_mq),
		cmocka_unit_test_setup_teardown(test_mq_save_load, setup_mq, teardown_mq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
