#pragma once
/*
 * Resizing a running VM, what the control API calls: the balloon's target and statistics,
 * and a disk grown on the host. Each returns 0, or -errno with err naming what is wrong (the
 * VM keeps running either way).
 */
#include <stdint.h>

#include "common/error.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/mem.h"

struct vm;

/*
 * Ask the guest to give back amount_mib MiB (--balloon's amount_mib, changed): -ENODEV when
 * the VM has no balloon, -ERANGE above its memory. The guest gives what it can: *ret (may be
 * NULL) says the target and what the guest has given so far (actual).
 */
int vm_balloon_set(struct vm *vm, uint64_t amount_mib, struct balloon_info *ret,
		   struct hull_err *err);
/* The balloon's target, actual size and the guest's last statistics; -ENODEV without one. */
int vm_balloon_get(struct vm *vm, struct balloon_info *ret, struct hull_err *err);
/*
 * Re-read the size of --disk number idx (0-based, in the order given) and tell the guest
 * when it changed: -ENODEV for no such disk; *ret_size is the size in bytes.
 */
int vm_disk_rescan(struct vm *vm, unsigned idx, uint64_t *ret_size, struct hull_err *err);
/*
 * Grow --disk number idx to size bytes (raw or QCOW2: the VM holds the image's write lock, so
 * it grows the image itself, as QEMU's block_resize) and tell the guest. Never shrinks.
 */
int vm_disk_grow(struct vm *vm, unsigned idx, uint64_t size, struct hull_err *err);
/*
 * Ask the guest to have requested_mib MiB of the virtio-mem region plugged (0: unplug it
 * all): -ENODEV without --memory-hotplug, -ERANGE above the region, -EINVAL not a multiple of
 * its block size. The guest plugs or unplugs in the background; *ret (may be NULL) says where
 * it is now.
 */
int vm_mem_hotplug_set(struct vm *vm, uint64_t requested_mib, struct vmem_info *ret,
		       struct hull_err *err);
/* The virtio-mem region, block size, plugged and requested sizes; -ENODEV without one. */
int vm_mem_hotplug_get(struct vm *vm, struct vmem_info *ret, struct hull_err *err);
