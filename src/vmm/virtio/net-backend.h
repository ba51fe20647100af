#pragma once
/*
 * Inside virtio-net (net.c): the vhost-net datapath. Each queue pair has its own
 * /dev/vhost-net fd (a vhost-net worker serves one rx and one tx ring) whose backend is the
 * pair's tap queue fd (VHOST_NET_SET_BACKEND). The control queue, the config space, the
 * pairs in use (TUNSETQUEUE) and the tap's offloads stay with net.c.
 */
#include <stdbool.h>

#include "common/error.h"
#include "vmm/vhost.h"
#include "vmm/vmm.h"

#define VHOST_NET_DEV_PATH "/dev/vhost-net"

struct net_vhost {
	unsigned n_pairs;
	struct vhost_dev vh[VM_NET_MAX_QUEUE_PAIRS];
	bool started[VM_NET_MAX_QUEUE_PAIRS];
};

/*
 * c's vhost= decides: n_pairs fds of path in fds, or none (every fd -1) with auto when path
 * does not open or the NIC has rate limits (user space then); with on, no fd is an error
 * naming --net. 0 or -errno with err set (nothing left open).
 */
int net_vhost_open(const char *path, const struct vm_net_config *c, unsigned n_pairs,
		   int *fds, struct hull_err *err);

void net_vhost_init(struct net_vhost *nv);
/* Take fds (one per pair, set to -1) for v's queue pairs [0, n_pairs): 0 or -errno. */
int net_vhost_attach(struct net_vhost *nv, struct virtio_pci_dev *v, int *fds,
		     unsigned n_pairs, struct hull_err *err);
/*
 * DRIVER_OK (v->lock held): start the worker of every pair whose rings the driver set up,
 * each on its tap fd (taps[i]); with mq false only pair 0 (the queue after it is the control
 * queue then). 0 or -errno with nothing running.
 */
int net_vhost_start(struct net_vhost *nv, const int *taps, bool mq);
/* Stop them: the taps detached, each ring's indices back in v->st (reset, save). */
void net_vhost_stop(struct net_vhost *nv);
void net_vhost_update_calls(struct net_vhost *nv);
void net_vhost_release(struct net_vhost *nv);

/* A locally administered unicast MAC address (IEEE 802: bit 1 set, bit 0 clear), at random. */
void net_random_mac(uint8_t mac[6]);
