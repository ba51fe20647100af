#include "net/netdef.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/ident.h"
#include "common/json.h"
#include "common/strv.h"
#include "net/net.h"

int net_lock(const char *root, struct hull_err *err)
{
	cleanup_free char *dir = xasprintf("%s/networks", root);
	cleanup_free char *path = xasprintf("%s/networks/lock", root);
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_set(err, errno, "%s", path);
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;

		(void)close(fd);
		return hull_err_set(err, e, "%s: lock", path);
	}
	return fd;
}

static char *def_path(const char *root, const char *name)
{
	return xasprintf("%s/networks/%s.json", root, name);
}

char *net_def_ip6_of(json_t *def, uint32_t ip4)
{
	uint32_t net, gw;
	int prefix;
	size_t i;
	json_t *sn;

	if (net_def_subnet4(def, &net, &prefix, &gw) < 0)
		return NULL;
	json_array_foreach(json_object_get(def, "subnets"), i, sn) {
		const char *s = json_string_value(json_object_get(sn, "subnet"));
		const char *end = s ? strstr(s, "::/") : NULL;

		if (end)
			return xasprintf("%.*s::%x", (int)(end - s), s, ip4 & ~net_prefix_mask(prefix));
	}
	return NULL;
}

int net_def_subnet4(json_t *def, uint32_t *ret_net, int *ret_prefix, uint32_t *ret_gw)
{
	size_t i;
	json_t *sn;

	json_array_foreach(json_object_get(def, "subnets"), i, sn) {
		const char *s = json_string_value(json_object_get(sn, "subnet"));
		const char *gw = json_string_value(json_object_get(sn, "gateway"));

		if (s && gw && net_cidr4_parse(s, ret_net, ret_prefix) == 0 &&
		    net_ip4_parse(gw, ret_gw) == 0)
			return 0;
	}
	return -ENOENT;
}

static int def_write(const char *root, json_t *def, struct hull_err *err)
{
	const char *name = json_string_value(json_object_get(def, "name"));
	cleanup_free char *path = def_path(root, name);
	cleanup_free char *buf = hjson_dump(def, JSON_INDENT(2));
	int r = fd_write_file_atomic_at(AT_FDCWD, path, buf, strlen(buf), 0600);

	return r < 0 ? hull_err_set(err, -r, "%s", path) : 0;
}

static json_t *def_make(const char *name, const char *iface, const char *subnet,
			const char *gw, const struct net_def_opts *o, bool dns)
{
	char id[65];
	json_t *subnets = json_pack("[{s:s, s:s}]", "subnet", subnet, "gateway", gw);

	ident_random_hex(id, 32);
	if (o->ipv6) {
		/* a ULA /64 derived from the IPv4 subnet: one per network, no second allocator */
		uint32_t a = 0, g = 0;
		int p = 0;
		char v6[64], gw6[64];

		/* the IPv6 address of a host is the prefix and the host part of its IPv4 one
		 * (net_ip6_of): the IPv4 allocator serves both */
		(void)net_cidr4_parse(subnet, &a, &p);
		(void)net_ip4_parse(gw, &g);
		(void)snprintf(v6, sizeof(v6), "fd17:%x:%x::/64", a >> 16, a & 0xffff);
		(void)snprintf(gw6, sizeof(gw6), "fd17:%x:%x::%x", a >> 16, a & 0xffff,
			       g & ~net_prefix_mask(p));
		(void)json_array_append_new(subnets, json_pack("{s:s, s:s}", "subnet", v6,
							       "gateway", gw6));
	}
	/* isolate: no traffic between two bridge networks (docker's DOCKER-ISOLATION rules) */
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:b, s:{s:s}, s:{s:s}}", "name",
			 name, "id", id, "driver", "bridge", "network_interface", iface, "subnets",
			 subnets, "ipv6_enabled", o->ipv6, "internal", o->internal, "dns_enabled", dns,
			 "ipam_options", "driver", "host-local", "options", "isolate", "true");
}

static void defs_free(json_t **v)
{
	for (size_t i = 0; v[i]; i++)
		json_decref(v[i]);
	free(v);
}

/*
 * The definitions other than skip, loaded (for overlap and interface checks): every one, with
 * no cap, since a definition left out would escape the checks. One that cannot be read is an
 * error naming its file rather than a network silently left out.
 */
static int defs_load_all(const char *root, const char *skip, json_t ***ret,
			 struct hull_err *err)
{
	cleanup_strv char **names = net_def_names(root);
	json_t **v = xcalloc(strv_length(names) + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; names[i]; i++) {
		cleanup_free char *path = def_path(root, names[i]);
		int r;

		if (strcmp(names[i], skip) == 0 || (access(path, F_OK) < 0 && errno == ENOENT))
			continue;
		r = hjson_load_file(path, 1 << 20, &v[n], err);
		if (r < 0) {
			defs_free(v);
			return r;
		}
		n++;
	}
	*ret = v;
	return 0;
}

static bool overlaps(json_t **defs, uint32_t net, int prefix, const char **ret_name)
{
	for (size_t i = 0; defs[i]; i++) {
		uint32_t n2, gw2;
		int p2;
		int p;

		if (net_def_subnet4(defs[i], &n2, &p2, &gw2) < 0)
			continue;
		p = p2 < prefix ? p2 : prefix;
		if ((n2 & net_prefix_mask(p)) == (net & net_prefix_mask(p))) {
			*ret_name = json_string_value(json_object_get(defs[i], "name"));
			return true;
		}
	}
	return false;
}

static bool iface_taken(json_t **defs, const char *iface)
{
	for (size_t i = 0; defs[i]; i++)
		if (strcmp(json_string_value(json_object_get(defs[i], "network_interface")) ?: "",
			   iface) == 0)
			return true;
	return false;
}

/* Pick the subnet (given or the next free /16 of 172.18-31) and the gateway. */
static int pick_subnet(json_t **defs, const struct net_def_opts *o, char sub[40], char gw[16],
		       struct hull_err *err)
{
	uint32_t net, g;
	int prefix;
	const char *other;
	char a[16];

	if (!o->subnet) {
		for (uint32_t b = 18; b <= 31; b++) {
			net = (172u << 24) | (b << 16);
			if (!overlaps(defs, net, 16, &other))
				goto found;
		}
		return hull_err_setx(err, ENOSPC, "no free subnet left in 172.18.0.0-172.31.0.0/16: "
				     "give one with --subnet");
	}
	if (net_cidr4_parse(o->subnet, &net, &prefix) < 0)
		return hull_err_setx(err, EINVAL, "--subnet %s: not an IPv4 subnet a.b.c.d/N "
				     "(N from 8 to 30)", o->subnet);
	if (net & ~net_prefix_mask(prefix))
		return hull_err_setx(err, EINVAL, "--subnet %s: host bits are set", o->subnet);
	if (overlaps(defs, net, prefix, &other))
		return hull_err_setx(err, EEXIST, "--subnet %s: overlaps the subnet of network %s",
				     o->subnet, other);
	if (0) {
found:
		prefix = 16;
	}
	net_ip4_format(net, a);
	(void)snprintf(sub, 40, "%s/%d", a, prefix);
	g = net + 1;
	if (o->gateway && (net_ip4_parse(o->gateway, &g) < 0 ||
			   (g & net_prefix_mask(prefix)) != net || g == net ||
			   g == (net | ~net_prefix_mask(prefix))))
		return hull_err_setx(err, EINVAL, "--gateway %s: not a host address of subnet %s",
				     o->gateway, sub);
	net_ip4_format(g, gw);
	return 0;
}

int net_def_create(const char *root, const char *name, const struct net_def_opts *o,
		   json_t **ret, struct hull_err *err)
{
	cleanup_free char *path = def_path(root, name);
	json_t **defs = NULL;
	char sub[40], gw[16], iface[16];
	json_t *def;
	int r;

	if (!net_name_is_valid(name) || strcmp(name, "none") == 0 || strcmp(name, "host") == 0)
		return hull_err_setx(err, EINVAL, "invalid network name '%s': use "
				     "[a-zA-Z0-9][a-zA-Z0-9_.-]*, not none or host", name);
	if (access(path, F_OK) == 0)
		return hull_err_setx(err, EEXIST, "network with name %s already exists", name);
	/* `bridge` takes its subnet and hull0 even before its first use */
	r = net_def_load(root, NET_DEFAULT, &def, err);
	if (r < 0)
		return r;
	json_decref(def);
	r = defs_load_all(root, name, &defs, err);
	if (r < 0)
		return r;
	r = pick_subnet(defs, o, sub, gw, err);
	for (unsigned n = 1; r == 0; n++) {
		(void)snprintf(iface, sizeof(iface), "hull%u", n);
		if (!iface_taken(defs, iface))
			break;
	}
	defs_free(defs);
	if (r < 0)
		return r;
	def = def_make(name, iface, sub, gw, o, true);
	r = def_write(root, def, err);
	if (r < 0 || !ret)
		json_decref(def);
	else
		*ret = def;
	return r;
}

static int bridge_create(const char *root, json_t **ret, struct hull_err *err)
{
	static const struct net_def_opts o = { 0 };
	json_t *def = def_make(NET_DEFAULT, "hull0", "172.17.0.0/16", "172.17.0.1", &o, false);
	int r = def_write(root, def, err);

	if (r < 0)
		json_decref(def);
	else
		*ret = def;
	return r;
}

int net_def_load(const char *root, const char *name, json_t **ret, struct hull_err *err)
{
	cleanup_free char *path = def_path(root, name);

	if (!net_name_is_valid(name))
		return hull_err_setx(err, EINVAL, "invalid network name '%s'", name);
	if (access(path, F_OK) < 0) {
		if (errno == ENOENT && strcmp(name, NET_DEFAULT) == 0)
			return bridge_create(root, ret, err);
		return hull_err_setx(err, ENOENT, "network %s not found", name);
	}
	return hjson_load_file(path, 1 << 20, ret, err);
}

int net_def_remove(const char *root, const char *name, struct hull_err *err)
{
	cleanup_free char *path = def_path(root, name);
	cleanup_free char *ipam = xasprintf("%s/networks/%s.ipam", root, name);

	if (unlink(path) < 0)
		return errno == ENOENT ? hull_err_setx(err, ENOENT, "network %s not found", name)
				       : hull_err_set(err, errno, "%s", path);
	(void)unlink(ipam);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **net_def_names(const char *root)
{
	cleanup_free char *dir = xasprintf("%s/networks", root);
	char **v = NULL;
	DIR *d = opendir(dir);
	struct dirent *e;

	strv_push(&v, NET_DEFAULT);
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
			char *n = xstrndup(e->d_name, len - 5);

			if (strcmp(n, NET_DEFAULT) != 0 && net_name_is_valid(n))
				strv_push_owned(&v, n);
			else
				free(n);
		}
	}
	if (d)
		(void)closedir(d);
	qsort(v, strv_length(v), sizeof(*v), cmp_str);
	return v;
}
