/*
 * virtio-mem driven through BAR0 as a guest driver would, and as a hostile one would:
 * misaligned, out-of-range, overflowing, overlapping requests, unplug of unplugged blocks,
 * absurd block counts, short buffers, floods; a seeded random sequence checked against a
 * model of the bitmap; save/load with corrupted streams. Over a fake guest memory with a
 * hotplug region, so that what unplugging releases can be seen with mincore().
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
#include "vmm/virtio/mem.h"
#include "vmm/virtio/pci.h"

#include "virtio-driver.h"

#define MEM (8U << 20)
#define REGION ((uint64_t)64 << 20)
#define BS ((uint64_t)2 << 20)
#define NBLOCKS (REGION / BS)
#define QSIZE 128
#define QBASE 0x10000 /* desc, avail +0x1000, used +0x2000 */
#define REQ 0x40000   /* request slot i at REQ + 32 * i */
#define RESP 0x60000  /* its response at RESP + 16 * i */

enum { PLUG, UNPLUG, UNPLUG_ALL, STATE };
enum { ACK, NACK, BUSY, ERROR };
enum { S_PLUGGED, S_UNPLUGGED, S_MIXED };

struct fx {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	uint16_t avail_idx;
	uint64_t base; /* the region's guest address */
};

static struct fx *fx_new(uint64_t block)
{
	struct vm_mem_hotplug_config cfg = { .size = REGION, .block_size = block };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(gmem_init(&f->mem, MEM), 0);
	assert_int_equal(gmem_hotplug_init(&f->mem, REGION), 0);
	f->base = f->mem.hp_gpa;
	f->v = virtio_mem_new_test(&f->mem, &cfg);
	return f;
}

static void fx_free(struct fx *f)
{
	virtio_mem_free(f->v);
	gmem_release(&f->mem);
	free(f);
}

static void driver_init(struct fx *f)
{
	bar_w(f->v, 0x14, 0, 1);
	memset(gmem_ptr(&f->mem, QBASE, 0x3000), 0, 0x3000); /* fresh rings */
	drv_features(f->v);
	drv_queue(f->v, 0, QSIZE, 1, QBASE, QBASE + 0x1000, QBASE + 0x2000);
	drv_ok(f->v);
	f->avail_idx = 0;
}

static uint64_t cfg64(struct fx *f, unsigned off)
{
	return bar_r(f->v, VIRTIO_BAR_DEVICE + off, 4) |
	       bar_r(f->v, VIRTIO_BAR_DEVICE + off + 4, 4) << 32;
}

#define PLUGGED_SIZE(f) cfg64(f, 40)
#define REQUESTED_SIZE(f) cfg64(f, 48)

static void set_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, QBASE + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void post(struct fx *f, uint16_t head)
{
	uint16_t *avail = gmem_ptr(&f->mem, QBASE + 0x1000, 4 + 2 * QSIZE);

	avail[2 + (f->avail_idx % QSIZE)] = head;
	avail[1] = ++f->avail_idx;
}

static void kick(struct fx *f)
{
	bar_w(f->v, VIRTIO_BAR_NOTIFY, 0, 2);
}

static uint16_t used_idx(struct fx *f)
{
	return *(uint16_t *)gmem_ptr(&f->mem, QBASE + 0x2002, 2);
}

/* Post request slot (0..63): its type, addr, nb_blocks; req_len/resp_len of the buffers. */
static void post_req_len(struct fx *f, uint16_t slot, uint16_t type, uint64_t addr, uint16_t nb,
			 uint32_t req_len, uint32_t resp_len)
{
	uint8_t *q = gmem_ptr(&f->mem, REQ + 32ULL * slot, 24);

	memset(q, 0, 24);
	memcpy(q, &type, 2);
	memcpy(q + 8, &addr, 8);
	memcpy(q + 16, &nb, 2);
	memset(gmem_ptr(&f->mem, RESP + 16ULL * slot, 16), 0xee, 16);
	set_desc(f, (uint16_t)(2 * slot), REQ + 32ULL * slot, req_len, 1, (uint16_t)(2 * slot + 1));
	set_desc(f, (uint16_t)(2 * slot + 1), RESP + 16ULL * slot, resp_len, 2, 0);
	post(f, (uint16_t)(2 * slot));
}

static void post_req(struct fx *f, uint16_t slot, uint16_t type, uint64_t addr, uint16_t nb)
{
	post_req_len(f, slot, type, addr, nb, 24, 10);
}

static uint16_t resp_type(struct fx *f, uint16_t slot)
{
	return *(uint16_t *)gmem_ptr(&f->mem, RESP + 16ULL * slot, 2);
}

static uint16_t resp_state(struct fx *f, uint16_t slot)
{
	return *(uint16_t *)gmem_ptr(&f->mem, RESP + 16ULL * slot + 8, 2);
}

/* One request, kicked and answered: the response type (and *state). */
static uint16_t request(struct fx *f, uint16_t type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	uint16_t before = used_idx(f);

	post_req(f, 0, type, addr, nb);
	kick(f);
	assert_int_equal(used_idx(f), (uint16_t)(before + 1));
	if (state)
		*state = resp_state(f, 0);
	return resp_type(f, 0);
}

static bool resident(struct fx *f, uint64_t gpa, uint64_t len)
{
	unsigned char vec[(16U << 20) / 4096];
	bool any = false;

	assert_true(len <= sizeof(vec) * 4096);
	assert_int_equal(mincore(gmem_ptr(&f->mem, gpa, len), len, vec), 0);
	for (uint64_t i = 0; i < len / 4096; i++)
		any |= vec[i] & 1;
	return any;
}

static void test_config(void **state)
{
	struct fx *f = fx_new(0);

	assert_int_equal(f->v->pci.cfg[2] | (f->v->pci.cfg[3] << 8), 0x1058); /* id 24 */
	assert_true(f->base >= GMEM_HIGH_START && f->base % (1ULL << 30) == 0);
	assert_int_equal(cfg64(f, 0), BS);
	assert_int_equal(cfg64(f, 16), f->base);
	assert_int_equal(cfg64(f, 24), REGION);
	assert_int_equal(cfg64(f, 32), REGION);
	assert_int_equal(PLUGGED_SIZE(f), 0);
	assert_int_equal(REQUESTED_SIZE(f), 0);
	/* the configuration is the device's: a driver's writes change nothing */
	bar_w(f->v, VIRTIO_BAR_DEVICE + 40, 0x12345678, 4);
	bar_w(f->v, VIRTIO_BAR_DEVICE + 48, 0x12345678, 4);
	assert_int_equal(PLUGGED_SIZE(f), 0);
	assert_int_equal(REQUESTED_SIZE(f), 0);
	/* hotplugged memory is guest memory to the devices, and nothing past it */
	assert_non_null(gmem_ptr(&f->mem, f->base, REGION));
	assert_null(gmem_ptr(&f->mem, f->base, REGION + 1));
	assert_null(gmem_ptr(&f->mem, f->base + REGION, 1));
	assert_null(gmem_ptr(&f->mem, f->base - 1, 2));
	fx_free(f);
}

static void test_set_requested(void **state)
{
	struct fx *f = fx_new(0);
	struct vmem_info info;
	uint8_t gen;

	driver_init(f);
	gen = (uint8_t)bar_r(f->v, 0x15, 1);
	(void)bar_r(f->v, VIRTIO_BAR_ISR, 1);
	assert_int_equal(virtio_mem_set_requested(f->v, 8 * BS), 0);
	assert_int_equal(REQUESTED_SIZE(f), 8 * BS);
	assert_int_equal((uint8_t)bar_r(f->v, 0x15, 1), (uint8_t)(gen + 1));
	assert_int_equal(bar_r(f->v, VIRTIO_BAR_ISR, 1), 2); /* the config-change interrupt */
	assert_int_equal(virtio_mem_set_requested(f->v, REGION + BS), -ERANGE);
	assert_int_equal(virtio_mem_set_requested(f->v, UINT64_MAX), -ERANGE);
	assert_int_equal(virtio_mem_set_requested(f->v, BS + 4096), -EINVAL);
	virtio_mem_info(f->v, &info);
	assert_int_equal(info.requested_size, 8 * BS);
	assert_int_equal(REQUESTED_SIZE(f), 8 * BS);
	fx_free(f);
}

/* Plug within requested_size, NACK beyond; unplug gives the pages back to the host. */
static void test_plug_unplug(void **state)
{
	struct fx *f = fx_new(0);
	uint16_t st;
	uint8_t *p;

	driver_init(f);
	assert_int_equal(request(f, PLUG, f->base, 1, NULL), NACK); /* nothing requested */
	assert_int_equal(virtio_mem_set_requested(f->v, 4 * BS), 0);
	assert_int_equal(request(f, PLUG, f->base + 2 * BS, 4, NULL), ACK);
	assert_int_equal(PLUGGED_SIZE(f), 4 * BS);
	assert_int_equal(request(f, PLUG, f->base, 1, NULL), NACK); /* above requested */
	assert_int_equal(request(f, STATE, f->base + 2 * BS, 4, &st), ACK);
	assert_int_equal(st, S_PLUGGED);
	assert_int_equal(request(f, STATE, f->base, 2, &st), ACK);
	assert_int_equal(st, S_UNPLUGGED);
	assert_int_equal(request(f, STATE, f->base + BS, 2, &st), ACK);
	assert_int_equal(st, S_MIXED);
	/* the guest uses it; unplugging releases it (the host's RSS falls) and it reads 0 */
	p = gmem_ptr(&f->mem, f->base + 2 * BS, 4 * BS);
	memset(p, 0xab, 4 * BS);
	assert_true(resident(f, f->base + 2 * BS, 4 * BS));
	assert_int_equal(virtio_mem_set_requested(f->v, 2 * BS), 0);
	assert_int_equal(request(f, UNPLUG, f->base + 4 * BS, 2, NULL), ACK);
	assert_int_equal(PLUGGED_SIZE(f), 2 * BS);
	assert_false(resident(f, f->base + 4 * BS, 2 * BS));
	assert_true(resident(f, f->base + 2 * BS, 2 * BS));
	assert_int_equal(p[0], 0xab);
	/* requested below plugged: a PLUG is refused until the guest unplugs */
	assert_int_equal(virtio_mem_set_requested(f->v, 0), 0);
	assert_int_equal(request(f, PLUG, f->base, 1, NULL), NACK);
	assert_int_equal(request(f, UNPLUG_ALL, 0, 0, NULL), ACK);
	assert_int_equal(PLUGGED_SIZE(f), 0);
	assert_false(resident(f, f->base, 8 * BS));
	assert_int_equal(p[0], 0); /* (a read maps the zero page: after the mincore checks) */
	assert_int_equal(p[2 * BS], 0);
	fx_free(f);
}

/* Every bad range is an ERROR that changes nothing. */
static void test_hostile_ranges(void **state)
{
	struct fx *f = fx_new(0);
	const struct {
		uint16_t type;
		uint64_t addr;
		uint16_t nb;
	} bad[] = {
		{ PLUG, 1, 1 },                                  /* below the region */
		{ PLUG, f->base + 4096, 1 },                     /* misaligned */
		{ PLUG, f->base + BS - 1, 1 },
		{ PLUG, f->base, 0 },                            /* no blocks */
		{ PLUG, f->base + REGION, 1 },                   /* just past the end */
		{ PLUG, f->base + REGION - BS, 2 },              /* runs past the end */
		{ PLUG, f->base, 0xffff },                       /* absurd count */
		{ PLUG, UINT64_MAX - BS + 1, 0xffff },           /* addr + size overflows */
		{ PLUG, f->base + (UINT64_MAX / BS) * BS, 1 },
		{ UNPLUG, f->base + 8 * BS, 1 },                 /* unplug of unplugged */
		{ UNPLUG, f->base + 2 * BS, 2 },                 /* partly unplugged */
		{ PLUG, f->base + 3 * BS, 1 },                   /* overlaps the plugged one */
		{ PLUG, f->base + 2 * BS, 2 },
		{ STATE, f->base + REGION - BS, 2 },
		{ STATE, f->base, 0 },
		{ 4, f->base, 1 },                               /* unknown types */
		{ 0xffff, f->base, 1 },
	};
	struct vmem_info info;

	driver_init(f);
	assert_int_equal(virtio_mem_set_requested(f->v, REGION), 0);
	assert_int_equal(request(f, PLUG, f->base + 3 * BS, 1, NULL), ACK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(request(f, bad[i].type, bad[i].addr, bad[i].nb, NULL), ERROR);
		assert_int_equal(PLUGGED_SIZE(f), BS);
	}
	assert_false(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	virtio_mem_info(f->v, &info);
	assert_int_equal(info.errors, sizeof(bad) / sizeof(bad[0]));
	/* the whole region in one request is fine */
	assert_int_equal(request(f, UNPLUG, f->base + 3 * BS, 1, NULL), ACK);
	assert_int_equal(request(f, PLUG, f->base, (uint16_t)NBLOCKS, NULL), ACK);
	assert_int_equal(PLUGGED_SIZE(f), REGION);
	fx_free(f);
}

/* A request or response buffer too short: the device needs a reset, nothing changes. */
static void test_short_buffers(void **state)
{
	struct fx *f = fx_new(0);

	driver_init(f);
	assert_int_equal(virtio_mem_set_requested(f->v, REGION), 0);
	post_req_len(f, 0, PLUG, f->base, 1, 23, 10);
	kick(f);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(PLUGGED_SIZE(f), 0);
	driver_init(f);
	post_req_len(f, 0, PLUG, f->base, 1, 24, 9);
	kick(f);
	assert_true(bar_r(f->v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(PLUGGED_SIZE(f), 0);
	/* after a reset the device works again, and the plug state survived it */
	driver_init(f);
	assert_int_equal(request(f, PLUG, f->base, 1, NULL), ACK);
	driver_init(f);
	assert_int_equal(PLUGGED_SIZE(f), BS);
	fx_free(f);
}

/* A flood is served a bounded batch per kick. */
static void test_flood_is_bounded(void **state)
{
	struct fx *f = fx_new(0);
	uint16_t n = 0;

	driver_init(f);
	for (uint16_t i = 0; i < 60; i++)
		post_req(f, i, STATE, f->base, 1);
	kick(f);
	assert_true(used_idx(f) > 0 && used_idx(f) < 60);
	while (used_idx(f) < 60 && n++ < 60)
		kick(f);
	assert_int_equal(used_idx(f), 60);
	for (uint16_t i = 0; i < 60; i++)
		assert_int_equal(resp_type(f, i), ACK);
	fx_free(f);
}

/* A model of the device: the expected answer to one request, and its effect. */
static uint16_t model(bool *bm, uint64_t *plugged, uint64_t requested, uint16_t type,
		     uint64_t addr, uint16_t nb, uint64_t base, uint16_t *st)
{
	uint64_t first, np = 0;

	if (type == UNPLUG_ALL) {
		memset(bm, 0, NBLOCKS);
		*plugged = 0;
		return ACK;
	}
	if (type > STATE || nb == 0 || addr < base || (addr - base) % BS ||
	    (addr - base) / BS >= NBLOCKS || nb > NBLOCKS - (addr - base) / BS)
		return ERROR;
	first = (addr - base) / BS;
	for (uint64_t b = first; b < first + nb; b++)
		np += bm[b];
	if (type == STATE) {
		*st = np == nb ? S_PLUGGED : np == 0 ? S_UNPLUGGED : S_MIXED;
		return ACK;
	}
	if (type == PLUG && (*plugged >= requested || nb * BS > requested - *plugged))
		return NACK;
	if ((type == PLUG && np) || (type == UNPLUG && np != nb))
		return ERROR;
	for (uint64_t b = first; b < first + nb; b++)
		bm[b] = type == PLUG;
	*plugged = type == PLUG ? *plugged + nb * BS : *plugged - nb * BS;
	return ACK;
}

/* Seeded random requests (mostly near the region) against the model. */
static void test_random_vs_model(void **state)
{
	unsigned seed = (unsigned)getpid();
	bool bm[NBLOCKS] = { 0 };
	uint64_t plugged = 0, requested = 0;
	struct fx *f = fx_new(0);

	print_message("# seed %u\n", seed);
	srand(seed);
	driver_init(f);
	for (unsigned i = 0; i < 3000; i++) {
		uint16_t type = (uint16_t)(rand() % 10 == 0 ? rand() % 6 : rand() % 4);
		int64_t blk = rand() % (int)(NBLOCKS + 4) - 2;
		uint64_t addr = f->base + (uint64_t)blk * BS + (rand() % 8 == 0 ? 4096 : 0);
		uint16_t nb = (uint16_t)(rand() % 16 == 0 ? rand() : rand() % 6);
		uint16_t st = 0, want_st = 0, want, got;

		if (rand() % 20 == 0) {
			requested = (uint64_t)(rand() % (int)(NBLOCKS + 1)) * BS;
			assert_int_equal(virtio_mem_set_requested(f->v, requested), 0);
		}
		if (type == UNPLUG_ALL && rand() % 4)
			type = UNPLUG; /* rarely everything */
		want = model(bm, &plugged, requested, type, addr, nb, f->base, &want_st);
		got = request(f, type, addr, nb, &st);
		if (got != want)
			fail_msg("seed %u step %u: type %u addr +%lld nb %u: got %u want %u", seed, i,
				 type, (long long)(addr - f->base), nb, got, want);
		if (type == STATE && want == ACK)
			assert_int_equal(st, want_st);
		assert_int_equal(PLUGGED_SIZE(f), plugged);
	}
	fx_free(f);
}

/* A section as virtio_mem_save writes it, with the given fields (for corrupt streams). */
static void write_section(struct state_writer *w, struct fx *f, uint64_t addr, uint64_t region,
			  uint64_t bs, uint64_t req, uint64_t plugged, const uint64_t *bm,
			  size_t words)
{
	state_writer_init(w);
	state_begin(w, 0x16, 0);
	state_put_u32(w, 1);
	state_put_u64(w, addr);
	state_put_u64(w, region);
	state_put_u64(w, bs);
	state_put_u64(w, req);
	state_put_u64(w, plugged);
	state_put_bytes(w, bm, words * 8);
	virtio_pci_save(f->v, w);
	state_end(w);
	assert_int_equal(state_writer_finish(w), 0);
}

static int load(struct fx *f, const struct state_writer *w)
{
	struct state_reader r, sec;
	uint32_t id, idx;

	assert_int_equal(state_reader_init(&r, w->buf, w->len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	return virtio_mem_load(f->v, &sec);
}

static void test_save_load(void **state)
{
	struct fx *a = fx_new(0), *b = fx_new(0);
	uint64_t bm = 0xf0, bad_bm = (uint64_t)1 << 32; /* block 32: past the 32 */
	struct state_writer w;
	struct vmem_info info;

	driver_init(a);
	assert_int_equal(virtio_mem_set_requested(a->v, 8 * BS), 0);
	assert_int_equal(request(a, PLUG, a->base + 4 * BS, 4, NULL), ACK);
	state_writer_init(&w);
	state_begin(&w, 0x16, 0);
	virtio_mem_save(a->v, &w);
	state_end(&w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(load(b, &w), 0);
	state_writer_release(&w);
	virtio_mem_info(b->v, &info);
	assert_int_equal(info.plugged_size, 4 * BS);
	assert_int_equal(info.requested_size, 8 * BS);
	assert_int_equal(PLUGGED_SIZE(b), 4 * BS);
	assert_int_equal(REQUESTED_SIZE(b), 8 * BS);
	/* the loaded bitmap is the device's: blocks 4-7 plugged */
	b->avail_idx = a->avail_idx; /* and the rings as the guest left them */
	memcpy(gmem_ptr(&b->mem, QBASE, 0x3000), gmem_ptr(&a->mem, QBASE, 0x3000), 0x3000);
	assert_int_equal(request(b, UNPLUG, b->base + 4 * BS, 4, NULL), ACK);
	assert_int_equal(request(b, UNPLUG, b->base + 4 * BS, 1, NULL), ERROR);

	/* corrupt streams: refused, nothing changed */
	virtio_mem_info(b->v, &info);
	write_section(&w, b, b->base + BS, REGION, BS, 0, 4 * BS, &bm, 1); /* other region */
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION * 2, BS, 0, 4 * BS, &bm, 1);
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION, 2 * BS, 0, 4 * BS, &bm, 1); /* other block size */
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION, BS, REGION + BS, 4 * BS, &bm, 1); /* requested */
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION, BS, 4097, 4 * BS, &bm, 1);
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION, BS, 0, 5 * BS, &bm, 1); /* plugged != bitmap */
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION, BS, 0, BS, &bad_bm, 1); /* a block past the end */
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	write_section(&w, b, b->base, REGION, BS, 0, 0, &bm, 0); /* truncated bitmap */
	assert_int_equal(load(b, &w), -EBADMSG);
	state_writer_release(&w);
	virtio_mem_info(b->v, &info);
	assert_int_equal(info.plugged_size, 0);
	assert_int_equal(info.requested_size, 8 * BS);
	fx_free(a);
	fx_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_set_requested),
		cmocka_unit_test(test_plug_unplug),
		cmocka_unit_test(test_hostile_ranges),
		cmocka_unit_test(test_short_buffers),
		cmocka_unit_test(test_flood_is_bounded),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
