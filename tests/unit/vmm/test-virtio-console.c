/*
 * virtio-console driven through BAR0 as Linux's virtio_console would: output on the
 * transmitq reaches the output fd, terminal input fills the receiveq's buffers (held until
 * the guest posts some, bounded), and hostile rings mark the device, not crash it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/pci.h"

#include "virtio-driver.h"

#define QSIZE 8
/* receiveq rings, transmitq rings, buffers */
#define RX_DESC 0x1000
#define RX_AVAIL 0x2000
#define RX_USED 0x3000
#define TX_DESC 0x4000
#define TX_AVAIL 0x5000
#define TX_USED 0x6000
#define RXBUF 0x10000
#define TXBUF 0x20000

struct fx {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	int pipe[2];
};

static void queue_setup(struct virtio_pci_dev *v, uint16_t q, uint64_t desc, uint64_t avail,
			uint64_t used)
{
	bar_w(v, 0x16, q, 2);
	bar_w(v, 0x18, QSIZE, 2);
	bar_w(v, 0x20, desc, 8);
	bar_w(v, 0x28, avail, 8);
	bar_w(v, 0x30, used, 8);
	bar_w(v, 0x1c, 1, 2);
}

static void driver_init(struct virtio_pci_dev *v)
{
	bar_w(v, 0x14, 0, 1);
	bar_w(v, 0x14, 1 | 2, 1);
	bar_w(v, 0x08, 1, 4);
	bar_w(v, 0x0c, 1, 4); /* VIRTIO_F_VERSION_1 only: no size, no multiport */
	bar_w(v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(v, 0x14, 1) & 8);
	assert_int_equal(bar_r(v, 0x12, 2), 2); /* num_queues: receiveq, transmitq */
	queue_setup(v, 0, RX_DESC, RX_AVAIL, RX_USED);
	queue_setup(v, 1, TX_DESC, TX_AVAIL, TX_USED);
	bar_w(v, 0x14, 1 | 2 | 8 | 4, 1);
}

static void set_desc(struct fx *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, table + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Offer descriptor head on a queue's avail ring and kick it. */
static void offer(struct fx *f, uint64_t avail_gpa, uint16_t q, uint16_t head)
{
	uint16_t *avail = gmem_ptr(&f->mem, avail_gpa, 4 + 2 * QSIZE);

	avail[2 + avail[1] % QSIZE] = head;
	avail[1]++;
	bar_w(f->v, VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT, q, 2);
}

static uint16_t used_idx(struct fx *f, uint64_t used_gpa)
{
	return ((uint16_t *)gmem_ptr(&f->mem, used_gpa, 4))[1];
}

static uint32_t used_len(struct fx *f, uint64_t used_gpa, uint16_t slot)
{
	return ((uint32_t *)gmem_ptr(&f->mem, used_gpa + 4 + 8ULL * slot, 8))[1];
}

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(pipe2(f.pipe, O_NONBLOCK), 0);
	assert_int_equal(gmem_init(&f.mem, 1U << 20), 0);
	memset(gmem_ptr(&f.mem, 0, 1U << 20), 0, 1U << 20);
	f.v = virtio_console_new_test(&f.mem, f.pipe[1]);
	driver_init(f.v);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_console_free(f->v);
	gmem_release(&f->mem);
	close(f->pipe[0]);
	close(f->pipe[1]);
	return 0;
}

static void test_output(void **state)
{
	struct fx *f = *state;
	char out[64] = { 0 };

	memcpy(gmem_ptr(&f->mem, TXBUF, 16), "hello, ", 7);
	memcpy(gmem_ptr(&f->mem, TXBUF + 0x100, 16), "hvc0\n", 5);
	set_desc(f, TX_DESC, 0, TXBUF, 7, 1, 1); /* two readable buffers, chained */
	set_desc(f, TX_DESC, 1, TXBUF + 0x100, 5, 0, 0);
	offer(f, TX_AVAIL, 1, 0);
	assert_int_equal(used_idx(f, TX_USED), 1);
	assert_int_equal(used_len(f, TX_USED, 0), 0);
	assert_int_equal(read(f->pipe[0], out, sizeof(out)), 12);
	assert_string_equal(out, "hello, hvc0\n");
}

static void test_input(void **state)
{
	struct fx *f = *state;
	uint8_t *rx = gmem_ptr(&f->mem, RXBUF, 64);
	uint8_t big[VIRTIO_CONSOLE_PENDING + 100];

	/* typed before the guest posted a buffer: held */
	assert_int_equal(virtio_console_input(f->v, (const uint8_t *)"ls -l\n", 6), 6);
	assert_int_equal(used_idx(f, RX_USED), 0);
	/* a 4-byte buffer takes the first 4 bytes, the next one the rest */
	set_desc(f, RX_DESC, 0, RXBUF, 4, 2, 0);
	offer(f, RX_AVAIL, 0, 0);
	assert_int_equal(used_idx(f, RX_USED), 1);
	assert_int_equal(used_len(f, RX_USED, 0), 4);
	assert_memory_equal(rx, "ls -", 4);
	set_desc(f, RX_DESC, 1, RXBUF + 32, 32, 2, 0);
	offer(f, RX_AVAIL, 0, 1);
	assert_int_equal(used_idx(f, RX_USED), 2);
	assert_int_equal(used_len(f, RX_USED, 1), 2);
	assert_memory_equal(rx + 32, "l\n", 2);
	/* a posted buffer takes input at once */
	set_desc(f, RX_DESC, 2, RXBUF, 32, 2, 0);
	offer(f, RX_AVAIL, 0, 2);
	assert_int_equal(used_idx(f, RX_USED), 2); /* nothing to give yet */
	assert_int_equal(virtio_console_input(f->v, (const uint8_t *)"y", 1), 1);
	assert_int_equal(used_idx(f, RX_USED), 3);
	assert_int_equal(rx[0], 'y');
	/* no buffers: at most VIRTIO_CONSOLE_PENDING bytes are held */
	memset(big, 'x', sizeof(big));
	assert_int_equal(virtio_console_input(f->v, big, sizeof(big)), VIRTIO_CONSOLE_PENDING);
	assert_int_equal(virtio_console_input(f->v, big, 1), 0);
}

/* A readable buffer on the receiveq, a loop on the transmitq: the device is marked. */
static void test_hostile(void **state)
{
	struct fx *f = *state;

	set_desc(f, TX_DESC, 0, TXBUF, 4, 1, 1);
	set_desc(f, TX_DESC, 1, TXBUF, 4, 1, 0); /* 0 -> 1 -> 0 ... */
	offer(f, TX_AVAIL, 1, 0);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	driver_init(f->v); /* a reset recovers */
	assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	set_desc(f, TX_DESC, 0, 0xfffff000, 4096, 0, 0); /* outside guest RAM */
	offer(f, TX_AVAIL, 1, 0);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	driver_init(f->v);
	/* garbage to every register of BAR0 */
	for (uint64_t off = 0; off < 0x40; off++)
		bar_w(f->v, off, 0xffffffffffffffffULL, (uint32_t)(1U << (off % 4)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
