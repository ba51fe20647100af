#pragma once
/*
 * Container networking (docs/engine.md "Networks"):
 *   none       a new network namespace with only a loopback device (brought up)
 *   host       the host's network namespace
 *   bridge     a network namespace hull creates and bind-mounts (netns.c), wired by netavark
 *              to a bridge network: `bridge` (the default) or a user network (netdef.c)
 *   container  the network namespace of another (running) container
 * hull owns the definitions (netdef.c), the addresses (ipam.c) and the namespaces (netns.c);
 * netavark (netavark.c) owns veths, bridges, firewall rules and aardvark-dns.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

enum net_mode {
	NET_MODE_NONE,
	NET_MODE_HOST,
	NET_MODE_BRIDGE,
	NET_MODE_CONTAINER,
	NET_MODE_COUNT,
};

#define NET_DEFAULT "bridge"

/* "none", "host", "container:REF" or a network name (NULL: the default network `bridge`).
 * -EINVAL with err naming the value when it is no valid name. */
int net_mode_parse(const char *s, enum net_mode *ret, struct hull_err *err);
const char *net_mode_name(enum net_mode m);
/* Whether the container's config lists a network namespace (new or joined by path). */
bool net_mode_has_netns(enum net_mode m);
/* A valid network name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters. */
bool net_name_is_valid(const char *n);
/* An RFC 1123 host or domain name of at most max characters: dot-separated labels of 1-63
 * letters, digits and '-' (not first or last); nothing else (no space, no control
 * character: the names go into /etc/hosts and resolv.conf lines). */
bool net_host_name_is_valid(const char *n, size_t max);
/* An IPv4 or IPv6 address (inet_pton). */
bool net_ip_is_valid(const char *s);

/* A published port: -p [IP:][HOSTPORT[-END]:]CPORT[-END][/tcp|udp]. */
struct net_port {
	char host_ip[16];       /* "" : every address */
	uint16_t host_port;     /* 0: a free port chosen at start */
	uint16_t container_port;
	uint16_t range;         /* how many consecutive ports, >= 1 */
	char proto[4];          /* "tcp" or "udp" */
};

/* Parse one -p value (IPv4 host addresses only). -EINVAL with err saying what is wrong. */
int net_port_parse(const char *spec, struct net_port *ret, struct hull_err *err);
/* An image's ExposedPorts key: PORT[-END][/tcp|udp] only (docker's form): an image never
 * chooses host addresses or ports. -EINVAL otherwise (err not filled: the caller names the
 * image). */
int net_port_parse_exposed(const char *key, struct net_port *ret);
/* At most this many port mappings per container (-p and -P together): an image exposing
 * 1-65535 must not make 65,535 host sockets and firewall rules. */
#define NET_PORTS_MAX 1024
/* netavark's port_mappings entry, and back. */
json_t *net_port_to_json(const struct net_port *p);
int net_port_from_json(json_t *j, struct net_port *ret, struct hull_err *err);

/* IPv4 helpers (host byte order). "a.b.c.d" and "a.b.c.d/n". */
int net_ip4_parse(const char *s, uint32_t *ret);
int net_cidr4_parse(const char *s, uint32_t *ret_addr, int *ret_prefix);
void net_ip4_format(uint32_t a, char out[16]);
uint32_t net_prefix_mask(int prefix);
