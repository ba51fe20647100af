#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"

static const char *const names[NET_MODE_COUNT] = {
	[NET_MODE_NONE] = "none",
	[NET_MODE_HOST] = "host",
	[NET_MODE_BRIDGE] = "bridge",
	[NET_MODE_CONTAINER] = "container",
};

bool net_host_name_is_valid(const char *n, size_t max)
{
	size_t len = strlen(n), label = 0;

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = n[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || n[i - 1] == '-')
				return false;
			label = 0;
		} else if (alnum || (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

bool net_ip_is_valid(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET, s, &a) == 1 || inet_pton(AF_INET6, s, &a) == 1;
}

bool net_name_is_valid(const char *n)
{
	return ident_name_is_valid(n, 64);
}

int net_mode_parse(const char *s, enum net_mode *ret, struct hull_err *err)
{
	if (!s || strcmp(s, "default") == 0) {
		*ret = NET_MODE_BRIDGE;
		return 0;
	}
	if (strcmp(s, "none") == 0 || strcmp(s, "host") == 0) {
		*ret = s[0] == 'n' ? NET_MODE_NONE : NET_MODE_HOST;
		return 0;
	}
	if (strncmp(s, "container:", 10) == 0) {
		if (!s[10])
			return hull_err_setx(err, EINVAL, "--network %s: name a container", s);
		*ret = NET_MODE_CONTAINER;
		return 0;
	}
	if (!net_name_is_valid(s))
		return hull_err_setx(err, EINVAL, "--network %s: not a network name, none, host "
				     "or container:ID", s);
	*ret = NET_MODE_BRIDGE;
	return 0;
}

const char *net_mode_name(enum net_mode m)
{
	return m < NET_MODE_COUNT ? names[m] : "unknown";
}

bool net_mode_has_netns(enum net_mode m)
{
	return m != NET_MODE_HOST;
}

int net_ip4_parse(const char *s, uint32_t *ret)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret = ntohl(a.s_addr);
	return 0;
}

uint32_t net_prefix_mask(int prefix)
{
	return prefix <= 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int net_cidr4_parse(const char *s, uint32_t *ret_addr, int *ret_prefix)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	char *end;
	long p;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	errno = 0;
	p = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || *end || p < 8 || p > 30 || net_ip4_parse(buf, ret_addr) < 0)
		return -EINVAL;
	*ret_prefix = (int)p;
	return 0;
}

void net_ip4_format(uint32_t a, char out[16])
{
	(void)snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* "N" or "N-M" (1..65535); *ret_n: how many. */
static int port_range(const char *s, size_t len, uint16_t *ret_start, uint16_t *ret_n)
{
	char buf[16];
	char *end;
	unsigned long a, b;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	a = strtoul(buf, &end, 10);
	b = a;
	if (*end == '-') {
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end || a < 1 || a > 65535 || b < a || b > 65535)
		return -EINVAL;
	*ret_start = (uint16_t)a;
	*ret_n = (uint16_t)(b - a + 1);
	return 0;
}

static int port_fields(const char *spec, const char *body, size_t blen, struct net_port *p,
		       struct hull_err *err)
{
	const char *c2 = memrchr(body, ':', blen);
	const char *c1 = c2 ? memrchr(body, ':', (size_t)(c2 - body)) : NULL;
	uint16_t hn = 0, cn;
	const char *hp = c2 ? (c1 ? c1 + 1 : body) : NULL;

	if (port_range(c2 ? c2 + 1 : body, c2 ? blen - (size_t)(c2 + 1 - body) : blen,
		       &p->container_port, &cn) < 0)
		return hull_err_setx(err, EINVAL, "-p %s: invalid container port", spec);
	if (c1) {
		size_t iplen = (size_t)(c1 - body);
		uint32_t ip;

		if (iplen >= sizeof(p->host_ip))
			return hull_err_setx(err, EINVAL, "-p %s: invalid host address", spec);
		memcpy(p->host_ip, body, iplen);
		p->host_ip[iplen] = '\0';
		if (iplen && net_ip4_parse(p->host_ip, &ip) < 0)
			return hull_err_setx(err, EINVAL, "-p %s: invalid host address '%s' (IPv4)",
					     spec, p->host_ip);
		if (strcmp(p->host_ip, "0.0.0.0") == 0)
			p->host_ip[0] = '\0';
	}
	if (hp && c2 > hp && port_range(hp, (size_t)(c2 - hp), &p->host_port, &hn) < 0)
		return hull_err_setx(err, EINVAL, "-p %s: invalid host port", spec);
	if (hn && hn != cn)
		return hull_err_setx(err, EINVAL, "-p %s: the host and container port ranges "
				     "differ in length", spec);
	p->range = cn;
	return 0;
}

int net_port_parse_exposed(const char *key, struct net_port *ret)
{
	struct hull_err e = { 0 };

	if (!*key || strchr(key, ':') || net_port_parse(key, ret, &e) < 0)
		return -EINVAL;
	ret->host_ip[0] = '\0';
	ret->host_port = 0;
	return 0;
}

int net_port_parse(const char *spec, struct net_port *ret, struct hull_err *err)
{
	const char *slash = strchr(spec, '/');
	size_t blen = slash ? (size_t)(slash - spec) : strlen(spec);

	memset(ret, 0, sizeof(*ret));
	(void)snprintf(ret->proto, sizeof(ret->proto), "tcp");
	if (slash) {
		if (strcmp(slash + 1, "tcp") != 0 && strcmp(slash + 1, "udp") != 0)
			return hull_err_setx(err, EINVAL, "-p %s: protocol must be tcp or udp", spec);
		(void)snprintf(ret->proto, sizeof(ret->proto), "%s", slash + 1);
	}
	return port_fields(spec, spec, blen, ret, err);
}

json_t *net_port_to_json(const struct net_port *p)
{
	return json_pack("{s:s, s:i, s:i, s:i, s:s}", "host_ip", p->host_ip, "container_port",
			 p->container_port, "host_port", p->host_port, "range", p->range,
			 "protocol", p->proto);
}

int net_port_from_json(json_t *j, struct net_port *ret, struct hull_err *err)
{
	const char *ip = json_string_value(json_object_get(j, "host_ip"));
	const char *proto = json_string_value(json_object_get(j, "protocol"));
	json_int_t cp = json_integer_value(json_object_get(j, "container_port"));
	json_int_t hp = json_integer_value(json_object_get(j, "host_port"));
	json_int_t n = json_integer_value(json_object_get(j, "range"));

	memset(ret, 0, sizeof(*ret));
	if (!ip || strlen(ip) >= sizeof(ret->host_ip) || !proto ||
	    (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) || cp < 1 || cp > 65535 ||
	    hp < 0 || n < 1 || cp + n - 1 > 65535 || hp + n - 1 > 65535)
		return hull_err_setx(err, EINVAL, "network.json: invalid port mapping");
	(void)snprintf(ret->host_ip, sizeof(ret->host_ip), "%s", ip);
	(void)snprintf(ret->proto, sizeof(ret->proto), "%s", proto);
	ret->container_port = (uint16_t)cp;
	ret->host_port = (uint16_t)hp;
	ret->range = (uint16_t)n;
	return 0;
}
