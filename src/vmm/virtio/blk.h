#pragma once
/*
 * virtio-blk (virtio 1.2, 5.2) on src/disk: read, write, flush, discard, get-id, read-only.
 */
#include <stdbool.h>

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
struct ratelimit_config;
/*
 * Replace the disk's rate limits (the API, at run time), with full buckets; requests that
 * waited for the old limits are looked at again at once. c was checked
 * (ratelimit_config_check).
 */
void virtio_blk_set_rate_limit(struct virtio_pci_dev *v, const struct ratelimit_config *c);
/* For unit tests: fn(opaque) runs before each request is served, on the serving thread. */
void virtio_blk_set_test_delay(struct virtio_pci_dev *v, void (*fn)(void *), void *opaque);
