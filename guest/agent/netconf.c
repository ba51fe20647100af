/* NETCONF's decoder (netconf.h): every length and value the host sent checked before use. */
#include <string.h>

#include "netconf.h"

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* One entry's values: NULL, or what is wrong with them. */
static const char *nic_check(const struct agent_nic *c)
{
	if ((c->mac[0] & 1) || all_zero(c->mac, 6))
		return "NETCONF: a NIC's MAC is not a unicast address";
	if (c->prefix4 > 32 || c->prefix6 > 128)
		return "NETCONF: a prefix length is out of range";
	if (c->mtu && (c->mtu < 68 || c->mtu > 65535))
		return "NETCONF: an MTU is out of range (68..65535)";
	if (c->prefix4 ? all_zero(c->addr4, 4) : !all_zero(c->addr4, 4) || !all_zero(c->gw4, 4))
		return "NETCONF: an IPv4 address without its prefix (or the other way round)";
	if (c->prefix6 ? all_zero(c->addr6, 16) : !all_zero(c->addr6, 16) || !all_zero(c->gw6, 16))
		return "NETCONF: an IPv6 address without its prefix (or the other way round)";
	return NULL;
}

const char *agent_netconf_decode(const uint8_t *p, uint32_t len, struct agent_nic *nics,
				 size_t *ret_n)
{
	const size_t esz = sizeof(struct hull_agent_nic_wire);
	size_t n;

	*ret_n = 0;
	if (!hull_agent_shape_ok(HULL_AGENT_NETCONF, len))
		return "NETCONF: the payload's size is not 4 + n x 52 (n 1..8)";
	n = hull_agent_get16(p);
	if (hull_agent_get16(p + 2) != 0)
		return "NETCONF: reserved bits set";
	if (n != (len - 4) / esz)
		return "NETCONF: the NIC count does not match the payload";
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = p + 4 + i * esz;
		struct agent_nic *c = &nics[i];
		const char *why;

		memcpy(c->mac, e, 6);
		c->prefix4 = e[6];
		c->prefix6 = e[7];
		c->mtu = hull_agent_get32(e + 8);
		memcpy(c->addr4, e + 12, 4);
		memcpy(c->gw4, e + 16, 4);
		memcpy(c->addr6, e + 20, 16);
		memcpy(c->gw6, e + 36, 16);
		why = nic_check(c);
		if (why)
			return why;
		for (size_t k = 0; k < i; k++)
			if (memcmp(nics[k].mac, c->mac, 6) == 0)
				return "NETCONF: two NICs with one MAC";
	}
	*ret_n = n;
	return NULL;
}
