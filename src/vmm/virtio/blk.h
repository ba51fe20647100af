#pragma once
/*
 * virtio-blk (virtio 1.2, 5.2) on src/disk: read, write, flush, discard, get-id, read-only.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct virtio_pci_dev;
struct disk;
struct vm_disk_config;
struct guest_mem;

/*
 * Open the disk of a --disk (no KVM needed: vm_prepare calls it before /dev/kvm is opened).
 * *ret is freed with disk_close. Returns 0 or -errno with err naming the --disk.
 */
int virtio_blk_open_disk(const struct vm_disk_config *cfg, struct disk **ret,
			 struct hull_err *err);
/*
 * Create the device over *disk (from virtio_blk_open_disk), which it takes over: *disk is
 * NULL afterwards, also on failure. *ret is freed with virtio_blk_free.
 */
int virtio_blk_create(struct vm *vm, const struct vm_disk_config *cfg, struct disk **disk,
		      struct virtio_pci_dev **ret, struct hull_err *err);
/* For unit tests: a device over an open disk, without a VM (no bus, no interrupts). */
struct virtio_pci_dev *virtio_blk_new_test(const struct guest_mem *mem, struct disk *d,
					   const char *serial);
void virtio_blk_free(struct virtio_pci_dev *v);
/*
 * The counters for GET /metrics (any thread): requests served, those that failed (status
 * not OK), bytes read and written by the guest.
 */
void virtio_blk_metrics(struct virtio_pci_dev *v,
			void (*put)(void *ctx, const char *name, uint64_t value), void *ctx);
/*
 * Re-read the disk's size (disk_refresh_size: a raw file grown with truncate) and, when the
 * capacity changed, announce it with a configuration-change interrupt, so that the guest sees
 * the new size without a reboot. 0 with *ret_size in bytes, or -errno (nothing changed).
 */
int virtio_blk_rescan(struct virtio_pci_dev *v, uint64_t *ret_size);
/*
 * Grow the disk to new_size bytes (disk_grow: raw or QCOW2, the VM holding the image's write
 * lock) with the device's requests held back, then announce it as virtio_blk_rescan does.
 * 0 or -errno with err naming the file (read-only, smaller than now, not a multiple of 512).
 */
int virtio_blk_grow(struct virtio_pci_dev *v, uint64_t new_size, struct hull_err *err);
struct ratelimit_config;
/*
 * Replace the disk's rate limits (the API, at run time), with full buckets; requests that
 * waited for the old limits are looked at again at once. c was checked
 * (ratelimit_config_check).
 */
void virtio_blk_set_rate_limit(struct virtio_pci_dev *v, const struct ratelimit_config *c);
/* For unit tests: fn(opaque) runs before each request is served, on the serving thread. */
void virtio_blk_set_test_delay(struct virtio_pci_dev *v, void (*fn)(void *), void *opaque);
/*
 * Live migration (docs/vmm.md "Live migration", disks). detach (the source, paused) lets the
 * request in service end, flushes the disk and gives up its image lock, the file left open;
 * until attach, the queue's requests wait in the ring. attach serves what waited once the
 * device has its disk again: the source's own, locked again (-EBUSY with err when another
 * process holds it now), or, on a destination created without one, *disk taken over when
 * its size is the one the guest saw (-EINVAL, *disk left to the caller, otherwise).
 */
int virtio_blk_detach(struct virtio_pci_dev *v, struct hull_err *err);
int virtio_blk_attach(struct virtio_pci_dev *v, struct disk **disk, struct hull_err *err);
bool virtio_blk_attached(const struct virtio_pci_dev *v);
