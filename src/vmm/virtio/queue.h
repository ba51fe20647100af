#pragma once
/*
 * Split virtqueues (virtio 1.2, 2.7) over guest memory. Everything in the rings is written
 * by the guest and checked here: indices, chain length, loops, descriptor addresses (through
 * gmem_ptr, so never outside guest RAM), and the readable-before-writable order. A queue
 * that breaks a rule is marked broken and the device reports DEVICE_NEEDS_RESET.
 * Data plane: functions return -errno, never allocate, never log.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

#define VIRTQ_MAX_SIZE 256
#define VIRTQ_MAX_CHAIN 64 /* descriptors per request; longer chains are an error */
/*
 * VIRTIO_F_EVENT_IDX (2.7.7, 2.7.10): the driver says with used_event after which used
 * entry it wants an interrupt, the device with avail_event after which available entry it
 * wants a kick. A device that offers it needs nothing else: virtq_pop publishes avail_event,
 * virtio_pci_notify asks virtq_need_notify.
 */
#define VIRTQ_F_EVENT_IDX (1ULL << 29)
/*
 * VIRTIO_F_INDIRECT_DESC (2.7.5.3): a ring descriptor may point at a table of descriptors,
 * so that a request of many buffers takes one ring entry (a guest's TSO frame: up to 19).
 * virtq_pop follows it when the device offered it and the driver accepted it.
 */
#define VIRTQ_F_INDIRECT_DESC (1ULL << 28)

struct virtq {
	const struct guest_mem *mem;
	uint16_t size;      /* negotiated size, a power of two <= max_size */
	uint16_t max_size;
	bool ready;
	bool broken;
	uint16_t msix_vector;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;
	uint16_t used_idx;
	/* host side, not saved: set from the driver's features at DRIVER_OK and at a load */
	bool event_idx;       /* VIRTQ_F_EVENT_IDX negotiated (and the ring is not a vhost one) */
	bool indirect;        /* VIRTQ_F_INDIRECT_DESC negotiated */
	bool signalled_valid; /* signalled_used is the used index at the last interrupt */
	uint16_t signalled_used;
};

struct virtq_elem {
	uint16_t head;
	unsigned n_in;  /* device-readable buffers, first */
	unsigned n_out; /* device-writable buffers, after them */
	uint64_t in_len, out_len;
	struct iovec iov[VIRTQ_MAX_CHAIN]; /* [0, n_in) readable, [n_in, n_in + n_out) writable */
};

/* Back to the reset state (size = max_size, not ready, vector none). */
void virtq_reset(struct virtq *q, const struct guest_mem *mem, uint16_t max_size);

/*
 * Check size and ring placement when the driver enables the queue: 0, or -EINVAL (size not a
 * power of two, too large, zero) or -EFAULT (a ring outside guest RAM or misaligned).
 */
int virtq_enable(struct virtq *q);

/* 1 with *e filled, 0 when the ring is empty, -errno when the guest broke the rules. */
int virtq_pop(struct virtq *q, struct virtq_elem *e);
/*
 * Does the driver want an interrupt for what was pushed since the last one it got? Always
 * without event_idx; with it, when the used index crossed the driver's used_event (2.7.10),
 * whatever used_event holds. Marks the used index as signalled when it says yes.
 */
bool virtq_need_notify(struct virtq *q);
/* Put head on the used ring with len bytes written. 0 or -errno. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/*
 * Put n chains on the used ring and publish them with one index update, so that a driver
 * never sees part of a packet spread over several chains (virtio-net's num_buffers).
 * 0 or -errno (nothing published).
 */
int virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *lens, unsigned n);
/*
 * Give back the last n chains popped and not pushed: the next pops return them again (a
 * device that cannot serve them yet: a rate limiter, no rx buffer). Nothing in guest memory
 * changes.
 */
void virtq_unpop(struct virtq *q, unsigned n);

/* Copy up to len bytes of src into the writable part of e, starting at off; returns bytes
 * copied (fewer when the buffers end first). */
size_t virtq_elem_write(const struct virtq_elem *e, uint64_t off, const void *src, size_t len);
/* Copy up to len bytes from the readable part of e, starting at off; returns bytes copied. */
size_t virtq_elem_read(const struct virtq_elem *e, uint64_t off, void *dst, size_t len);
