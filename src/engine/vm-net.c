/* The NIC of a `hull run --vm` container: tap, the VMM's --net, NETCONF (engine/vm-net.h). */
#include "engine/vm-net.h"

#include <arpa/inet.h>
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
#include "net/netdef.h"

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

int vm_netconf_encode6(const char *ip6, int prefix, const char *gw6, uint8_t *out,
		       uint32_t len, size_t idx)
{
	uint8_t *e = out + 4 + idx * sizeof(struct hull_agent_nic_wire);
	uint8_t a[16], g[16] = { 0 };
	static const uint8_t zero[16];

	if (len < 4 + (idx + 1) * sizeof(struct hull_agent_nic_wire) || !ip6 ||
	    inet_pton(AF_INET6, ip6, a) != 1 || !memcmp(a, zero, 16) || prefix < 1 ||
	    prefix > 128 || (gw6 && *gw6 && inet_pton(AF_INET6, gw6, g) != 1))
		return -EINVAL;
	e[7] = (uint8_t)prefix;
	memcpy(e + 20, a, 16);
	memcpy(e + 36, g, 16);
	return 0;
}

/*
 * On an --ipv6 network (guest18): the address netavark gave the container's eth0 (the one
 * engine/network.c asks for: net_def_ip6_of), the IPv6 subnet's prefix and gateway, into
 * NIC idx of nic's NETCONF. The store's root is the container directory's grandparent
 * (<root>/containers/ID). Nothing on a network without IPv6.
 */
static int vm_net_ipv6(const struct ctr *c, const char *netname, const char *ip4,
		       struct vm_nic *nic, size_t idx, struct hull_err *err)
{
	cleanup_free char *root = xstrdup(c->dir);
	cleanup_free char *ip6 = NULL;
	cleanup_json json_t *def = NULL;
	char *slash;
	uint32_t a4;
	size_t i;
	json_t *sn;

	for (int k = 0; k < 2 && (slash = strrchr(root, '/')); k++)
		*slash = '\0';
	if (net_ip4_parse(ip4, &a4) < 0 || net_def_load(root, netname, &def, err) < 0)
		return hull_err_prefix(err, "container %s: network %s", c->name, netname);
	if (!json_is_true(json_object_get(def, "ipv6_enabled")) ||
	    !(ip6 = net_def_ip6_of(def, a4)))
		return 0;
	json_array_foreach(json_object_get(def, "subnets"), i, sn) {
		const char *sub = json_string_value(json_object_get(sn, "subnet"));
		const char *gw = json_string_value(json_object_get(sn, "gateway"));
		const char *pl = sub && strchr(sub, ':') ? strrchr(sub, '/') : NULL;
		char *end = NULL;
		long prefix;

		if (!pl)
			continue; /* the IPv4 subnet */
		errno = 0;
		prefix = strtol(pl + 1, &end, 10);
		if (errno || end == pl + 1 || *end || prefix < 1 || prefix > 128 ||
		    vm_netconf_encode6(ip6, (int)prefix, gw, nic->netconf, nic->netconf_len,
				       idx) < 0)
			return hull_err_setx(err, EINVAL, "network %s: IPv6 address %s in %s, "
					     "gateway %s: not one the guest can be given", netname,
					     ip6, sub, gw ? gw : "");
		return 0;
	}
	return 0;
}

/*
 * The container's other networks (network.json's "Extra", set up by engine/netconnect.c on
 * eth1...): per active one, a tap "tapN" in the namespace wired to its interface, one more
 * NETCONF entry (its address, no default route: eth0 has the container's) and --net value.
 */
static int vm_net_extras(const struct ctr *c, json_t *v, const char *nsp, struct vm_nic *nic,
			 struct hull_err *err)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, "Extra"), i, e) {
		const char *ip = json_string_value(json_object_get(e, "IPAddress"));
		const char *mac = json_string_value(json_object_get(e, "MacAddress"));
		const char *dev = json_string_value(json_object_get(e, "Interface"));
		const char *net = json_string_value(json_object_get(e, "Network"));
		json_int_t plen = json_integer_value(json_object_get(e, "IPPrefixLen"));
		size_t k = nic->n_extra + 1;
		uint8_t one[VM_NETCONF_MAX];
		cleanup_free char *tap = xasprintf("tap%zu", k);
		int r;

		if (!json_is_true(json_object_get(e, "Active")) || !ip || !*ip || !dev || !net)
			continue;
		if (k > VM_NET_EXTRA_MAX)
			return hull_err_setx(err, E2BIG, "container %s: a VM has %u NICs at most",
					     c->name, HULL_AGENT_MAX_NICS);
		if (vm_netconf_encode(ip, (int)plen, NULL, mac, 0, one, sizeof(one)) < 0)
			return hull_err_setx(err, EINVAL, "%s/network.json: network %s: address "
					     "%s/%d, MAC %s: not a NIC the guest can be given",
					     c->dir, net, ip, (int)plen, mac ? mac : "");
		memcpy(nic->netconf + nic->netconf_len, one + 4, sizeof(struct hull_agent_nic_wire));
		nic->netconf_len += sizeof(struct hull_agent_nic_wire);
		hull_agent_put16(nic->netconf, (uint16_t)(k + 1));
		r = vm_net_ipv6(c, net, ip, nic, k, err);
		if (r == 0) { /* no IPv6 default route either */
			memset(nic->netconf + 4 + k * sizeof(struct hull_agent_nic_wire) + 36, 0, 16);
			r = vmnet_tap_setup_dev(nsp, tap, dev, false, err);
		}
		if (r < 0)
			return hull_err_prefix(err, "container %s: the VM's NIC on %s", c->name, net);
		nic->net_extra[nic->n_extra++] = xasprintf("tap=%s,mac=%s,queues=1", tap, mac);
	}
	return 0;
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
	r = vm_net_ipv6(c, engine_net_primary(v), ip, nic, 0, err);
	if (r < 0)
		return r;
	r = vmnet_tap_setup(nsp, ENGINE_VMNET_TAP, false, err);
	if (r < 0)
		return hull_err_prefix(err, "container %s: the VM's tap", c->name);
	nic->netns = xstrdup(nsp);
	/* queues=1: the tap is single-queue (the VMM's default is one pair per vCPU) */
	nic->net = xasprintf("tap=" ENGINE_VMNET_TAP ",mac=%s,queues=1", mac);
	return vm_net_extras(c, v, nsp, nic, err);
}

void vm_net_down(const struct ctr *c)
{
	cleanup_json json_t *v = engine_net_file_load(c->dir);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));

	if (nsp && json_is_true(json_object_get(v, "Active"))) {
		vmnet_tap_remove(nsp, ENGINE_VMNET_TAP);
		for (size_t k = 1; k <= VM_NET_EXTRA_MAX; k++) { /* vm_net_extras's */
			cleanup_free char *tap = xasprintf("tap%zu", k);

			vmnet_tap_remove(nsp, tap);
		}
	}
}

void vm_nic_free(struct vm_nic *nic)
{
	free(nic->netns);
	free(nic->net);
	for (size_t k = 0; k < nic->n_extra; k++)
		free(nic->net_extra[k]);
	memset(nic, 0, sizeof(*nic));
}
