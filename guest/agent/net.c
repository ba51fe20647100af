/*
 * NETCONF applied in the guest (netconf.h): Debian's kernel has no ip= (CONFIG_IP_PNP), so
 * PID 1 sets each NIC up itself. The interface is found by its MAC (the name is the guest
 * kernel's business), then rtnetlink: link MTU and up, addresses, default routes. No library:
 * one NETLINK_ROUTE socket, one request at a time, each acknowledged.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netconf.h"

#define FIND_TRIES 100 /* 10 ms apart: virtio_net's probe may finish after finit_module */

struct nl_req {
	struct nlmsghdr h;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rt;
	} u;
	uint8_t attrs[128];
};

static void nl_attr(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)r + NLMSG_ALIGN(r->h.nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send r and read its acknowledgement: 0 or -errno (the kernel's). */
static int nl_talk(int fd, struct nl_req *r)
{
	static uint32_t seq;
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	uint8_t buf[1024];

	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->h.nlmsg_seq = ++seq;
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EPROTO;
			return e->error;
		}
	}
}

/* The index of the interface with MAC mac, else of the one with the warm snapshot's
 * (*warm set: its MAC is to be set), waiting a little for the driver; 0: none. One scan looks
 * for both: a restored guest must not wait for a MAC it cannot have. */
static unsigned find_by_mac(int ioc, const uint8_t mac[6], int *warm)
{
	static const uint8_t wmac[6] = HULL_AGENT_WARM_MAC;

	for (int t = 0; t < FIND_TRIES; t++) {
		struct if_nameindex *all = if_nameindex();
		unsigned idx = 0, widx = 0;

		for (struct if_nameindex *i = all; i && i->if_index && !idx; i++) {
			struct ifreq ifr = { 0 };

			(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->if_name);
			if (ioctl(ioc, SIOCGIFHWADDR, &ifr) != 0)
				continue;
			if (memcmp(ifr.ifr_hwaddr.sa_data, mac, 6) == 0)
				idx = i->if_index;
			else if (!widx && memcmp(ifr.ifr_hwaddr.sa_data, wmac, 6) == 0)
				widx = i->if_index;
		}
		if (all)
			if_freenameindex(all);
		*warm = !idx && widx;
		if (idx || widx)
			return idx ? idx : widx;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	return 0;
}

/* The link's MAC (before it is up: its IPv6 link-local address follows the new one). */
static int link_mac(int fd, unsigned idx, const uint8_t mac[6])
{
	struct nl_req r = { 0 };

	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(r.u.ifi));
	r.h.nlmsg_type = RTM_NEWLINK;
	r.u.ifi.ifi_family = AF_UNSPEC;
	r.u.ifi.ifi_index = (int)idx;
	nl_attr(&r, IFLA_ADDRESS, mac, 6);
	return nl_talk(fd, &r);
}

static int link_up(int fd, unsigned idx, uint32_t mtu)
{
	struct nl_req r = { 0 };

	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(r.u.ifi));
	r.h.nlmsg_type = RTM_NEWLINK;
	r.u.ifi.ifi_family = AF_UNSPEC;
	r.u.ifi.ifi_index = (int)idx;
	r.u.ifi.ifi_flags = IFF_UP;
	r.u.ifi.ifi_change = IFF_UP;
	if (mtu)
		nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	return nl_talk(fd, &r);
}

static int addr_add(int fd, unsigned idx, int family, const uint8_t *a, unsigned prefix)
{
	struct nl_req r = { 0 };
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t flags = IFA_F_NODAD; /* the address is the network's: usable at once */
	int e;

	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(r.u.ifa));
	r.h.nlmsg_type = RTM_NEWADDR;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.u.ifa.ifa_family = (uint8_t)family;
	r.u.ifa.ifa_prefixlen = (uint8_t)prefix;
	r.u.ifa.ifa_index = idx;
	nl_attr(&r, IFA_LOCAL, a, alen);
	nl_attr(&r, IFA_ADDRESS, a, alen);
	if (family == AF_INET6)
		nl_attr(&r, IFA_FLAGS, &flags, sizeof(flags));
	e = nl_talk(fd, &r);
	return e == -EEXIST ? 0 : e;
}

static int route_add(int fd, unsigned idx, int family, const uint8_t *gw)
{
	struct nl_req r = { 0 };
	uint32_t oif = idx;
	int e;

	r.h.nlmsg_len = NLMSG_LENGTH(sizeof(r.u.rt));
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	r.u.rt.rtm_family = (uint8_t)family;
	r.u.rt.rtm_table = RT_TABLE_MAIN;
	r.u.rt.rtm_protocol = RTPROT_BOOT;
	r.u.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	r.u.rt.rtm_type = RTN_UNICAST;
	nl_attr(&r, RTA_GATEWAY, gw, family == AF_INET ? 4 : 16);
	nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	e = nl_talk(fd, &r);
	return e == -EEXIST ? 0 : e;
}

static int nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

/* One NIC: -1 with msg naming the step. */
static int nic_apply(int fd, int ioc, const struct agent_nic *c, char *msg, size_t size)
{
	const uint8_t *m = c->mac;
	int warm = 0;
	unsigned idx = find_by_mac(ioc, m, &warm);
	const char *step = NULL;
	int e = 0;

	if (!idx) {
		(void)snprintf(msg, size, "NETCONF: no interface with MAC "
			       "%02x:%02x:%02x:%02x:%02x:%02x (virtio_net not loaded?)",
			       m[0], m[1], m[2], m[3], m[4], m[5]);
		return -1;
	}
	if (warm && (e = link_mac(fd, idx, m)) < 0)
		step = "MAC address";
	else if ((e = link_up(fd, idx, c->mtu)) < 0)
		step = "link up";
	else if (c->prefix4 && (e = addr_add(fd, idx, AF_INET, c->addr4, c->prefix4)) < 0)
		step = "IPv4 address";
	else if (c->prefix6 && (e = addr_add(fd, idx, AF_INET6, c->addr6, c->prefix6)) < 0)
		step = "IPv6 address";
	else if (nonzero(c->gw4, 4) && (e = route_add(fd, idx, AF_INET, c->gw4)) < 0)
		step = "IPv4 default route";
	else if (nonzero(c->gw6, 16) && (e = route_add(fd, idx, AF_INET6, c->gw6)) < 0)
		step = "IPv6 default route";
	if (!step)
		return 0;
	(void)snprintf(msg, size, "NETCONF: interface %u: %s: %s", idx, step, strerror(-e));
	return -1;
}

int agent_netconf_apply(const struct agent_nic *nics, size_t n, char *msg, size_t size)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int ioc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0, e;

	if (fd < 0 || ioc < 0) {
		(void)snprintf(msg, size, "NETCONF: socket: %s", strerror(errno));
		r = -1;
	}
	if (r == 0 && (e = link_up(fd, 1, 0)) < 0) { /* lo is always index 1 */
		(void)snprintf(msg, size, "NETCONF: lo up: %s", strerror(-e));
		r = -1;
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = nic_apply(fd, ioc, &nics[i], msg, size);
	if (fd >= 0)
		(void)close(fd);
	if (ioc >= 0)
		(void)close(ioc);
	return r;
}
