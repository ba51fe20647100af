#pragma once
/*
 * virtio-balloon (virtio 1.2, 5.5): the guest gives pages back (inflateq) and takes them
 * again (deflateq); hull releases what it is given (MADV_DONTNEED on anonymous RAM, a punched
 * hole in a memfd), keeps the last statistics the guest sent (statsq), releases the free
 * ranges the guest reports (reporting_vq), and offers DEFLATE_ON_OOM. Every page frame number
 * is checked against guest RAM; a flood of requests is served a bounded batch per wake-up.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct virtio_pci_dev;
struct guest_mem;
struct vm_balloon_config;
struct state_writer;
struct state_reader;

#define BALLOON_PAGE_SHIFT 12 /* VIRTIO_BALLOON_PFN_SHIFT: PFNs are 4 KiB pages */

/* The guest's statistics (5.5.6.3), by tag; set: which ones the guest has sent. */
enum balloon_stat {
	BALLOON_S_SWAP_IN, BALLOON_S_SWAP_OUT, BALLOON_S_MAJFLT, BALLOON_S_MINFLT,
	BALLOON_S_MEMFREE, BALLOON_S_MEMTOT, BALLOON_S_AVAIL, BALLOON_S_CACHES,
	BALLOON_S_HTLB_PGALLOC, BALLOON_S_HTLB_PGFAIL,
	BALLOON_S_COUNT,
};

struct balloon_info {
	uint32_t target_pages; /* num_pages: what the guest is asked to give */
	uint32_t actual_pages; /* what the driver says it gave (its config write) */
	uint32_t set;          /* bit per enum balloon_stat the guest reported */
	uint64_t stat[BALLOON_S_COUNT];
	/* host-side counters */
	uint64_t inflated;     /* PFNs released on inflate */
	uint64_t deflated;     /* PFNs taken back */
	uint64_t bad_pfns;     /* PFNs outside guest RAM, ignored */
	uint64_t reported;     /* bytes of free page reports released */
};

/* The name of a statistic in the API (Firecracker's: "swap_in", "free_memory"...). */
const char *balloon_stat_name(enum balloon_stat s);

int virtio_balloon_create(struct vm *vm, const struct vm_balloon_config *cfg,
			  struct virtio_pci_dev **ret, struct hull_err *err);
/* For unit tests: a device without a VM (no interrupts, no statistics timer). */
struct virtio_pci_dev *virtio_balloon_new_test(const struct guest_mem *mem,
					       const struct vm_balloon_config *cfg);
void virtio_balloon_free(struct virtio_pci_dev *v);

/*
 * Ask the guest for pages pages (num_pages) and send the config interrupt. 0, or -ERANGE when
 * pages is more than guest RAM. Takes v->lock.
 */
int virtio_balloon_set_target(struct virtio_pci_dev *v, uint64_t pages);
void virtio_balloon_info(struct virtio_pci_dev *v, struct balloon_info *ret);
/* Give the held statistics buffer back, asking for fresh ones (the stats timer's work). */
void virtio_balloon_stats_request(struct virtio_pci_dev *v);

void virtio_balloon_save(struct virtio_pci_dev *v, struct state_writer *w);
int virtio_balloon_load(struct virtio_pci_dev *v, struct state_reader *r);
