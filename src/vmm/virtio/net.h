#pragma once
/*
 * virtio-net (virtio 1.2, 5.1) on a host tap: one rx/tx queue pair per tap queue fd, served
 * by the device's I/O thread. The backend is a set of fds (struct virtio_net_backend), one
 * per queue pair, that carry frames behind a virtio_net_hdr_v1: a tap (tap.h) in the VMM,
 * a socketpair in the unit tests.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/vmm.h"

struct vm;
struct virtio_pci_dev;
struct guest_mem;
struct state_writer;
struct state_reader;

/* A NIC's backend: a tap queue fd per rx/tx queue pair, opened before KVM (vm_prepare). */
struct virtio_net_backend {
	unsigned n_pairs;
	int fd[VM_NET_MAX_QUEUE_PAIRS]; /* -1 once a device took it */
	bool vhost;                     /* a /dev/vhost-net fd per pair (vhost=on, or auto) */
	int vhost_fd[VM_NET_MAX_QUEUE_PAIRS];
};

/*
 * Per device, for `hull vm run --stats` and GET /metrics. Packets and bytes are frames
 * (without the virtio header) that reached the guest (rx) or the tap (tx).
 */
struct virtio_net_counters {
	uint64_t rx_packets, rx_bytes;
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_dropped;  /* from the tap, not delivered: no buffer large enough, bad header */
	uint64_t tx_dropped;  /* from the guest, not sent: bad header or length, tap write failed */
	uint64_t tx_bad_hdr;  /* of tx_dropped: a header with features the guest did not negotiate */
	uint64_t rx_stalls;   /* times a frame had to wait for guest buffers (the tap unread) */
};

/* Check the --net values of cfg (count, names, MACs, queues): 0 or -EINVAL naming --net. */
int virtio_net_config_check(const struct vm_config *cfg, struct hull_err *err);
/* Queue pairs NIC i has (its queues=, else one per vCPU, at most VM_NET_MAX_QUEUE_PAIRS). */
unsigned virtio_net_pairs(const struct vm_config *cfg, size_t i);

/* Open c's tap, n_pairs queues: 0, or -errno with err naming --net (nothing left open). */
int virtio_net_backend_open(const struct vm_net_config *c, unsigned n_pairs,
			    struct virtio_net_backend *b, struct hull_err *err);
/* Close the fds no device took (accepts a zeroed or half-opened backend). */
void virtio_net_backend_close(struct virtio_net_backend *b);

/*
 * Create NIC c on the VM's PCI bus; it takes b's fds (set to -1 in b) and watches them on
 * its I/O thread. 0 or -errno with err set.
 */
int virtio_net_create(struct vm *vm, const struct vm_net_config *c, struct virtio_net_backend *b,
		      struct virtio_pci_dev **ret, struct hull_err *err);
void virtio_net_free(struct virtio_pci_dev *v);

/*
 * The guest state: the queue pairs in use, then the transport's (virtio_pci_save: the config
 * space with the MAC and link status, features, queues). The load checks the pairs against
 * the device and changes nothing when any of it is invalid (-EBADMSG).
 */
void virtio_net_save(struct virtio_pci_dev *v, struct state_writer *w);
int virtio_net_load(struct virtio_pci_dev *v, struct state_reader *r);

/* Are v's queue pairs served by vhost-net (the kernel) rather than by hull's I/O thread? */
bool virtio_net_is_vhost(struct virtio_pci_dev *v);
/* The first queue pair's tap fd (frames behind a virtio_net_hdr_v1): a migration's announce. */
int virtio_net_tap_fd(struct virtio_pci_dev *v);
/* A snapshot of v's counters (takes v's lock). */
void virtio_net_get_counters(struct virtio_pci_dev *v, struct virtio_net_counters *ret);
/*
 * Replace the NIC's rate limits (NULL: that direction unchanged), with full buckets; what
 * waited for the old limits is looked at again at once. The limits were checked
 * (ratelimit_config_check).
 */
struct ratelimit_config;
void virtio_net_set_rate_limit(struct virtio_pci_dev *v, const struct ratelimit_config *rx,
			       const struct ratelimit_config *tx);
/* For unit tests (no I/O loop): what the rate limiter's timer does when it fires. */
void virtio_net_test_rate_timer(struct virtio_pci_dev *v);
/* NIC nic of vm (--net order): 0 with *ret filled, -ENOENT when the VM has no such NIC. */
int virtio_net_counters(struct vm *vm, unsigned nic, struct virtio_net_counters *ret);

/*
 * For unit tests: a device without a VM on n_pairs fds (taken: closed by virtio_net_free),
 * with this MAC. The tests call virtio_net_test_rx where the I/O thread would on EPOLLIN,
 * and virtio_net_test_rx_armed tells whether it would be watching fd pair for input now.
 */
struct virtio_pci_dev *virtio_net_new_test(const struct guest_mem *mem, const uint8_t mac[6],
					   const int *fds, unsigned n_pairs);
void virtio_net_test_rx(struct virtio_pci_dev *v, unsigned pair);
bool virtio_net_test_rx_armed(struct virtio_pci_dev *v, unsigned pair);
/* The epoll events the I/O thread's loop watches pair's fd for now. */
uint32_t virtio_net_test_rx_events(struct virtio_pci_dev *v, unsigned pair);
