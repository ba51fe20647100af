/*
 * virtio-balloon driven through BAR0 as a guest driver would, and as a hostile one would:
 * page frame numbers outside RAM, chains longer than allowed, floods of requests, statistics
 * with absurd tags and lengths. Over a fake guest memory, so that what inflating releases can
 * be seen with mincore().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/state.h"
#include "vmm/vmm.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/pci.h"

#include "virtio-driver.h"

#define MEM (8U << 20)
#define QSIZE 128
#define PAGE 4096U
#define BUF 0x80000      /* request buffers */
#define FREE_START 0x200000 /* the pages the tests inflate: [2 MiB, 3 MiB) */
#define FREE_LEN 0x100000
#define F_STATS (1U << 1)
#define F_OOM (1U << 2)
#define F_REPORTING (1U << 5)

struct fx {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	uint16_t avail_idx[4];
};

static uint64_t qbase(unsigned q)
{
	return 0x10000ULL * (q + 1);
}

static struct fx *fx_new(const struct vm_balloon_config *cfg)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(gmem_init(&f->mem, MEM), 0);
	f->v = virtio_balloon_new_test(&f->mem, cfg);
	return f;
}

static void fx_free(struct fx *f)
{
	virtio_balloon_free(f->v);
	gmem_release(&f->mem);
	free(f);
}

/* Features (low word) as the driver acks them, then nq queues and DRIVER_OK. */
static void driver_init(struct fx *f, uint32_t feat, unsigned nq)
{
	struct virtio_pci_dev *v = f->v;

	bar_w(v, 0x14, 0, 1);
	bar_w(v, 0x14, 1 | 2, 1);
	bar_w(v, 0x08, 0, 4);
	bar_w(v, 0x0c, feat, 4);
	bar_w(v, 0x08, 1, 4);
	bar_w(v, 0x0c, 1, 4);
	bar_w(v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(v, 0x14, 1) & 8);
	for (unsigned q = 0; q < nq; q++)
		drv_queue(v, (uint16_t)q, QSIZE, (int)q + 1, qbase(q), qbase(q) + 0x1000,
			  qbase(q) + 0x2000);
	drv_ok(v);
}

static void set_desc(struct fx *f, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, qbase(q) + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Make head available on queue q (without a kick). */
static void post(struct fx *f, unsigned q, uint16_t head)
{
	uint16_t *avail = gmem_ptr(&f->mem, qbase(q) + 0x1000, 4 + 2 * QSIZE);

	avail[2 + (f->avail_idx[q] % QSIZE)] = head;
	avail[1] = ++f->avail_idx[q];
}

static void kick(struct fx *f, unsigned q)
{
	bar_w(f->v, VIRTIO_BAR_NOTIFY + q * VIRTIO_NOTIFY_MULT, q, 2);
}

static uint16_t used_idx(struct fx *f, unsigned q)
{
	return *(uint16_t *)gmem_ptr(&f->mem, qbase(q) + 0x2002, 2);
}

/* One request of n PFNs on queue q, buffer at BUF + slot * 4 KiB. */
static void pfn_request(struct fx *f, unsigned q, uint16_t slot, const uint32_t *pfns, size_t n)
{
	uint64_t buf = BUF + (uint64_t)slot * PAGE;

	assert_true(n * 4 <= PAGE);
	memcpy(gmem_ptr(&f->mem, buf, n * 4), pfns, n * 4);
	set_desc(f, q, slot, buf, (uint32_t)(n * 4), 0, 0);
	post(f, q, slot);
}

static bool resident(struct fx *f, uint64_t gpa, uint64_t len)
{
	unsigned char vec[FREE_LEN / PAGE];
	bool any = false;

	assert_true(len <= FREE_LEN);
	assert_int_equal(mincore(gmem_ptr(&f->mem, gpa, len), len, vec), 0);
	for (uint64_t i = 0; i < len / PAGE; i++)
		any |= vec[i] & 1;
	return any;
}

static void test_config_and_features(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true, .amount_mib = 3, .stats_s = 1,
					 .deflate_on_oom = true };
	struct fx *f = fx_new(&cfg);

	assert_int_equal(f->v->pci.cfg[2] | (f->v->pci.cfg[3] << 8), 0x1045); /* id 5 */
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 4), 3 * 256);          /* num_pages */
	bar_w(f->v, 0x00, 0, 4);
	assert_int_equal(bar_r(f->v, 0x04, 4), F_STATS | F_OOM); /* no reporting: not asked */
	/* the driver may write actual, nothing else */
	bar_w(f->v, VIRTIO_BAR_DEVICE + 4, 100, 4);
	bar_w(f->v, VIRTIO_BAR_DEVICE, 7, 4);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 4), 3 * 256);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE + 4, 4), 100);
	/* a feature that was not offered: FEATURES_OK does not stick */
	bar_w(f->v, 0x14, 0, 1);
	bar_w(f->v, 0x14, 3, 1);
	bar_w(f->v, 0x08, 0, 4);
	bar_w(f->v, 0x0c, F_REPORTING, 4);
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, 1, 4);
	bar_w(f->v, 0x14, 11, 1);
	assert_false(bar_r(f->v, 0x14, 1) & 8);
	fx_free(f);
}

static void test_set_target(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true };
	struct fx *f = fx_new(&cfg);
	struct balloon_info info;
	uint8_t gen;

	driver_init(f, 0, 2);
	gen = (uint8_t)bar_r(f->v, 0x15, 1);
	(void)bar_r(f->v, VIRTIO_BAR_ISR, 1);
	assert_int_equal(virtio_balloon_set_target(f->v, 512), 0);
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_DEVICE, 4), 512);
	assert_int_equal((uint8_t)bar_r(f->v, 0x15, 1), (uint8_t)(gen + 1)); /* config_generation */
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_ISR, 1), 2); /* the config-change interrupt */
	assert_int_equal(virtio_balloon_set_target(f->v, MEM / PAGE + 1), -ERANGE);
	assert_int_equal(virtio_balloon_set_target(f->v, UINT64_MAX), -ERANGE);
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.target_pages, 512);
	fx_free(f);
}

/* Inflating gives the pages back to the host: no longer resident, zero when touched again. */
static void test_inflate_releases_memory(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true };
	struct fx *f = fx_new(&cfg);
	uint32_t pfns[256];
	struct balloon_info info;

	driver_init(f, 0, 2);
	memset(gmem_ptr(&f->mem, FREE_START, FREE_LEN), 0xab, FREE_LEN);
	assert_true(resident(f, FREE_START, FREE_LEN));
	for (unsigned i = 0; i < 256; i++) /* in reverse: runs are found either way */
		pfns[i] = (FREE_START / PAGE) + 255 - i;
	pfn_request(f, 0, 0, pfns, 256);
	kick(f, 0);
	assert_int_equal(used_idx(f, 0), 1);
	assert_false(resident(f, FREE_START, FREE_LEN));
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->mem, FREE_START + 5 * PAGE, 1), 0);
	/* the pages around are untouched */
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->mem, FREE_START - 1, 1), 0);
	/* deflate is accounting only */
	pfn_request(f, 1, 0, pfns, 16);
	kick(f, 1);
	assert_int_equal(used_idx(f, 1), 1);
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.inflated, 256);
	assert_int_equal(info.deflated, 16);
	assert_int_equal(info.bad_pfns, 0);
	fx_free(f);
}

/* PFNs outside RAM, from seeded random values, are ignored and counted, never followed. */
static void test_bad_pfns(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true };
	struct fx *f = fx_new(&cfg);
	uint32_t pfns[512];
	struct balloon_info info;
	unsigned bad = 0;

	srandom(16);
	driver_init(f, 0, 2);
	for (unsigned i = 0; i < 512; i++) {
		pfns[i] = (uint32_t)random() | (i & 1 ? 0x80000000U : 0);
		if (i % 7 == 0)
			pfns[i] = UINT32_MAX;
		if (i % 11 == 0)
			pfns[i] = MEM / PAGE; /* just past the end */
		bad += pfns[i] >= MEM / PAGE;
	}
	memset(gmem_ptr(&f->mem, 0, MEM), 0x5a, MEM);
	pfn_request(f, 0, 0, pfns, 512);
	kick(f, 0);
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.bad_pfns, bad);
	assert_int_equal(info.inflated, 512 - bad);
	assert_int_equal(used_idx(f, 0), 1);
	assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	fx_free(f);
}

/* A chain longer than allowed, and a buffer outside RAM: the queue breaks, nothing else. */
static void test_hostile_chains(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true };
	struct fx *f = fx_new(&cfg);
	struct balloon_info info;

	driver_init(f, 0, 2);
	/* one descriptor covering 4 MiB of RAM: at most 1024 PFNs are read from it */
	memset(gmem_ptr(&f->mem, 0x400000, 0x400000), 0xff, 0x400000);
	set_desc(f, 0, 0, 0x400000, 0x400000, 0, 0);
	post(f, 0, 0);
	kick(f, 0);
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.bad_pfns, 1024);
	/* a loop of 100 descriptors */
	for (uint16_t i = 0; i < 100; i++)
		set_desc(f, 0, i, BUF, 4, 1, (uint16_t)((i + 1) % 100));
	post(f, 0, 0);
	kick(f, 0);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* the other queue: a buffer reaching past RAM */
	set_desc(f, 1, 0, MEM - 4, 8, 0, 0);
	post(f, 1, 0);
	kick(f, 1);
	assert_int_equal(used_idx(f, 1), 0);
	/* a kick of a queue that does not exist, and of a huge index */
	kick(f, 3);
	bar_w(f->v, VIRTIO_BAR_NOTIFY + 0xffc, 0, 2);
	fx_free(f);
}

/* A flood: a full ring in one kick is served a bounded batch at a time. */
static void test_flood_is_bounded(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true };
	struct fx *f = fx_new(&cfg);
	uint32_t pfn = FREE_START / PAGE;
	unsigned kicks = 0;

	driver_init(f, 0, 2);
	for (uint16_t i = 0; i < QSIZE; i++)
		pfn_request(f, 0, i, &pfn, 1);
	kick(f, 0);
	assert_true(used_idx(f, 0) > 0 && used_idx(f, 0) < QSIZE);
	while (used_idx(f, 0) < QSIZE && kicks++ < QSIZE)
		kick(f, 0);
	assert_int_equal(used_idx(f, 0), QSIZE);
	fx_free(f);
}

/* Statistics: tags out of range and a ragged length; the device keeps the buffer. */
static void test_stats(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true, .stats_s = 1 };
	struct fx *f = fx_new(&cfg);
	uint8_t *buf = gmem_ptr(&f->mem, BUF, 64);
	struct balloon_info info;
	const struct { uint16_t tag; uint64_t val; } in[] = {
		{ 4, 123456 }, { 0xffff, 1 }, { 10, 2 }, { 5, 999 }, { 6, 77 },
	};

	driver_init(f, F_STATS, 3);
	/* Linux's first buffer comes with a kick before DRIVER_OK: the next tick takes it */
	set_desc(f, 2, 3, BUF, 10, 0, 0);
	memcpy(buf, &in[0].tag, 2);
	memcpy(buf + 2, &in[0].val, 8);
	post(f, 2, 3);
	virtio_balloon_stats_request(f->v);
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.set, 1U << 4);
	virtio_balloon_stats_request(f->v); /* and gives it back at the next */
	assert_int_equal(used_idx(f, 2), 1);
	for (unsigned i = 0; i < 5; i++) {
		memcpy(buf + 10 * i, &in[i].tag, 2);
		memcpy(buf + 10 * i + 2, &in[i].val, 8);
	}
	/* 45 bytes: four whole entries and half of the fifth */
	set_desc(f, 2, 0, BUF, 45, 0, 0);
	post(f, 2, 0);
	kick(f, 2);
	assert_int_equal(used_idx(f, 2), 1); /* held */
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.set, (1U << 4) | (1U << 5));
	assert_int_equal(info.stat[BALLOON_S_MEMFREE], 123456);
	assert_int_equal(info.stat[BALLOON_S_MEMTOT], 999);
	virtio_balloon_stats_request(f->v);
	assert_int_equal(used_idx(f, 2), 2); /* given back for fresh numbers */
	virtio_balloon_stats_request(f->v);
	assert_int_equal(used_idx(f, 2), 2); /* nothing held nor posted: nothing to give */
	/* a statistics buffer of 0 bytes, then one of 64 KiB: both held, bounded parsing */
	set_desc(f, 2, 1, BUF, 0, 0, 0);
	post(f, 2, 1);
	set_desc(f, 2, 2, 0x400000, 0x10000, 0, 0);
	post(f, 2, 2);
	kick(f, 2);
	assert_int_equal(used_idx(f, 2), 3); /* the first went back when the second came */
	assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	fx_free(f);
}

/* Free page reporting: reported ranges are released; its queue follows statsq's absence. */
static void test_free_page_reporting(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true, .free_page_reporting = true };
	struct fx *f = fx_new(&cfg);
	struct balloon_info info;

	driver_init(f, F_REPORTING, 3); /* no statsq: reporting_vq is queue 2 */
	memset(gmem_ptr(&f->mem, FREE_START, FREE_LEN), 0xcd, FREE_LEN);
	set_desc(f, 2, 0, FREE_START, FREE_LEN / 2, 2 | 1, 1);
	set_desc(f, 2, 1, FREE_START + FREE_LEN / 2 + 100, FREE_LEN / 2 - 100, 2, 0);
	post(f, 2, 0);
	kick(f, 2);
	assert_int_equal(used_idx(f, 2), 1);
	assert_false(resident(f, FREE_START, FREE_LEN / 2));
	/* the partial first page of the second range stays */
	assert_int_equal(*(uint8_t *)gmem_ptr(&f->mem, FREE_START + FREE_LEN / 2, 1), 0xcd);
	virtio_balloon_info(f->v, &info);
	assert_int_equal(info.reported, FREE_LEN - PAGE);
	fx_free(f);
}

static void test_save_load(void **state)
{
	struct vm_balloon_config cfg = { .enabled = true, .amount_mib = 1, .stats_s = 5 };
	struct fx *a = fx_new(&cfg), *b;
	struct state_writer w;
	struct state_reader r, sec;
	struct balloon_info info;
	uint32_t id, idx;

	driver_init(a, F_STATS, 3);
	bar_w(a->v, VIRTIO_BAR_DEVICE + 4, 200, 4);
	assert_int_equal(virtio_balloon_set_target(a->v, 300), 0);
	state_writer_init(&w);
	state_begin(&w, 0x13, 0);
	virtio_balloon_save(a->v, &w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	cfg.amount_mib = 0;
	b = fx_new(&cfg);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	assert_int_equal(virtio_balloon_load(b->v, &sec), 0);
	virtio_balloon_info(b->v, &info);
	assert_int_equal(info.target_pages, 300);
	assert_int_equal(info.actual_pages, 200);
	assert_int_equal(bar_r(b->v, VIRTIO_BAR_DEVICE, 4), 300);
	/* a truncated section changes nothing */
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	sec.len -= 3;
	assert_int_equal(virtio_balloon_load(b->v, &sec), -EBADMSG);
	state_writer_release(&w);
	fx_free(a);
	fx_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_features),
		cmocka_unit_test(test_set_target),
		cmocka_unit_test(test_inflate_releases_memory),
		cmocka_unit_test(test_bad_pfns),
		cmocka_unit_test(test_hostile_chains),
		cmocka_unit_test(test_flood_is_bounded),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_free_page_reporting),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
