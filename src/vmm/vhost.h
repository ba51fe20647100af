#pragma once
/*
 * A generic in-kernel vhost backend for a virtio-pci device (linux/vhost.h): the kernel's
 * worker serves the rings of the device's first nvqs queues in place of hull's event loop.
 *
 * - kick: the queue's ioeventfd (virtio-pci registers it at the notify address; ops's
 *   vhost_queues keeps the loop off it), so a guest kick wakes the worker without an exit;
 * - call: the irqfd of the queue's MSI-X vector (virtio_pci_vector_irqfd) so the worker
 *   injects the interrupt itself; while the vector is masked, MSI-X is off or the VM has no
 *   irqfds, a fallback eventfd that hull's loop turns into virtio_pci_notify (which holds a
 *   masked vector pending). The choice is made again whenever the guest touches MSI-X;
 * - err: an eventfd on the loop that puts the device in DEVICE_NEEDS_RESET.
 *
 * Started on DRIVER_OK (features, memory table, ring sizes, indices and addresses), stopped
 * on reset and before a save, with VHOST_GET_VRING_BASE putting last_avail back into the
 * queue's state (and the used index read back from the ring), so that save/load and a
 * restart continue where the worker was.
 */
#include <linux/vhost.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/memory.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/queue.h"

#define VHOST_MAX_REGIONS 3 /* guest RAM below the PCI hole, from 4 GiB; virtio-mem */

struct vhost_dev;

struct vhost_cb {
	struct vhost_dev *d;
	unsigned q;
};

struct vhost_dev {
	int fd; /* /dev/vhost-*, -1: none (unit tests) */
	struct virtio_pci_dev *v;
	unsigned first;    /* the device's queues [first, first + nvqs) are the worker's, */
	unsigned nvqs;     /* its vrings 0 to nvqs - 1 (vhost-net: one fd per queue pair) */
	uint64_t features; /* what the kernel offers (VHOST_GET_FEATURES) */
	bool started;
	int call_fd[VIRTIO_MAX_QUEUES]; /* fallback call eventfds, on the VM's loop */
	int err_fd[VIRTIO_MAX_QUEUES];
	int cur_call[VIRTIO_MAX_QUEUES]; /* the fd last given to VHOST_SET_VRING_CALL */
	struct vhost_cb cb[VIRTIO_MAX_QUEUES];
};

/* Empty (every fd -1), as vhost_release leaves it. */
void vhost_init(struct vhost_dev *d);
/*
 * Take over fd (an open /dev/vhost-*): VHOST_SET_OWNER and VHOST_GET_FEATURES. 0, or -errno
 * with err naming what. d owns fd from here on, on failure too.
 */
int vhost_setup(struct vhost_dev *d, int fd, struct hull_err *err);
/*
 * Bind d to v (after virtio_pci_init) for its queues [0, nvqs): the fallback call and error
 * eventfds, watched by the VM's loop. 0 or -errno with err set.
 */
int vhost_attach(struct vhost_dev *d, struct virtio_pci_dev *v, unsigned nvqs,
		 struct hull_err *err);
/* The same for the device's queues [first, first + nvqs), the worker's vrings [0, nvqs). */
int vhost_attach_at(struct vhost_dev *d, struct virtio_pci_dev *v, unsigned first,
		    unsigned nvqs, struct hull_err *err);
void vhost_release(struct vhost_dev *d);

/*
 * Start the worker on the driver's state (DRIVER_OK; v->lock held): the acked features the
 * kernel knows, the memory table, and for every ready queue its size, base, ring addresses,
 * kick and call. 0 or -errno (the device reports DEVICE_NEEDS_RESET).
 */
int vhost_start(struct vhost_dev *d);
/* Stop it: each queue's last_avail (VHOST_GET_VRING_BASE) and used index back in v->st. */
void vhost_stop(struct vhost_dev *d);
/* Give each queue the call fd its vector allows now (v->lock held). */
void vhost_update_calls(struct vhost_dev *d);

/* The memory table of m: up to max regions; returns how many. Pure. */
unsigned vhost_mem_regions(const struct guest_mem *m, struct vhost_memory_region *r,
			   unsigned max);
/*
 * The host addresses of queue q's rings (index idx), each whole ring inside guest RAM, for
 * VHOST_SET_VRING_ADDR. 0 or -EFAULT. Pure.
 */
int vhost_vring_addr(const struct virtq *q, unsigned idx, struct vhost_vring_addr *a);
