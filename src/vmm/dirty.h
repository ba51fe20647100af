#pragma once
/*
 * Dirty page tracking for live migration and diff snapshots (docs/vmm.md "Dirty tracking").
 *
 * Pages are numbered by their offset in the host mapping of guest RAM divided by 4 KiB (RAM
 * below the hole first, then from 4 GiB: the snapshot memory file's order). Two sources:
 *   - KVM's dirty log (KVM_MEM_LOG_DIRTY_PAGES on the RAM slots, KVM_GET_DIRTY_LOG per slot,
 *     which also clears and write-protects again): every page a vCPU wrote;
 *   - guest_mem.dev_dirty (memory.h): pages the VMM's device code wrote (virtqueue buffers
 *     the device may write, used rings), which KVM never sees. They are marked when a chain
 *     is popped, before the device writes, so a set taken between the pop and the write
 *     would miss the write: the "since start" set keeps every such page, and the last pass
 *     (stop-and-copy, diff snapshot) sends all of them again.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct guest_mem;

#define DIRTY_PAGE 4096ULL

struct dirty_bitmap {
	uint64_t *words;
	uint64_t npages;
};

/* A bitmap of npages clear bits; 0 or -EINVAL (npages 0 or above 2^34). Aborts on OOM. */
int dirty_bitmap_init(struct dirty_bitmap *b, uint64_t npages);
void dirty_bitmap_free(struct dirty_bitmap *b);
void dirty_bitmap_clear(struct dirty_bitmap *b);
/* Set [first, first + n), clipped to the bitmap. */
void dirty_bitmap_set_range(struct dirty_bitmap *b, uint64_t first, uint64_t n);
bool dirty_bitmap_test(const struct dirty_bitmap *b, uint64_t page);
uint64_t dirty_bitmap_count(const struct dirty_bitmap *b);
/* dst |= the n bits of src starting at bit 0, placed at bit offset (clipped to dst). */
void dirty_bitmap_or_at(struct dirty_bitmap *dst, uint64_t offset, const uint64_t *src,
			uint64_t n);
/* Atomically take the bits of words (npages of them), clearing them, into dst (|=). */
void dirty_bitmap_take(struct dirty_bitmap *dst, uint64_t *words);
/* The first set bit at or after *page: true with *page set to it, false when none. */
bool dirty_bitmap_next(const struct dirty_bitmap *b, uint64_t *page);

struct dirty_log {
	bool on;                  /* KVM_MEM_LOG_DIRTY_PAGES is set on the RAM slots */
	struct dirty_bitmap slot; /* scratch: one slot's KVM log */
	struct dirty_bitmap dev;  /* device-written pages since dirty_log_start */
};

/*
 * Turn KVM's dirty log on (the RAM slots registered again with KVM_MEM_LOG_DIRTY_PAGES), its
 * current bits and the device bits thrown away: from now on every write is counted. Event
 * loop thread. 0 or -errno with err.
 */
int dirty_log_start(struct vm *vm, struct dirty_log *d, struct hull_err *err);
/*
 * Add to out (npages = RAM pages) the pages written since the last sync (or start): KVM's
 * log of each slot, and the device bits. With since_start, also every device-written page
 * since dirty_log_start (the last pass). 0 or -errno with err.
 */
int dirty_log_sync(struct vm *vm, struct dirty_log *d, struct dirty_bitmap *out,
		   bool since_start, struct hull_err *err);
/* Turn it off again (slots without the flag) and free the bitmaps; errors are ignored. */
void dirty_log_stop(struct vm *vm, struct dirty_log *d);
