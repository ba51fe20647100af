#pragma once
/*
 * Network definitions, in netavark's JSON format (what it reads as "network_info"), one file
 * per network: <store>/networks/NAME.json, written atomically. The default network `bridge`
 * (172.17.0.0/16 on hull0, docker's) is written on first use; user networks get the next
 * free /16 of 172.18.0.0 to 172.31.0.0 and an interface hull<N>, with aardvark-dns on.
 * Every change of networks/ (definitions, address files, port claims) happens under
 * net_lock().
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct net_def_opts {
	const char *subnet;  /* "a.b.c.d/n" or NULL: the next free one */
	const char *gateway; /* NULL: the subnet's first address */
	bool internal, ipv6;
};

/* flock()ed <root>/networks/lock, created with the directory; returns the fd to close. */
int net_lock(const char *root, struct hull_err *err);
/* Load NAME's definition; -ENOENT "network NAME not found". `bridge` is created if missing
 * (caller holds the lock). */
int net_def_load(const char *root, const char *name, json_t **ret, struct hull_err *err);
/* Create a user network; -EEXIST, -EINVAL (bad subnet/gateway, overlap), with err naming the
 * flag. Caller holds the lock. */
int net_def_create(const char *root, const char *name, const struct net_def_opts *o,
		   json_t **ret, struct hull_err *err);
/* Remove the definition and its address file. Caller holds the lock and checked use. */
int net_def_remove(const char *root, const char *name, struct hull_err *err);
/* The names of all networks, sorted (NULL-terminated; strv_free). `bridge` always. */
char **net_def_names(const char *root);
/* With --ipv6: the IPv6 address that goes with IPv4 address ip4 (a heap string), else NULL. */
char *net_def_ip6_of(json_t *def, uint32_t ip4);
/* The first IPv4 subnet of a definition: address, prefix, gateway. */
int net_def_subnet4(json_t *def, uint32_t *ret_net, int *ret_prefix, uint32_t *ret_gw);
