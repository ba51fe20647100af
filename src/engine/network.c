#include "engine/network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/netconnect.h"
#include "engine/netjoin.h"
#include "engine/vmnet.h"
#include "net/ipam.h"
#include "net/net.h"
#include "net/netavark.h"
#include "net/netdef.h"

#define NET_FILE "network.json"

static char *ns_dir(struct image_store *s)
{
	return xasprintf("%s/netns", s->root);
}

static char *ctrs_dir(struct image_store *s)
{
	return xasprintf("%s/containers", s->root);
}

/* The directories whose entries may own a network.json: containers, and the VMs of
 * `hull vm run --net network=` (engine/vmnet.h). */
static char *owner_dir(struct image_store *s, int k)
{
	return k == 0 ? ctrs_dir(s) : xasprintf("%s/" ENGINE_VMNET_DIR, s->root);
}

/* netavark's --config: its aardvark-dns configuration and lock live there */
static char *cfg_dir(struct image_store *s)
{
	return xasprintf("%s/networks/netavark", s->root);
}

json_t *engine_net_file_load(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, NET_FILE);
	json_t *v = NULL;
	struct hull_err e2;

	if (access(path, F_OK) < 0 || hjson_load_file(path, 1 << 20, &v, &e2) < 0)
		return NULL;
	return v;
}

int engine_net_file_save(const char *dir, json_t *v, struct hull_err *err)
{
	cleanup_free char *buf = hjson_dump(v, JSON_COMPACT);

	return ctr_write_file(dir, NET_FILE, buf, strlen(buf), 0600, err);
}

int engine_net_ns_path(struct image_store *s, const struct run_opts *o, const char *id,
		       char **ret, struct hull_err *err)
{
	enum net_mode m;
	int r = net_mode_parse(o->network, &m, err);

	*ret = NULL;
	if (r < 0)
		return r;
	if (m == NET_MODE_BRIDGE) {
		*ret = xasprintf("%s/netns/%s", s->root, id);
	} else if (m == NET_MODE_CONTAINER) {
		cleanup_ctr struct ctr *other = NULL;

		r = ctr_load(s, o->network + 10, &other, err);
		if (r < 0)
			return hull_err_prefix(err, "--network %s", o->network);
		if (ctr_status_live(other) != CTR_RUNNING)
			return hull_err_setx(err, EINVAL, "--network %s: container %s is not running",
					     o->network, other->name);
		/* a stable path: every start mounts the namespace of X's init of then there
		 * (engine/netjoin.h) */
		*ret = engine_netjoin_path(s, id);
	}
	return 0;
}

/* Whether host port p (tcp/udp) on ip can be bound now. */
static bool port_free(const char *ip, uint16_t p, const char *proto)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p) };
	int fd = socket(AF_INET, (strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM) |
				     SOCK_CLOEXEC, 0);
	int one = 1;
	bool ok;

	if (fd < 0)
		return false;
	if (*ip)
		(void)inet_pton(AF_INET, ip, &sa.sin_addr);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	(void)close(fd);
	return ok;
}

/* A free ephemeral port from the kernel (it is claimed in network.json under the lock). */
static uint16_t port_pick(const char *ip, const char *proto)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, (strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM) |
				     SOCK_CLOEXEC, 0);
	uint16_t p = 0;

	if (fd < 0)
		return 0;
	if (*ip)
		(void)inet_pton(AF_INET, ip, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		p = ntohs(sa.sin_port);
	(void)close(fd);
	return p;
}

static bool ports_overlap(const struct net_port *a, const struct net_port *b)
{
	return strcmp(a->proto, b->proto) == 0 && a->host_port && b->host_port &&
	       a->host_port < b->host_port + b->range && b->host_port < a->host_port + a->range &&
	       (!a->host_ip[0] || !b->host_ip[0] || strcmp(a->host_ip, b->host_ip) == 0);
}

/* The name of another container (or VM) with an active network that publishes a port of p. */
static char *port_claimed(struct image_store *s, const char *self, const struct net_port *p)
{
	char *owner = NULL;

	for (int k = 0; k < 2 && !owner; k++) {
		cleanup_free char *dir = owner_dir(s, k);
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d && !owner && (e = readdir(d))) {
			cleanup_free char *cd = xasprintf("%s/%s", dir, e->d_name);
			cleanup_json json_t *v = NULL;
			size_t i;
			json_t *pj;

			if (e->d_name[0] == '.' || strcmp(e->d_name, self) == 0)
				continue;
			v = engine_net_file_load(cd);
			if (!engine_net_ports_on(v))
				continue;
			json_array_foreach(json_object_get(v, "Ports"), i, pj) {
				struct net_port q;
				struct hull_err e2;

				if (net_port_from_json(pj, &q, &e2) == 0 && ports_overlap(p, &q)) {
					owner = xasprintf("%s %.12s", k ? "VM" : "container",
							  e->d_name);
					break;
				}
			}
		}
		if (d)
			(void)closedir(d);
	}
	return owner;
}

/* Every host port of p must be free: bound by nobody and claimed by no other container. */
static int ports_check(struct image_store *s, const char *self, const struct net_port *p,
		       struct hull_err *err)
{
	cleanup_free char *owner = NULL;

	if (!p->host_port)
		return 0;
	for (unsigned i = 0; i < p->range; i++)
		if (!port_free(p->host_ip, (uint16_t)(p->host_port + i), p->proto))
			return hull_err_setx(err, EADDRINUSE, "-p: host port %s%s%u/%s is already "
					     "in use", p->host_ip, p->host_ip[0] ? ":" : "",
					     p->host_port + i, p->proto);
	owner = port_claimed(s, self, p);
	if (owner)
		return hull_err_setx(err, EADDRINUSE, "-p: host port %s%s%u/%s is already "
				     "published by %s", p->host_ip,
				     p->host_ip[0] ? ":" : "", p->host_port, p->proto, owner);
	return 0;
}

/* -p values and, with -P, the image's ExposedPorts ("80/tcp") on chosen host ports. */
/* A mapping of a host port range counts as its length: each port is a socket and rules. */
static int ports_push(json_t *ports, const struct net_port *q, const char *flag,
		      unsigned *total, struct hull_err *err)
{
	*total += q->range;
	if (*total > NET_PORTS_MAX)
		return hull_err_setx(err, E2BIG, "%s: more than %d published ports for one "
				     "container", flag, NET_PORTS_MAX);
	(void)json_array_append_new(ports, net_port_to_json(q));
	return 0;
}

/* -P: each ExposedPorts key of the image, on a free host port of every address. */
static int ports_exposed(const struct run_opts *o, json_t *icfg, json_t *ports,
			 unsigned *total, struct hull_err *err)
{
	const char *key;
	json_t *val;

	json_object_foreach(json_object_get(icfg, "ExposedPorts"), key, val) {
		struct net_port p;
		int r;

		(void)val;
		if (net_port_parse_exposed(key, &p) < 0)
			return hull_err_setx(err, EINVAL, "-P: image %s exposes '%s': not "
					     "PORT[-PORT][/tcp|udp]", o->image, key);
		for (unsigned k = 0; k < p.range; k++) {
			struct net_port q = p;

			q.host_ip[0] = '\0';
			q.host_port = 0;
			q.container_port = (uint16_t)(p.container_port + k);
			q.range = 1;
			r = ports_push(ports, &q, "-P", total, err);
			if (r < 0)
				return hull_err_setx(err, E2BIG, "-P: image %s exposes '%s': more than "
						     "%d published ports for one container",
						     o->image, key, NET_PORTS_MAX);
		}
	}
	return 0;
}

static int ports_parse(const struct run_opts *o, json_t *icfg, json_t **ret,
		       struct hull_err *err)
{
	json_t *ports = json_array();
	unsigned total = 0;

	*ret = ports;
	for (size_t i = 0; o->publish && o->publish[i]; i++) {
		struct net_port p;
		int r = net_port_parse(o->publish[i], &p, err);

		if (r < 0)
			return r;
		/* a range on chosen host ports: one mapping each, the kernel picks */
		for (unsigned k = 0; k < (p.host_port ? 1u : p.range); k++) {
			struct net_port q = p;

			if (!p.host_port) {
				q.container_port = (uint16_t)(p.container_port + k);
				q.range = 1;
			}
			r = ports_push(ports, &q, "-p", &total, err);
			if (r < 0)
				return r;
		}
	}
	return o->publish_all ? ports_exposed(o, icfg, ports, &total, err) : 0;
}

/* docker's /etc/hosts: localhost, the --add-host entries, the container's own address. */
static int hosts_write(const char *dir, char *const *add, const char *gw, const char *ip,
		       const char *hostname, struct hull_err *err)
{
	char *buf = xstrdup("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			    "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\t"
			    "ip6-allnodes\nff02::2\tip6-allrouters\n");
	int r;

	for (size_t i = 0; add && add[i]; i++) {
		const char *sep = strchr(add[i], ':');
		cleanup_free char *host = xstrndup(add[i], sep ? (size_t)(sep - add[i]) : 0);
		const char *addr = sep ? sep + 1 : "";
		char *n;

		if (strcmp(addr, "host-gateway") == 0 && gw && !*gw)
			continue; /* a start with no network left: no host address to give */
		if (strcmp(addr, "host-gateway") == 0 && gw)
			addr = gw;
		if (!sep || !net_host_name_is_valid(host, 253) || !net_ip_is_valid(addr)) {
			free(buf);
			return hull_err_setx(err, EINVAL, "--add-host %s: use HOST:IP", add[i]);
		}
		n = xasprintf("%s%s\t%s\n", buf, addr, host);
		free(buf);
		buf = n;
	}
	if (ip) {
		char *n = xasprintf("%s%s\t%s\n", buf, ip, hostname);

		free(buf);
		buf = n;
	}
	r = ctr_write_file(dir, "hosts", buf, strlen(buf), 0644, err);
	free(buf);
	return r;
}

/* The host's name servers other than loopback ones (they mean nothing in the container). */
static void host_resolv(char ***ns, char ***search)
{
	FILE *f = fopen("/etc/resolv.conf", "re");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		char a[256];

		if (sscanf(line, "nameserver %255s", a) == 1 && strncmp(a, "127.", 4) != 0 &&
		    strcmp(a, "::1") != 0)
			strv_push(ns, a);
		else if (sscanf(line, "search %255[^\n]", a) == 1 && !*search)
			strv_push(search, a);
	}
	if (f)
		(void)fclose(f);
}

/*
 * docker's resolv.conf: dns (--dns), or the networks' DNS (aardvark on their gateways, gws),
 * or the host's; dns_search (--dns-search) or the host's search.
 */
static char *resolv_text(char *const *dns, char *const *dns_search, char *const *gws)
{
	cleanup_strv char **ns = NULL;
	cleanup_strv char **search = NULL;
	cleanup_strv char **hns = NULL;
	char *buf = xstrdup("");

	if (dns && *dns)
		ns = strv_dup(dns);
	else if (gws && *gws)
		ns = strv_dup(gws);
	if (!dns || !*dns)
		host_resolv(&hns, &search);
	if (!ns) {
		ns = hns;
		hns = NULL;
	}
	if (!ns) {
		strv_push(&ns, "8.8.8.8");
		strv_push(&ns, "8.8.4.4");
	}
	if (dns_search && *dns_search) {
		strv_free(search);
		search = strv_dup(dns_search);
	}
	for (size_t i = 0; i < 2; i++) {
		char **v = i ? ns : search;

		for (size_t k = 0; v && v[k]; k++) {
			char *n = xasprintf("%s%s%s%s", buf, i ? "nameserver " : (k ? " " : "search "),
					    v[k], i || !v[k + 1] ? "\n" : "");

			free(buf);
			buf = n;
		}
	}
	return buf;
}

static int resolv_write(const char *dir, const struct run_opts *o, json_t *def,
			const char *gw, struct hull_err *err)
{
	cleanup_strv char **gws = NULL;
	cleanup_free char *buf = NULL;

	if (json_is_true(json_object_get(def, "dns_enabled")))
		strv_push(&gws, gw);
	buf = resolv_text(o->dns, o->dns_search, gws);
	return ctr_write_file(dir, "resolv.conf", buf, strlen(buf), 0644, err);
}

/* gw of network name when its DNS is on, pushed to gws. */
static void dns_gw_push(struct image_store *s, const char *name, const char *gw, char ***gws)
{
	cleanup_json json_t *def = NULL;
	struct hull_err e2;

	if (name && gw && *gw && net_def_load(s->root, name, &def, &e2) == 0 &&
	    json_is_true(json_object_get(def, "dns_enabled")))
		strv_push(gws, gw);
}

void engine_net_resolv_refresh(struct image_store *s, const char *dir, json_t *v)
{
	cleanup_strv char **dns = NULL;
	cleanup_strv char **search = NULL;
	cleanup_strv char **gws = NULL;
	cleanup_free char *path = xasprintf("%s/resolv.conf", dir);
	cleanup_free char *want = NULL;
	cleanup_free char *cur = NULL;
	cleanup_close int fd = -1;
	struct hull_err e2;
	size_t len = 0, i;
	json_t *e;

	(void)hjson_get_strv(v, "Dns", "network.json", false, 256, &dns, &e2);
	(void)hjson_get_strv(v, "DnsSearch", "network.json", false, 256, &search, &e2);
	if (engine_net_ports_on(v))
		dns_gw_push(s, engine_net_primary(v), json_string_value(json_object_get(v,
											"Gateway")),
			    &gws);
	json_array_foreach(json_object_get(v, "Extra"), i, e)
		if (json_is_true(json_object_get(e, "Active")))
			dns_gw_push(s, json_string_value(json_object_get(e, "Network")),
				    json_string_value(json_object_get(e, "Gateway")), &gws);
	want = resolv_text(dns, search, gws);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 20, &cur, &len) == 0 && len == strlen(want) &&
	    memcmp(cur, want, len) == 0)
		return;
	/* in place: the running container has this inode bind-mounted */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		(void)fd_write_all(fd, want, strlen(want));
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		(void)json_array_append_new(a, json_string(v[i]));
	return a;
}

static char *hostname_of(const struct run_opts *o, const char *id)
{
	return o->hostname ? xstrdup(o->hostname) : xstrndup(id, 12);
}

static int check_request(struct image_store *s, const struct run_opts *o, json_t *def,
			 json_t *ports, const char *id, struct hull_err *err)
{
	uint32_t net, gw, ip;
	int prefix, r;
	size_t i;
	json_t *pj;

	if (o->ip) {
		if (net_ip4_parse(o->ip, &ip) < 0)
			return hull_err_setx(err, EINVAL, "--ip %s: not an IPv4 address", o->ip);
		if (net_def_subnet4(def, &net, &prefix, &gw) < 0 ||
		    (ip & net_prefix_mask(prefix)) != net || ip == gw || ip == net ||
		    ip == (net | ~net_prefix_mask(prefix)))
			return hull_err_setx(err, EINVAL, "--ip %s: not a host address of network "
					     "%s", o->ip, json_string_value(json_object_get(def,
											    "name")));
	}
	json_array_foreach(ports, i, pj) {
		struct net_port p;

		r = net_port_from_json(pj, &p, err);
		if (r == 0)
			r = ports_check(s, id, &p, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int engine_net_create(struct image_store *s, const struct run_opts *o, json_t *icfg,
		      const char *id, const char *name, const char *dir, struct hull_err *err)
{
	cleanup_free char *hostname = hostname_of(o, id);
	cleanup_free char *nsp = xasprintf("%s/netns/%s", s->root, id);
	cleanup_json json_t *def = NULL;
	cleanup_json json_t *ports = NULL;
	cleanup_close int lock = -1;
	const char *netname = o->network && strcmp(o->network, "default") != 0 ? o->network
									      : NET_DEFAULT;
	enum net_mode m;
	char gw[16];
	uint32_t n, g;
	int prefix, r;
	json_t *v;

	r = net_mode_parse(o->network, &m, err);
	if (r < 0)
		return r;
	if (m != NET_MODE_BRIDGE) {
		if (o->publish || o->publish_all || o->ip || o->aliases || o->mac_address)
			return hull_err_setx(err, EINVAL, "--network %s: %s needs a bridge network",
					     net_mode_name(m), o->ip ? "--ip" : o->aliases
					     ? "--network-alias" : o->mac_address ? "--mac-address"
					     : "-p/-P");
		/* config.c's /etc/hosts stands unless there are --add-host entries */
		return m == NET_MODE_HOST || !o->add_host
			       ? 0 : hosts_write(dir, o->add_host, NULL, "127.0.1.1", hostname, err);
	}
	r = ports_parse(o, icfg, &ports, err);
	if (r == 0 && (r = lock = net_lock(s->root, err)) >= 0 &&
	    (r = net_def_load(s->root, netname, &def, err)) < 0)
		(void)hull_err_prefix(err, "--network %s", netname);
	if (r >= 0)
		r = check_request(s, o, def, ports, id, err);
	if (r < 0)
		return r;
	(void)net_def_subnet4(def, &n, &prefix, &g);
	net_ip4_format(g, gw);
	v = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:b}", "Network",
		      netname, "Name", name, "Hostname", hostname, "Netns", nsp, "Aliases",
		      strv_json(o->aliases), "IP", o->ip ? o->ip : "", "Ports", json_incref(ports),
		      "Dns", strv_json(o->dns), "DnsSearch", strv_json(o->dns_search),
		      "ExtraHosts", strv_json(o->add_host), "Active", false);
	if (o->mac_address) /* netavark's static_mac (netavark_opts); lower case from the CLI */
		(void)json_object_set_new(v, "Mac", json_string(o->mac_address));
	r = hosts_write(dir, o->add_host, gw, NULL, NULL, err);
	if (r == 0)
		r = resolv_write(dir, o, def, gw, err);
	if (r == 0)
		r = engine_net_file_save(dir, v, err);
	json_decref(v);
	return r;
}

/* netavark's options for this container (the same for setup and teardown). */
static json_t *netavark_opts(const char *id, json_t *v, json_t *def, const char *ip)
{
	const char *netname = json_string_value(json_object_get(v, "Network"));
	const char *name = json_string_value(json_object_get(v, "Name"));
	json_t *aliases = json_array();
	json_t *ips = json_array();
	const char *mac;
	json_t *opts;
	size_t i;
	json_t *a;

	(void)json_array_append_new(aliases, json_string(name ? name : ""));
	json_array_foreach(json_object_get(v, "Aliases"), i, a)
		(void)json_array_append(aliases, a);
	if (ip && *ip) {
		uint32_t a4;
		char *v6;

		(void)json_array_append_new(ips, json_string(ip));
		/* netavark wants one address per subnet */
		if (net_ip4_parse(ip, &a4) == 0 && (v6 = net_def_ip6_of(def, a4))) {
			(void)json_array_append_new(ips, json_string(v6));
			free(v6);
		}
	}
	opts = json_pack("{s:s, s:s, s:O, s:{s:{s:o, s:o, s:s}}, s:{s:O}}", "container_id", id,
			 "container_name", name ? name : "", "port_mappings",
			 json_object_get(v, "Ports"), "networks", netname, "static_ips", ips,
			 "aliases", aliases, "interface_name", "eth0", "network_info", netname,
			 def);
	/* a VM's mac= (engine/vmnet.h): eth0 gets the guest's address */
	mac = json_string_value(json_object_get(v, "Mac"));
	if (mac && *mac)
		(void)json_object_set_new(json_object_get(json_object_get(opts, "networks"),
							  netname), "static_mac", json_string(mac));
	return opts;
}

bool engine_net_ports_on(json_t *v)
{
	return json_is_true(json_object_get(v, "Active")) && engine_net_primary(v);
}

const char *engine_net_host_gateway(json_t *v)
{
	size_t i;
	json_t *e;

	if (engine_net_ports_on(v))
		return json_string_value(json_object_get(v, "Gateway"));
	json_array_foreach(json_object_get(v, "Extra"), i, e)
		if (json_is_true(json_object_get(e, "Active")) &&
		    json_string_value(json_object_get(e, "Gateway")))
			return json_string_value(json_object_get(e, "Gateway"));
	return "";
}

const char *engine_net_primary(json_t *v)
{
	const char *n = json_string_value(json_object_get(v, "Network"));

	return n && *n ? n : NULL;
}

void engine_net_primary_teardown_locked(struct image_store *s, const char *id, json_t *v)
{
	const char *netname = engine_net_primary(v);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));
	cleanup_free char *cfg = cfg_dir(s);
	cleanup_json json_t *def = NULL;
	struct hull_err e2;
	struct stat st;

	if (!netname)
		return;
	if (nsp && stat(nsp, &st) == 0 && net_def_load(s->root, netname, &def, &e2) == 0) {
		cleanup_json json_t *opts = netavark_opts(id, v, def,
			json_string_value(json_object_get(v, "IPAddress")));

		(void)netavark_run(cfg, "teardown", nsp, opts, NULL, &e2);
	}
	(void)ipam_release(s->root, netname, id, &e2);
	(void)json_object_del(v, "IPAddress");
	(void)json_object_del(v, "MacAddress");
}

/*
 * Caller holds the lock. The namespace lives from setup to here, whatever networks the
 * container has then: `network disconnect` may have left it none (loopback only), or only
 * networks `connect` gave it.
 */
static void teardown_locked(struct image_store *s, const char *id, const char *dir, json_t *v)
{
	const char *nsp = json_string_value(json_object_get(v, "Netns"));
	struct hull_err e2;

	if (!json_is_true(json_object_get(v, "Active")) || !nsp)
		return;
	engine_net_extras_teardown_locked(s, id, v); /* network connect's, first */
	engine_net_primary_teardown_locked(s, id, v);
	(void)netns_remove(nsp);
	(void)json_object_set_new(v, "Active", json_false());
	(void)engine_net_file_save(dir, v, &e2);
}

void engine_net_teardown_dir_locked(struct image_store *s, const char *id, const char *dir)
{
	cleanup_json json_t *v = engine_net_file_load(dir);

	if (v)
		teardown_locked(s, id, dir, v);
}

void engine_net_teardown_dir(struct image_store *s, const char *id, const char *dir)
{
	cleanup_json json_t *v = engine_net_file_load(dir);
	cleanup_close int lock = -1;
	struct hull_err e2;

	if (!json_is_true(json_object_get(v, "Active")))
		return;
	lock = net_lock(s->root, &e2);
	/* again under the lock: another hull may have torn it down meanwhile */
	engine_net_teardown_dir_locked(s, id, dir);
}

void engine_net_teardown(struct image_store *s, struct ctr *c)
{
	engine_netjoin_teardown(s, c);
	engine_net_teardown_dir(s, c->id, c->dir);
}

/* Host ports chosen now for mappings without one; all checked free. */
static int ports_resolve(struct image_store *s, const char *id, json_t *ports,
			 struct hull_err *err)
{
	size_t i;
	json_t *pj;

	json_array_foreach(ports, i, pj) {
		struct net_port p;
		int r = net_port_from_json(pj, &p, err);

		if (r == 0 && !p.host_port) {
			p.host_port = port_pick(p.host_ip, p.proto);
			(void)json_object_set_new(pj, "host_port", json_integer(p.host_port));
		}
		if (r == 0)
			r = ports_check(s, id, &p, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Record what netavark's reply says about our interface. */
static int reply_apply(json_t *v, json_t *reply, struct hull_err *err)
{
	json_t *nr = json_object_get(reply, json_string_value(json_object_get(v, "Network")));
	json_t *eth = json_object_get(json_object_get(nr, "interfaces"), "eth0");
	json_t *sn = json_array_get(json_object_get(eth, "subnets"), 0);
	const char *ipnet = json_string_value(json_object_get(sn, "ipnet"));
	const char *gw = json_string_value(json_object_get(sn, "gateway"));
	const char *mac = json_string_value(json_object_get(eth, "mac_address"));
	const char *slash = ipnet ? strchr(ipnet, '/') : NULL;
	cleanup_free char *ip = slash ? xstrndup(ipnet, (size_t)(slash - ipnet)) : NULL;

	if (!ip)
		return hull_err_setx(err, EIO, "netavark setup: no address in its reply");
	(void)json_object_set_new(v, "IPAddress", json_string(ip));
	(void)json_object_set_new(v, "IPPrefixLen", json_integer(strtol(slash + 1, NULL, 10)));
	(void)json_object_set_new(v, "Gateway", json_string(gw ? gw : ""));
	(void)json_object_set_new(v, "MacAddress", json_string(mac ? mac : ""));
	return 0;
}

int engine_net_primary_setup_locked(struct image_store *s, const char *id, const char *dir,
				    json_t *v, struct hull_err *err)
{
	const char *netname = engine_net_primary(v);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));
	const char *want = json_string_value(json_object_get(v, "IP"));
	cleanup_free char *cfg = cfg_dir(s);
	cleanup_free char *cd = ctrs_dir(s);
	cleanup_json json_t *def = NULL;
	cleanup_json json_t *opts = NULL;
	cleanup_json json_t *reply = NULL;
	uint32_t wanted = 0, ip = 0;
	char ips[16];
	int r;

	if (!netname)
		return 0;
	r = net_def_load(s->root, netname, &def, err);
	if (r == 0)
		r = ports_resolve(s, id, json_object_get(v, "Ports"), err);
	if (r == 0)
		r = engine_net_file_save(dir, v, err); /* the host ports chosen */
	if (r == 0 && want && *want)
		(void)net_ip4_parse(want, &wanted);
	if (r == 0)
		r = ipam_alloc(s->root, def, cd, id, wanted, &ip, err);
	net_ip4_format(ip, ips);
	if (r == 0) {
		/* recorded before netavark runs: killed during its setup, the teardown must
		 * give netavark the address (its teardown panics on no static_ips and leaves
		 * the network's firewall chains) */
		(void)json_object_set_new(v, "IPAddress", json_string(ips));
		r = engine_net_file_save(dir, v, err);
	}
	if (r == 0) {
		opts = netavark_opts(id, v, def, ips);
		r = netavark_run(cfg, "setup", nsp, opts, &reply, err);
	}
	if (r == 0)
		r = reply_apply(v, reply, err);
	if (r == 0)
		r = engine_net_file_save(dir, v, err);
	return r;
}

/* The namespace (loopback up), then the first network when the container still has it. */
static int setup_locked(struct image_store *s, const char *id, const char *dir, json_t *v,
			struct hull_err *err)
{
	const char *nsp = json_string_value(json_object_get(v, "Netns"));
	cleanup_free char *nsd = ns_dir(s);
	cleanup_free char *cfg = cfg_dir(s);
	int r;

	/* Active before the first resource exists: whatever kills us from here on, the
	 * next teardown knows there is something to undo */
	(void)json_object_set_new(v, "Active", json_true());
	r = engine_net_file_save(dir, v, err);
	if (r == 0 && mkdir(nsd, 0700) < 0 && errno != EEXIST)
		r = hull_err_set(err, errno, "%s", nsd);
	if (r == 0 && mkdir(cfg, 0700) < 0 && errno != EEXIST)
		r = hull_err_set(err, errno, "%s", cfg);
	if (r == 0)
		r = netns_create(nsp, err);
	if (r == 0)
		r = engine_net_primary_setup_locked(s, id, dir, v, err);
	return r;
}

int engine_net_setup_dir(struct image_store *s, const char *id, const char *dir,
			 struct hull_err *err)
{
	cleanup_json json_t *v = engine_net_file_load(dir);
	cleanup_close int lock = -1;
	cleanup_strv char **extra = NULL;
	const char *gw;
	int r;

	if (!v)
		return 0;
	lock = net_lock(s->root, err);
	if (lock < 0)
		return lock;
	json_decref(v);
	v = engine_net_file_load(dir);
	if (!v)
		return 0;
	/* what a killed hull left of an earlier start, or of a connect or disconnect */
	teardown_locked(s, id, dir, v);
	engine_net_pending_repair_locked(s, id, dir, v);
	r = setup_locked(s, id, dir, v, err);
	if (r == 0)
		r = engine_net_extras_setup_locked(s, id, dir, v, err);
	gw = engine_net_host_gateway(v);
	if (r == 0) {
		(void)hjson_get_strv(v, "ExtraHosts", "network.json", false, 256, &extra, err);
		r = hosts_write(dir, extra, gw, json_string_value(json_object_get(v, "IPAddress")),
				json_string_value(json_object_get(v, "Hostname")), err);
		if (r == 0)
			engine_net_extras_hosts(dir, v);
		if (r == 0)
			engine_net_resolv_refresh(s, dir, v);
	}
	if (r < 0) {
		struct hull_err e2 = *err;

		teardown_locked(s, id, dir, v);
		*err = e2;
	}
	return r;
}

int engine_net_setup(struct image_store *s, struct ctr *c, struct hull_err *err)
{
	if (engine_netjoin_target(c->host.network_mode))
		return engine_netjoin_setup(s, c, err);
	return engine_net_setup_dir(s, c->id, c->dir, err);
}

json_t *engine_net_settings(struct ctr *c)
{
	cleanup_json json_t *v = engine_net_file_load(c->dir);
	bool on = engine_net_ports_on(v); /* the first network's, and its ports */
	json_t *ports = json_object();
	json_t *nets = json_object();
	const char *ip = on ? json_string_value(json_object_get(v, "IPAddress")) : NULL;
	const char *gw = on ? json_string_value(json_object_get(v, "Gateway")) : NULL;
	const char *mac = on ? json_string_value(json_object_get(v, "MacAddress")) : NULL;
	json_int_t plen = on ? json_integer_value(json_object_get(v, "IPPrefixLen")) : 0;
	size_t i;
	json_t *pj;

	json_array_foreach(json_object_get(v, "Ports"), i, pj) {
		struct net_port p;
		struct hull_err e2;

		if (net_port_from_json(pj, &p, &e2) < 0)
			continue;
		for (unsigned k = 0; k < p.range; k++) {
			cleanup_free char *key = xasprintf("%u/%s", p.container_port + k, p.proto);
			cleanup_free char *hp = xasprintf("%u", p.host_port ? p.host_port + k : 0);
			json_t *b = json_object_get(ports, key);

			if (!b)
				(void)json_object_set_new(ports, key, b = json_array());
			if (on)
				(void)json_array_append_new(b, json_pack("{s:s, s:s}", "HostIp",
									 p.host_ip[0] ? p.host_ip
										      : "0.0.0.0",
									 "HostPort", hp));
		}
	}
	if (engine_net_primary(v))
		(void)json_object_set_new(nets, engine_net_primary(v),
					  json_pack("{s:O, s:s, s:s, s:I, s:s}", "Aliases",
						    json_object_get(v, "Aliases"), "IPAddress",
						    ip ? ip : "", "Gateway", gw ? gw : "",
						    "IPPrefixLen", plen, "MacAddress", mac ? mac : ""));
	engine_net_extras_settings(v, nets);
	return json_pack("{s:s, s:s, s:I, s:s, s:o, s:o, s:s}", "IPAddress", ip ? ip : "",
			 "Gateway", gw ? gw : "", "IPPrefixLen", plen, "MacAddress",
			 mac ? mac : "", "Ports", ports, "Networks", nets, "SandboxKey",
			 json_is_true(json_object_get(v, "Active"))
			 ? json_string_value(json_object_get(v, "Netns")) : "");
}

static char **port_strings(struct ctr *c, bool port_cmd)
{
	cleanup_json json_t *v = engine_net_file_load(c->dir);
	char **out = NULL;
	size_t i;
	json_t *pj;

	json_array_foreach(json_object_get(v, "Ports"), i, pj) {
		struct net_port p;
		struct hull_err e2;
		const char *hip;

		if (net_port_from_json(pj, &p, &e2) < 0)
			continue;
		hip = p.host_ip[0] ? p.host_ip : "0.0.0.0";
		if (!engine_net_ports_on(v) || !p.host_port) {
			if (!port_cmd)
				strv_push_owned(&out, xasprintf("%u/%s", p.container_port, p.proto));
		} else if (port_cmd)
			for (unsigned k = 0; k < p.range; k++)
				strv_push_owned(&out, xasprintf("%u/%s -> %s:%u", p.container_port + k,
								p.proto, hip, p.host_port + k));
		else if (p.range > 1)
			strv_push_owned(&out, xasprintf("%s:%u-%u->%u-%u/%s", hip, p.host_port,
							p.host_port + p.range - 1, p.container_port,
							p.container_port + p.range - 1, p.proto));
		else
			strv_push_owned(&out, xasprintf("%s:%u->%u/%s", hip, p.host_port,
							p.container_port, p.proto));
	}
	return out;
}

char *engine_net_ports_text(struct ctr *c)
{
	cleanup_strv char **v = port_strings(c, false);
	char *s = xstrdup("");

	for (size_t i = 0; v && v[i]; i++) {
		char *n = xasprintf("%s%s%s", s, i ? ", " : "", v[i]);

		free(s);
		s = n;
	}
	return s;
}

char **engine_net_port_lines(struct ctr *c)
{
	return port_strings(c, true);
}

char **engine_net_users(struct image_store *s, const char *network)
{
	cleanup_free char *dir = ctrs_dir(s);
	DIR *d = opendir(dir);
	struct dirent *e;
	char **out = NULL;

	while (d && (e = readdir(d))) {
		cleanup_free char *cd = xasprintf("%s/%s", dir, e->d_name);
		cleanup_json json_t *v = NULL;

		if (e->d_name[0] == '.')
			continue;
		v = engine_net_file_load(cd);
		if ((engine_net_primary(v) && strcmp(engine_net_primary(v), network) == 0) ||
		    engine_net_extras_use(v, network))
			strv_push_owned(&out, xstrndup(e->d_name, 12));
	}
	if (d)
		(void)closedir(d);
	engine_vmnet_users(s, network, &out);
	return out;
}

/* Namespace files whose container directory is gone (removed by hand, or a crash between
 * teardown steps): unmount and delete. */
static unsigned prune_orphan_netns(struct image_store *s)
{
	cleanup_free char *nsd = ns_dir(s);
	cleanup_free char *cd = ctrs_dir(s);
	DIR *d = opendir(nsd);
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d))) {
		cleanup_free char *dir = xasprintf("%s/%s", cd, e->d_name);
		cleanup_free char *vm = xasprintf("%s/" ENGINE_VMNET_DIR "/%s", s->root, e->d_name);
		cleanup_free char *p = xasprintf("%s/%s", nsd, e->d_name);

		if (e->d_name[0] == '.' || access(dir, F_OK) == 0 || access(vm, F_OK) == 0)
			continue;
		if (netns_remove(p) == 0)
			n++;
	}
	if (d)
		(void)closedir(d);
	return n;
}

int engine_net_prune_leftovers(struct image_store *s, unsigned *ret_n, struct hull_err *err)
{
	struct ctr **all = NULL;
	int r = ctr_list(s, &all, err);

	*ret_n = 0;
	if (r < 0)
		return r;
	for (size_t i = 0; all[i]; i++) {
		cleanup_json json_t *v = engine_net_file_load(all[i]->dir);

		if (json_is_true(json_object_get(v, "Active")) &&
		    ctr_status_live(all[i]) != CTR_RUNNING) {
			engine_net_teardown(s, all[i]);
			(*ret_n)++;
		}
	}
	ctr_list_free(all);
	/* the VMs' first: their namespace files are orphans once their records are gone */
	*ret_n += engine_vmnet_prune(s);
	*ret_n += prune_orphan_netns(s);
	return 0;
}
