#pragma once
/*
 * virtio-mem (virtio 1.2, 5.15): a region of guest-physical address space above RAM
 * (guest_mem's hp_* fields, one KVM slot) that the guest plugs and unplugs in blocks of
 * block_size bytes when the host changes requested_size. PLUG, UNPLUG, UNPLUG_ALL and STATE
 * requests on one queue; every range is checked (aligned, inside the region, no overflow) and
 * answered ERROR when it is not; unplugged blocks are given back to the host (MADV_DONTNEED).
 * The device tracks which blocks are plugged in a bitmap, saved with its configuration.
 */
#include <stdint.h>

#include "common/error.h"

struct vm;
struct virtio_pci_dev;
struct guest_mem;
struct vm_mem_hotplug_config;
struct state_writer;
struct state_reader;

struct vmem_info {
	uint64_t addr, region_size, block_size;
	uint64_t plugged_size, requested_size;
	/* requests served: acknowledged, refused (NACK: above requested_size), bad (ERROR) */
	uint64_t acks, nacks, errors;
};

/* The device over m's hotplug region (m->hp_size != 0); cfg gives the block size. */
int virtio_mem_create(struct vm *vm, const struct vm_mem_hotplug_config *cfg,
		      struct virtio_pci_dev **ret, struct hull_err *err);
/* For unit tests: a device without a VM (no interrupts). */
struct virtio_pci_dev *virtio_mem_new_test(const struct guest_mem *m,
					   const struct vm_mem_hotplug_config *cfg);
void virtio_mem_free(struct virtio_pci_dev *v);

/*
 * Ask the guest to have bytes plugged (requested_size) and send the configuration-change
 * interrupt: 0, -ERANGE above the region, -EINVAL not a multiple of the block size. Takes the
 * device's lock.
 */
int virtio_mem_set_requested(struct virtio_pci_dev *v, uint64_t bytes);
void virtio_mem_info(struct virtio_pci_dev *v, struct vmem_info *ret);

void virtio_mem_save(struct virtio_pci_dev *v, struct state_writer *w);
/* Checks everything against this device (region, block size, bitmap): 0 or -EBADMSG. */
int virtio_mem_load(struct virtio_pci_dev *v, struct state_reader *r);
