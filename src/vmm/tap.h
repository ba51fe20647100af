#pragma once
/*
 * A host tap interface as a virtio-net backend: one fd per queue pair on /dev/net/tun, each
 * carrying whole Ethernet frames behind a 12-byte virtio_net_hdr_v1 (IFF_VNET_HDR and
 * TUNSETVNETHDRSZ), non-blocking.
 */
#include <stdbool.h>

#include "common/error.h"

#define TAP_VNET_HDR_LEN 12

/*
 * Attach to the existing tap interface name (in the caller's network namespace): 0 with
 * *ret_fd, or -errno with err naming "--net tap=NAME" and why (no such interface, not a tap,
 * in use; -EINVAL when the tap's multi_queue flag is not the one asked for). multi_queue:
 * IFF_MULTI_QUEUE, which the tap must have been created with. Never creates an interface: a
 * typo must not give the guest a cable to nowhere.
 */
int tap_open(const char *name, bool multi_queue, int *ret_fd, struct hull_err *err);

/* TUNSETOFFLOAD: what the tap may hand us (TUN_F_* bits). 0 or -errno. */
int tap_set_offload(int fd, unsigned tun_flags);

/*
 * A multi-queue tap's queue fd in use or not (TUNSETQUEUE): the tap spreads its frames over
 * the attached queues only, so the queues of pairs the guest does not use are detached.
 * 0 or -errno.
 */
int tap_set_queue(int fd, bool attached);
