#pragma once
/*
 * NETCONF (proto.h, docs/vm-agent.md "Network"): netconf.c decodes the payload (pure, no I/O:
 * tests/unit/engine/test-vm-netconf.c feeds it hostile bytes), net.c applies it over
 * rtnetlink in the guest.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct agent_nic {
	uint8_t mac[6];
	unsigned prefix4, prefix6;
	uint32_t mtu; /* 0: leave the driver's */
	uint8_t addr4[4], gw4[4];
	uint8_t addr6[16], gw6[16];
};

/*
 * Decode a NETCONF payload into nics (room for HULL_AGENT_MAX_NICS); NULL with *ret_n set, or
 * a static message naming what is wrong (for the ERROR frame).
 */
const char *agent_netconf_decode(const uint8_t *p, uint32_t len, struct agent_nic *nics,
				 size_t *ret_n);

/* Apply nics in the guest (net.c): 0, or -1 with why in msg. lo is brought up as well. */
int agent_netconf_apply(const struct agent_nic *nics, size_t n, char *msg, size_t size);
