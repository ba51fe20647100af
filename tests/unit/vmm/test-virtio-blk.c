/*
 * virtio-blk and the virtio-pci transport, driven like a guest driver would (and like a
 * hostile one would) through BAR0 accesses, over a fake guest memory and a temporary raw file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/disk.h"
#include "disk/img.h"
#include "vmm/memory.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/rng.h"

#include "virtio-driver.h"

#define QSIZE 16

struct fx {
	char path[64];
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	uint16_t avail_idx;
};

/* What Linux's virtio_pci_modern does, in order (virtio 1.2, 3.1.1). */
static void driver_init(struct virtio_pci_dev *v, uint16_t qsize)
{
	bar_w(v, 0x14, 0, 1);         /* reset */
	drv_features(v);
	bar_w(v, 0x16, 0, 2); /* queue_select 0 */
	bar_w(v, 0x18, qsize, 2);
	bar_w(v, 0x20, DESC, 4);
	bar_w(v, 0x24, 0, 4);
	bar_w(v, 0x28, AVAIL, 4);
	bar_w(v, 0x2c, 0, 4);
	bar_w(v, 0x30, USED, 8);
	bar_w(v, 0x1c, 1, 2); /* enable */
	drv_ok(v);
}

static int setup(void **state)
{
	static struct fx f;
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	char buf[4096];
	int fd;

	memset(&f, 0, sizeof(f));
	strcpy(f.path, "/tmp/hull-test-vblk-XXXXXX");
	fd = mkstemp(f.path);
	assert_true(fd >= 0);
	for (int i = 0; i < 256; i++) { /* 1 MiB: sector n starts with its number */
		memset(buf, 0, sizeof(buf));
		for (int s = 0; s < 8; s++)
			(void)snprintf(buf + s * 512, 512, "sector %d", i * 8 + s);
		assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	}
	close(fd);
	assert_int_equal(disk_open(f.path, DISK_FORMAT_RAW, 0, &d, &err), 0);
	assert_int_equal(gmem_init(&f.mem, 1U << 20), 0);
	f.v = virtio_blk_new_test(&f.mem, d, "serial-123");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_blk_free(f->v);
	gmem_release(&f->mem);
	unlink(f->path);
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

/* One request: header, data (len bytes, write=device-writable), status; kick; status byte. */
static int request(struct fx *f, uint32_t type, uint64_t sector, uint32_t len, bool dev_writes)
{
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 4 + 2 * QSIZE);
	uint8_t *hdr = gmem_ptr(&f->mem, HDR, 16);
	uint8_t *status = gmem_ptr(&f->mem, STATUS, 1);

	memset(hdr, 0, 16);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	*status = 0xee;
	set_desc(f, 0, HDR, 16, 1, 1);
	if (len) {
		set_desc(f, 1, DATA, len, (uint16_t)(1 | (dev_writes ? 2 : 0)), 2);
		set_desc(f, 2, STATUS, 1, 2, 0);
	} else {
		set_desc(f, 0, HDR, 16, 1, 2);
		set_desc(f, 2, STATUS, 1, 2, 0);
	}
	avail[2 + (f->avail_idx % QSIZE)] = 0;
	avail[1] = ++f->avail_idx;
	bar_w(f->v, VIRTIO_BAR_NOTIFY, 0, 2); /* kick queue 0 */
	return *status;
}

static void test_config_space(void **state)
{
	struct fx *f = *state;

	assert_int_equal(f->v->pci.cfg[0], 0xf4); /* vendor 0x1af4 */
	assert_int_equal(f->v->pci.cfg[2] | (f->v->pci.cfg[3] << 8), 0x1042);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 8), 2048); /* capacity in sectors */
	assert_int_equal(bar_r(f->v, 0x12, 2), 1);                 /* num_queues */
	/* feature bits: VERSION_1 in the high word, FLUSH in the low one */
	bar_w(f->v, 0x00, 1, 4);
	assert_int_equal(bar_r(f->v, 0x04, 4), 1);
	bar_w(f->v, 0x00, 0, 4);
	assert_true(bar_r(f->v, 0x04, 4) & (1U << 9));
}

static void test_read_write_flush_id(void **state)
{
	struct fx *f = *state;
	char *data = gmem_ptr(&f->mem, DATA, 4096);

	driver_init(f->v, QSIZE);
	assert_int_equal(request(f, 0, 5, 1024, true), 0); /* IN sectors 5, 6 */
	assert_string_equal(data, "sector 5");
	assert_string_equal(data + 512, "sector 6");
	memset(data, 0, 512);
	strcpy(data, "new content");
	assert_int_equal(request(f, 1, 7, 512, false), 0); /* OUT */
	memset(data, 0, 512);
	assert_int_equal(request(f, 0, 7, 512, true), 0);
	assert_string_equal(data, "new content");
	assert_int_equal(request(f, 4, 0, 0, false), 0); /* FLUSH */
	memset(data, 0, 64);
	assert_int_equal(request(f, 8, 0, 20, true), 0); /* GET_ID */
	assert_string_equal(data, "serial-123");
	assert_int_equal(request(f, 99, 0, 512, true), 2); /* unknown type: UNSUPP */
}

static void test_out_of_range_is_ioerr(void **state)
{
	struct fx *f = *state;
	uint16_t *used = gmem_ptr(&f->mem, USED, 4);

	driver_init(f->v, QSIZE);
	assert_int_equal(request(f, 0, 2048, 512, true), 1); /* just past the end */
	assert_int_equal(request(f, 0, UINT64_MAX / 2, 512, true), 1); /* sector << 9 overflows */
	assert_int_equal(request(f, 0, 0, 100, true), 1); /* not a whole sector */
	assert_int_equal(used[1], 3); /* each one completed */
	assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_discard(void **state)
{
	struct fx *f = *state;
	uint8_t *seg = gmem_ptr(&f->mem, DATA, 16);
	uint64_t sector = 8;
	uint32_t count = 8, fl = 0;
	char *data = gmem_ptr(&f->mem, DATA, 4096);

	driver_init(f->v, QSIZE);
	memcpy(seg, &sector, 8);
	memcpy(seg + 8, &count, 4);
	memcpy(seg + 12, &fl, 4);
	assert_int_equal(request(f, 11, 0, 16, false), 0);
	memset(data, 0x55, 512);
	assert_int_equal(request(f, 0, 9, 512, true), 0);
	assert_int_equal(data[0], 0); /* a punched hole reads as zeroes */
}

static void test_hostile_queue_size(void **state)
{
	struct fx *f = *state;

	bar_w(f->v, 0x14, 0, 1);
	bar_w(f->v, 0x14, 3, 1);
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, 1, 4);
	bar_w(f->v, 0x14, 11, 1);
	bar_w(f->v, 0x18, 40000, 2); /* absurd size */
	bar_w(f->v, 0x20, DESC, 4);
	bar_w(f->v, 0x28, AVAIL, 4);
	bar_w(f->v, 0x30, USED, 4);
	bar_w(f->v, 0x1c, 1, 2);
	assert_int_equal(bar_r(f->v, 0x1c, 2), 0); /* not enabled */
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset clears the error. */
	bar_w(f->v, 0x14, 0, 1);
	assert_int_equal(bar_r(f->v, 0x14, 1), 0);
}

static void test_hostile_chain_marks_device(void **state)
{
	struct fx *f = *state;
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 8);

	driver_init(f->v, QSIZE);
	set_desc(f, 0, HDR, 16, 1, 1);
	set_desc(f, 1, DATA, 512, 1, 0); /* loops back to 0 */
	avail[2] = 0;
	avail[1] = 1;
	bar_w(f->v, VIRTIO_BAR_NOTIFY, 0, 2);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* Further kicks are ignored, not crashes. */
	bar_w(f->v, VIRTIO_BAR_NOTIFY, 0, 2);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + 400, 0, 2); /* a queue that does not exist */
}

static void test_features_refused(void **state)
{
	struct fx *f = *state;

	bar_w(f->v, 0x14, 0, 1);
	bar_w(f->v, 0x14, 3, 1);
	bar_w(f->v, 0x08, 0, 4);
	bar_w(f->v, 0x0c, 1U << 28, 4); /* a feature never offered (INDIRECT_DESC) */
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, 1, 4);
	bar_w(f->v, 0x14, 11, 1);
	assert_false(bar_r(f->v, 0x14, 1) & 8); /* FEATURES_OK did not stick */
}

static void test_garbage_registers(void **state)
{
	struct fx *f = *state;

	/* Writes of every width to every offset of the BAR: nothing may crash. */
	for (uint64_t off = 0; off < VIRTIO_BAR_SIZE; off += 1)
		for (uint32_t len = 1; len <= 8; len *= 2)
			if (off + len <= VIRTIO_BAR_SIZE) {
				bar_w(f->v, off, 0xdeadbeefcafef00dULL, len);
				(void)bar_r(f->v, off, len);
			}
}

static void test_rng(void **state)
{
	struct fx *f = *state;
	struct virtio_pci_dev *r = virtio_rng_new_test(&f->mem);
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 8);
	uint32_t *used = gmem_ptr(&f->mem, USED, 16);
	uint8_t *data = gmem_ptr(&f->mem, DATA, 64);
	uint8_t zero[64] = { 0 };

	memset(data, 0, 64);
	driver_init(r, QSIZE);
	set_desc(f, 0, DATA, 64, 2, 0);
	avail[2] = 0;
	avail[1] = 1;
	bar_w(r, VIRTIO_BAR_NOTIFY, 0, 2);
	assert_int_equal(used[2], 64);
	assert_memory_not_equal(data, zero, 64);
	virtio_rng_free(r);
}

/*
 * A raw file grown on the host (truncate -s): a rescan announces the new capacity with a bumped
 * config_generation and the config-change ISR bit, and the new sectors can be read; shrunk
 * again, the capacity follows; an unchanged size sends nothing.
 */
static void test_rescan_grown_file(void **state)
{
	struct fx *f = *state;
	uint64_t size = 0;
	uint8_t gen;

	driver_init(f->v, QSIZE);
	gen = (uint8_t)bar_r(f->v, 0x15, 1);
	assert_int_equal(request(f, 0, 3000, 512, true), 1); /* past the 1 MiB end */
	(void)bar_r(f->v, VIRTIO_BAR_ISR, 1);
	assert_int_equal(truncate(f->path, 2U << 20), 0);
	assert_int_equal(virtio_blk_rescan(f->v, &size), 0);
	assert_int_equal(size, 2U << 20);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 8), 4096);
	assert_int_equal((uint8_t)bar_r(f->v, 0x15, 1), (uint8_t)(gen + 1));
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_ISR, 1), 2);
	assert_int_equal(request(f, 0, 3000, 512, true), 0);
	(void)bar_r(f->v, VIRTIO_BAR_ISR, 1);
	assert_int_equal(virtio_blk_rescan(f->v, &size), 0); /* unchanged: no interrupt */
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_ISR, 1), 0);
	assert_int_equal((uint8_t)bar_r(f->v, 0x15, 1), (uint8_t)(gen + 1));
	assert_int_equal(truncate(f->path, 1U << 20), 0);
	assert_int_equal(virtio_blk_rescan(f->v, &size), 0);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 8), 2048);
	assert_int_equal(request(f, 0, 3000, 512, true), 1);
}

/* Growing through the device: the raw file grows, the guest is told; never shrinks. */
static void test_grow_raw(void **state)
{
	struct fx *f = *state;
	struct hull_err err = { 0 };
	struct stat st;

	driver_init(f->v, QSIZE);
	(void)bar_r(f->v, VIRTIO_BAR_ISR, 1);
	assert_int_equal(virtio_blk_grow(f->v, 3U << 20, &err), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, 3U << 20);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 8), 6144);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_ISR, 1), 2);
	assert_int_equal(request(f, 0, 6143, 512, true), 0);
	assert_int_equal(virtio_blk_grow(f->v, 1U << 20, &err), -EINVAL); /* no shrinking */
	assert_non_null(strstr(err.msg, "only grows"));
	assert_int_equal(virtio_blk_grow(f->v, (4U << 20) + 100, &err), -EINVAL);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 8), 6144);
}

/* A QCOW2 image the device holds open grows (its header), stays consistent, keeps data. */
static void test_grow_qcow2(void **state)
{
	char path[] = "/tmp/hull-test-vblk-qcow2-XXXXXX";
	struct disk_create_opts o = { .format = DISK_FORMAT_QCOW2, .size = 1U << 20 };
	struct hull_err err = { 0 };
	struct img_check_report rep;
	struct guest_mem mem;
	struct disk *d = NULL;
	struct virtio_pci_dev *v;
	char buf[512] = "before the resize";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(disk_create(path, &o, &err), 0);
	assert_int_equal(disk_open(path, DISK_FORMAT_QCOW2, 0, &d, &err), 0);
	assert_int_equal(disk_write(d, 512, buf, sizeof(buf)), 0);
	assert_int_equal(gmem_init(&mem, 1U << 20), 0);
	v = virtio_blk_new_test(&mem, d, NULL);
	assert_int_equal(virtio_blk_grow(v, 64U << 20, &err), 0);
	assert_int_equal(bar_r(v, VIRTIO_BAR_DEVICE, 8), (64U << 20) / 512);
	assert_int_equal(disk_write(d, (64U << 20) - 512, buf, sizeof(buf)), 0);
	virtio_blk_free(v);
	gmem_release(&mem);
	memset(&rep, 0, sizeof(rep));
	assert_int_equal(img_check(path, DISK_FORMAT_QCOW2, NULL, &rep, &err), 0);
	assert_int_equal(rep.corruptions + rep.leaks, 0);
	assert_int_equal(disk_open(path, DISK_FORMAT_QCOW2, DISK_OPEN_RDONLY, &d, &err), 0);
	assert_int_equal(disk_size(d), 64U << 20);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(disk_read(d, (64U << 20) - 512, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "before the resize");
	assert_int_equal(disk_read(d, 512, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "before the resize");
	disk_close(d);
	unlink(path);
}

/*
 * A migration's stop-and-copy (migrate-disks.c): detached, the disk is flushed and its image
 * lock given up (another open for writing succeeds), and a request the guest queues waits in
 * the ring; attach fails while another process holds the image, and once it is free again
 * takes the lock back and serves the request that waited (what was written meanwhile read).
 */
static void test_detach_attach(void **state)
{
	struct fx *f = *state;
	struct hull_err err = { 0 };
	char *data = gmem_ptr(&f->mem, DATA, 4096);
	uint8_t *status = gmem_ptr(&f->mem, STATUS, 1);
	uint16_t *used = gmem_ptr(&f->mem, USED, 4);
	struct disk *d = NULL;

	driver_init(f->v, QSIZE);
	assert_int_equal(disk_open(f->path, DISK_FORMAT_RAW, 0, &d, &err), -EBUSY);
	assert_int_equal(virtio_blk_detach(f->v, &err), 0);
	assert_false(virtio_blk_attached(f->v));
	assert_int_equal(disk_open(f->path, DISK_FORMAT_RAW, 0, &d, &err), 0);
	memset(data, 0, 512);
	assert_int_equal(request(f, 0, 9, 512, true), 0xee); /* waits: detached */
	assert_int_equal(used[1], 0);
	strcpy(data + 1024, "written while detached");
	assert_int_equal(disk_write(d, 9 * 512, data + 1024, 512), 0);

	assert_int_equal(virtio_blk_attach(f->v, NULL, &err), -EBUSY); /* d holds it */
	assert_non_null(strstr(err.msg, "another process"));
	assert_false(virtio_blk_attached(f->v));
	assert_int_equal(*status, 0xee);
	disk_close(d);

	assert_int_equal(virtio_blk_attach(f->v, NULL, &err), 0);
	assert_true(virtio_blk_attached(f->v));
	assert_int_equal(*status, 0);
	assert_int_equal(used[1], 1);
	assert_string_equal(data, "written while detached");
	assert_int_equal(disk_open(f->path, DISK_FORMAT_RAW, 0, &d, &err), -EBUSY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_flush_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range_is_ioerr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_queue_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chain_marks_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rescan_grown_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grow_raw, setup, teardown),
		cmocka_unit_test(test_grow_qcow2),
		cmocka_unit_test_setup_teardown(test_detach_attach, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
