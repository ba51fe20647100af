/* Dirty page bitmaps, KVM's dirty log and the VMM's own writes (dirty.h). */
#include "vmm/dirty.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/alloc.h"
#include "vmm/memory.h"
#include "vmm/vm.h"

#define DIRTY_MAX_PAGES (1ULL << 34) /* 64 TiB of RAM: more than gmem_init allows */

static uint64_t words_of(uint64_t npages)
{
	return (npages + 63) / 64;
}

int dirty_bitmap_init(struct dirty_bitmap *b, uint64_t npages)
{
	memset(b, 0, sizeof(*b));
	if (npages == 0 || npages > DIRTY_MAX_PAGES)
		return -EINVAL;
	b->words = xcalloc(words_of(npages), sizeof(uint64_t));
	b->npages = npages;
	return 0;
}

void dirty_bitmap_free(struct dirty_bitmap *b)
{
	free(b->words);
	memset(b, 0, sizeof(*b));
}

void dirty_bitmap_clear(struct dirty_bitmap *b)
{
	if (b->words)
		memset(b->words, 0, words_of(b->npages) * sizeof(uint64_t));
}

void dirty_bitmap_set_range(struct dirty_bitmap *b, uint64_t first, uint64_t n)
{
	if (first >= b->npages)
		return;
	if (n > b->npages - first)
		n = b->npages - first;
	for (uint64_t pg = first; pg < first + n; pg++)
		b->words[pg / 64] |= 1ULL << (pg % 64);
}

bool dirty_bitmap_test(const struct dirty_bitmap *b, uint64_t page)
{
	return page < b->npages && (b->words[page / 64] >> (page % 64)) & 1;
}

uint64_t dirty_bitmap_count(const struct dirty_bitmap *b)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < words_of(b->npages); i++)
		n += (uint64_t)__builtin_popcountll(b->words[i]);
	return n;
}

void dirty_bitmap_or_at(struct dirty_bitmap *dst, uint64_t offset, const uint64_t *src,
			uint64_t n)
{
	if (offset >= dst->npages)
		return;
	if (n > dst->npages - offset)
		n = dst->npages - offset;
	if (offset % 64 == 0) {
		/* the common case (slot sizes are multiples of 2 MiB): word by word */
		uint64_t full = n / 64;

		for (uint64_t i = 0; i < full; i++)
			dst->words[offset / 64 + i] |= src[i];
		for (uint64_t pg = full * 64; pg < n; pg++)
			if ((src[pg / 64] >> (pg % 64)) & 1)
				dst->words[(offset + pg) / 64] |= 1ULL << ((offset + pg) % 64);
		return;
	}
	for (uint64_t pg = 0; pg < n; pg++)
		if ((src[pg / 64] >> (pg % 64)) & 1)
			dst->words[(offset + pg) / 64] |= 1ULL << ((offset + pg) % 64);
}

void dirty_bitmap_take(struct dirty_bitmap *dst, uint64_t *words)
{
	uint64_t n = words_of(dst->npages), last = dst->npages % 64;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = __atomic_exchange_n(&words[i], 0, __ATOMIC_RELAXED);

		if (i == n - 1 && last)
			v &= (1ULL << last) - 1; /* never a bit past the end */
		dst->words[i] |= v;
	}
}

bool dirty_bitmap_next(const struct dirty_bitmap *b, uint64_t *page)
{
	uint64_t pg = *page;

	while (pg < b->npages) {
		uint64_t w = b->words[pg / 64] >> (pg % 64);

		if (w) {
			pg += (uint64_t)__builtin_ctzll(w);
			if (pg >= b->npages)
				return false;
			*page = pg;
			return true;
		}
		pg = (pg / 64 + 1) * 64;
	}
	return false;
}

/* Slot 0: RAM below the hole; slot 1: from 4 GiB (kvm.c registers them so). */
static int slot_set(struct vm *vm, uint32_t slot, bool log, struct hull_err *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = slot ? GMEM_HIGH_START : 0,
		.memory_size = slot ? gmem_high_size(&vm->mem) : vm->mem.low_size,
		.userspace_addr = (uint64_t)(uintptr_t)(vm->mem.host + (slot ? vm->mem.low_size : 0)),
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return hull_err_set(err, errno, "KVM_SET_USER_MEMORY_REGION slot %u (dirty log %s)",
				    slot, log ? "on" : "off");
	return 0;
}

static unsigned n_slots(const struct vm *vm)
{
	return gmem_high_size(&vm->mem) ? 2 : 1;
}

/* One slot's log from KVM (cleared there) into out at its page offset. */
static int slot_fetch(struct vm *vm, struct dirty_log *d, uint32_t slot, struct dirty_bitmap *out,
		      struct hull_err *err)
{
	uint64_t pages = (slot ? gmem_high_size(&vm->mem) : vm->mem.low_size) / DIRTY_PAGE;
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = d->slot.words };

	dirty_bitmap_clear(&d->slot);
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return hull_err_set(err, errno, "KVM_GET_DIRTY_LOG slot %u", slot);
	dirty_bitmap_or_at(out, slot ? vm->mem.low_size / DIRTY_PAGE : 0, d->slot.words, pages);
	return 0;
}

int dirty_log_start(struct vm *vm, struct dirty_log *d, struct hull_err *err)
{
	uint64_t npages = vm->mem.size / DIRTY_PAGE;
	struct dirty_bitmap scratch;
	int r = 0;

	dirty_log_stop(vm, d);
	/* the scratch bitmap holds the larger slot's log; KVM writes whole longs */
	if (dirty_bitmap_init(&d->slot, npages + 64) < 0 || dirty_bitmap_init(&d->dev, npages) < 0)
		return hull_err_setx(err, EINVAL, "dirty log: %llu pages of RAM",
				     (unsigned long long)npages);
	for (unsigned s = 0; s < n_slots(vm) && r == 0; s++)
		r = slot_set(vm, s, true, err);
	d->on = true;
	if (r < 0) {
		dirty_log_stop(vm, d);
		return r;
	}
	/* throw away what is there: the caller sends everything once anyway */
	if (dirty_bitmap_init(&scratch, npages) == 0) {
		r = dirty_log_sync(vm, d, &scratch, false, err);
		dirty_bitmap_free(&scratch);
	}
	dirty_bitmap_clear(&d->dev);
	if (r < 0)
		dirty_log_stop(vm, d);
	return r;
}

int dirty_log_sync(struct vm *vm, struct dirty_log *d, struct dirty_bitmap *out,
		   bool since_start, struct hull_err *err)
{
	struct dirty_bitmap fresh = { 0 };

	if (!d->on)
		return hull_err_setx(err, EINVAL, "dirty log: not started");
	for (unsigned s = 0; s < n_slots(vm); s++) {
		int r = slot_fetch(vm, d, s, out, err);

		if (r < 0)
			return r;
	}
	if (vm->mem.dev_dirty && dirty_bitmap_init(&fresh, out->npages) == 0) {
		dirty_bitmap_take(&fresh, vm->mem.dev_dirty);
		dirty_bitmap_or_at(&d->dev, 0, fresh.words, fresh.npages);
		dirty_bitmap_or_at(out, 0, fresh.words, fresh.npages);
		dirty_bitmap_free(&fresh);
	}
	if (since_start)
		dirty_bitmap_or_at(out, 0, d->dev.words, d->dev.npages);
	return 0;
}

void dirty_log_stop(struct vm *vm, struct dirty_log *d)
{
	struct hull_err err = { 0 };

	if (d->on)
		for (unsigned s = 0; s < n_slots(vm); s++)
			(void)slot_set(vm, s, false, &err);
	d->on = false;
	dirty_bitmap_free(&d->slot);
	dirty_bitmap_free(&d->dev);
}
