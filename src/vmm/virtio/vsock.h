#pragma once
/*
 * virtio-vsock (virtio 1.2, 5.10) on the kernel's vhost-vsock (/dev/vhost-vsock): the rx and
 * tx queues are the vhost worker's (vhost.h), so a host program reaches the guest with
 * AF_VSOCK at its CID; the event queue is hull's, used to send VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
 * after a load (the guest's connections did not survive; it re-reads guest_cid). The CID is a
 * host resource: set on the fd before KVM is opened (vsock_open), and written into the
 * configuration space again after a load.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

#define VSOCK_DEV_PATH "/dev/vhost-vsock"
#define VSOCK_CID_MIN 3U          /* 0-2: hypervisor, local, host */
#define VSOCK_CID_MAX 0xfffffffeU /* 0xffffffff is VMADDR_CID_ANY */
#define VSOCK_AUTO_TRIES 64U      /* CIDs `auto` tries before it gives up */
#define VSOCK_QUEUE_EVENT 2U

struct vm;
struct virtio_pci_dev;
struct guest_mem;
struct state_reader;

/* The i-th CID that `auto` tries from seed: consecutive, wrapping within [MIN, MAX]. Pure. */
uint32_t vsock_cid_candidate(uint64_t seed, unsigned i);
/*
 * Open path and set the guest's CID: cid, or with autocid the first of VSOCK_AUTO_TRIES
 * candidates from seed that no other VM holds. Returns the fd (the caller owns it) with the CID
 * in *ret_cid, or -errno with err naming --vsock (no such device, the CID in use).
 */
int vsock_open(const char *path, uint32_t cid, bool autocid, uint64_t seed, uint32_t *ret_cid,
	       struct hull_err *err);

/* The device on fd (taken over, closed on failure too) for guest CID cid. */
int virtio_vsock_create(struct vm *vm, int fd, uint32_t cid, struct virtio_pci_dev **ret,
			struct hull_err *err);
/* For unit tests: a device without a VM or a vhost fd. */
struct virtio_pci_dev *virtio_vsock_new_test(const struct guest_mem *mem, uint32_t cid);
/*
 * virtio_pci_load, then this VM's CID back in the configuration space and a transport reset
 * event queued for the guest (delivered now, or when it next posts an event buffer).
 */
int virtio_vsock_load(struct virtio_pci_dev *v, struct state_reader *r);
void virtio_vsock_free(struct virtio_pci_dev *v);
