/* The NIC of a `hull run --vm` container: tap, the VMM's --net, NETCONF (engine/vm-net.h). */
#include "engine/vm-net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/mac.h"
#include "engine/network.h"
#include "engine/vmnet-tap.h"
#include "engine/vmnet.h"
#include "net/net.h"

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int vm_netconf_encode(const char *ip, int prefix, const char *gw, const char *mac,
		      uint32_t mtu, uint8_t *out, size_t cap)
{
	const size_t len = 4 + sizeof(struct hull_agent_nic_wire);
	uint8_t *e = out + 4;
	uint32_t a = 0, g = 0;

	if (cap < len || !ip || net_ip4_parse(ip, &a) < 0 || !a || prefix < 1 || prefix > 32 ||
	    (gw && *gw && net_ip4_parse(gw, &g) < 0) || (mtu && (mtu < 68 || mtu > 65535)))
		return -EINVAL;
	memset(out, 0, len);
	hull_agent_put16(out, 1);
	if (mac_parse(mac, e) < 0)
		return -EINVAL;
	e[6] = (uint8_t)prefix;
	hull_agent_put32(e + 8, mtu);
	be32_put(e + 12, a);
	be32_put(e + 16, g);
	return (int)len;
}

int vm_net_up(const struct ctr *c, struct vm_nic *nic, struct hull_err *err)
{
	cleanup_json json_t *v = engine_net_file_load(c->dir);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));
	const char *ip = json_string_value(json_object_get(v, "IPAddress"));
	const char *gw = json_string_value(json_object_get(v, "Gateway"));
	const char *mac = json_string_value(json_object_get(v, "MacAddress"));
	json_int_t plen = json_integer_value(json_object_get(v, "IPPrefixLen"));
	int n, r;

	memset(nic, 0, sizeof(*nic));
	/* none (no network.json), or a network not up: the guest has its loopback only */
	if (!engine_net_ports_on(v) || !nsp || !ip || !*ip)
		return 0;
	n = vm_netconf_encode(ip, (int)plen, gw, mac, 0, nic->netconf, sizeof(nic->netconf));
	if (n < 0)
		return hull_err_setx(err, EINVAL, "%s/network.json: address %s/%d, gateway %s, "
				     "MAC %s: not a NIC the guest can be given", c->dir, ip,
				     (int)plen, gw ? gw : "", mac ? mac : "");
	nic->netconf_len = (uint32_t)n;
	r = vmnet_tap_setup(nsp, ENGINE_VMNET_TAP, false, err);
	if (r < 0)
		return hull_err_prefix(err, "container %s: the VM's tap", c->name);
	nic->netns = xstrdup(nsp);
	/* queues=1: the tap is single-queue (the VMM's default is one pair per vCPU) */
	nic->net = xasprintf("tap=" ENGINE_VMNET_TAP ",mac=%s,queues=1", mac);
	return 0;
}

void vm_net_down(const struct ctr *c)
{
	cleanup_json json_t *v = engine_net_file_load(c->dir);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));

	if (nsp && json_is_true(json_object_get(v, "Active")))
		vmnet_tap_remove(nsp, ENGINE_VMNET_TAP);
}

void vm_nic_free(struct vm_nic *nic)
{
	free(nic->netns);
	free(nic->net);
	memset(nic, 0, sizeof(*nic));
}
