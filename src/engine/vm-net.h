#pragma once
/*
 * The NIC of a `hull run --vm` container (docs/engine.md "hull run --vm": networks). The
 * engine sets the container's network up as for any container (engine/network.h: namespace,
 * address from the network's IPAM, netavark with the ports and the name for aardvark-dns);
 * then, inside that namespace, the tap ENGINE_VMNET_TAP is wired to eth0 by tc (as for
 * `hull vm run --net network=`, engine/vmnet-tap.h), the VMM runs in the namespace with
 * `--net tap=tap0,mac=<eth0's MAC>`, and the guest agent is told the address (NETCONF,
 * guest/agent/proto.h). Teardown is the container's (the tap goes first, then the namespace).
 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/record.h"
#include "../../guest/agent/proto.h"

#define VM_NETCONF_MAX (4 + HULL_AGENT_MAX_NICS * sizeof(struct hull_agent_nic_wire))
/* NICs beyond eth0 (`network connect` before start: eth1...), tap1... wired to them */
#define VM_NET_EXTRA_MAX (HULL_AGENT_MAX_NICS - 1)

/* A VM container's NIC, up. */
struct vm_nic {
	char *netns;  /* the namespace file the VMM runs in; NULL: no NIC (--network none) */
	char *net;    /* the VMM's --net value */
	uint8_t netconf[VM_NETCONF_MAX]; /* NETCONF's payload */
	uint32_t netconf_len;
	/* the VMM's --net values of the container's other networks (guest18), in NETCONF order */
	char *net_extra[VM_NET_EXTRA_MAX];
	size_t n_extra;
};

/*
 * After engine_net_setup: when c has an active bridge network, make the tap in its
 * namespace and fill nic; else nic->netns stays NULL. Free with vm_nic_free.
 */
int vm_net_up(const struct ctr *c, struct vm_nic *nic, struct hull_err *err);
/* Delete c's tap (harmless when there is none). Before the container's network teardown. */
void vm_net_down(const struct ctr *c);
void vm_nic_free(struct vm_nic *nic);

/*
 * NETCONF's payload for one NIC (unit tests): ip/prefix/gw (gw "" or NULL: no route), mac
 * "aa:bb:cc:dd:ee:ff", mtu 0 (the driver's). Returns the length, or -EINVAL for a value
 * the wire cannot carry.
 */
int vm_netconf_encode(const char *ip, int prefix, const char *gw, const char *mac,
		      uint32_t mtu, uint8_t *out, size_t cap);

/*
 * IPv6 for NIC idx of a NETCONF payload of len bytes (vm_netconf_encode's): address ip6,
 * prefix 1..128, gateway gw6 ("" or NULL: no route). 0, or -EINVAL for a value the wire
 * cannot carry (guest18: --ipv6 networks).
 */
int vm_netconf_encode6(const char *ip6, int prefix, const char *gw6, uint8_t *out,
		       uint32_t len, size_t idx);
