/*
 * `hull network connect` and `disconnect` (docs/engine.md "Networks"): the networks a
 * container joined after create are network.json's "Extra" array, one object each:
 *
 *   Network, Aliases, IP (--ip), Interface ("eth1"...)   -- the request
 *   Active, IPAddress, IPPrefixLen, Gateway, MacAddress   -- what setup gave
 *
 * They are set up after the container's first network at every start and torn down with it
 * (engine/network.c calls in here under the network lock), and set up or torn down one by
 * one when the container runs.
 */
#include "engine/netconnect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/network.h"
#include "net/ipam.h"
#include "net/net.h"
#include "net/netavark.h"
#include "net/netdef.h"

#define EXTRA_MAX 16

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * The container's /etc/hosts (dir/hosts) without the line of drop_ip and with "add_ip
 * hostname" (either NULL for none). Written in place, as docker does: the file is
 * bind-mounted into the running container, and a rename would leave it the old inode.
 */
static int hosts_edit(const char *dir, const char *drop_ip, const char *add_ip,
		      const char *hostname, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/hosts", dir);
	cleanup_free char *buf = NULL;
	cleanup_free char *out = xstrdup("");
	cleanup_close int fd = -1;
	char *save = NULL;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);

	if (r < 0)
		return hull_err_set(err, -r, "%s", path);
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t n = drop_ip ? strlen(drop_ip) : 0;
		char *next;

		if (drop_ip && strncmp(l, drop_ip, n) == 0 && l[n] == '\t')
			continue;
		next = xasprintf("%s%s\n", out, l);
		free(out);
		out = next;
	}
	if (add_ip) {
		char *next = xasprintf("%s%s\t%s\n", out, add_ip, hostname ? hostname : "");

		free(out);
		out = next;
	}
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || (r = fd_write_all(fd, out, strlen(out))) < 0)
		return hull_err_set(err, fd < 0 ? errno : -r, "%s", path);
	return 0;
}

void engine_net_extras_hosts(const char *dir, json_t *v)
{
	struct hull_err e2;
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, "Extra"), i, e)
		if (json_is_true(json_object_get(e, "Active")) && str(e, "IPAddress"))
			(void)hosts_edit(dir, NULL, str(e, "IPAddress"), str(v, "Hostname"), &e2);
}

/* netavark's options for one extra network e of the container (setup and teardown). */
static json_t *extra_opts(const char *id, const char *name, json_t *e, json_t *def,
			  const char *ip)
{
	json_t *aliases = json_array();
	json_t *ips = json_array();
	size_t i;
	json_t *a;

	(void)json_array_append_new(aliases, json_string(name));
	json_array_foreach(json_object_get(e, "Aliases"), i, a)
		(void)json_array_append(aliases, a);
	if (ip && *ip)
		(void)json_array_append_new(ips, json_string(ip));
	return json_pack("{s:s, s:s, s:{s:{s:o, s:o, s:s}}, s:{s:O}}", "container_id", id,
			 "container_name", name, "networks", str(e, "Network"), "static_ips", ips,
			 "aliases", aliases, "interface_name", str(e, "Interface"),
			 "network_info", str(e, "Network"), def);
}

static void extra_teardown(struct image_store *s, const char *id, const char *name,
			   const char *nsp, json_t *e)
{
	cleanup_free char *cfg = xasprintf("%s/networks/netavark", s->root);
	cleanup_json json_t *def = NULL;
	struct hull_err e2;
	struct stat st;

	if (!json_is_true(json_object_get(e, "Active")))
		return;
	if (nsp && stat(nsp, &st) == 0 && net_def_load(s->root, str(e, "Network"), &def, &e2) == 0) {
		cleanup_json json_t *opts = extra_opts(id, name, e, def, str(e, "IPAddress"));

		(void)netavark_run(cfg, "teardown", nsp, opts, NULL, &e2);
	}
	(void)ipam_release(s->root, str(e, "Network"), id, &e2);
	(void)json_object_set_new(e, "Active", json_false());
	(void)json_object_del(e, "IPAddress");
	(void)json_object_del(e, "MacAddress");
}

/* What netavark's reply says about interface ifname on network. */
static int reply_apply(json_t *e, json_t *reply, struct hull_err *err)
{
	json_t *nr = json_object_get(reply, str(e, "Network"));
	json_t *eth = json_object_get(json_object_get(nr, "interfaces"), str(e, "Interface"));
	json_t *sn = json_array_get(json_object_get(eth, "subnets"), 0);
	const char *ipnet = str(sn, "ipnet");
	const char *slash = ipnet ? strchr(ipnet, '/') : NULL;

	if (!slash)
		return hull_err_setx(err, EIO, "netavark setup: no address in its reply");
	(void)json_object_set_new(e, "IPPrefixLen", json_integer(strtol(slash + 1, NULL, 10)));
	(void)json_object_set_new(e, "Gateway", json_string(str(sn, "gateway") ? str(sn, "gateway")
										: ""));
	(void)json_object_set_new(e, "MacAddress",
				  json_string(str(eth, "mac_address") ? str(eth, "mac_address") : ""));
	return 0;
}

/* Set up e in namespace nsp; the caller holds the lock and saves v (Active first). */
static int extra_setup(struct image_store *s, const char *id, const char *name, const char *dir,
		       const char *nsp, json_t *v, json_t *e, struct hull_err *err)
{
	cleanup_free char *cfg = xasprintf("%s/networks/netavark", s->root);
	cleanup_free char *cd = xasprintf("%s/containers", s->root);
	cleanup_json json_t *def = NULL;
	cleanup_json json_t *opts = NULL;
	cleanup_json json_t *reply = NULL;
	uint32_t want = 0, ip = 0;
	char ips[16];
	int r = net_def_load(s->root, str(e, "Network"), &def, err);

	if (r < 0)
		return r;
	/* Active before the address exists: a teardown after a kill releases it */
	(void)json_object_set_new(e, "Active", json_true());
	r = engine_net_file_save(dir, v, err);
	if (r == 0 && str(e, "IP") && *str(e, "IP"))
		(void)net_ip4_parse(str(e, "IP"), &want);
	if (r == 0)
		r = ipam_alloc(s->root, def, cd, id, want, &ip, err);
	if (r < 0)
		return r;
	net_ip4_format(ip, ips);
	/* recorded before netavark runs, as the first network's: killed during its setup, the
	 * teardown must give netavark the address (its teardown panics without static_ips) */
	(void)json_object_set_new(e, "IPAddress", json_string(ips));
	r = engine_net_file_save(dir, v, err);
	if (r < 0)
		return r;
	opts = extra_opts(id, name, e, def, ips);
	r = netavark_run(cfg, "setup", nsp, opts, &reply, err);
	if (r == 0)
		r = reply_apply(e, reply, err);
	if (r == 0)
		r = engine_net_file_save(dir, v, err);
	return r;
}

void engine_net_extras_teardown_locked(struct image_store *s, const char *id, json_t *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, "Extra"), i, e)
		extra_teardown(s, id, str(v, "Name") ? str(v, "Name") : "", str(v, "Netns"), e);
}

int engine_net_extras_setup_locked(struct image_store *s, const char *id, const char *dir,
				   json_t *v, struct hull_err *err)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, "Extra"), i, e) {
		int r = extra_setup(s, id, str(v, "Name") ? str(v, "Name") : "", dir,
				    str(v, "Netns"), v, e, err);

		if (r < 0)
			return hull_err_prefix(err, "network %s", str(e, "Network"));
	}
	return 0;
}

/* The index of network in v's Extra, or -1. */
static int extra_find(json_t *v, const char *network)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, "Extra"), i, e)
		if (strcmp(str(e, "Network"), network) == 0)
			return (int)i;
	return -1;
}

/* The first network's keys (engine/network.h) of v. */
static const char *const primary_keys[] = { "Network", "Aliases", "IP", "IPAddress",
					    "IPPrefixLen", "Gateway", "MacAddress", "Pending" };

static void primary_clear(json_t *v)
{
	for (size_t i = 0; i < sizeof(primary_keys) / sizeof(*primary_keys); i++)
		(void)json_object_del(v, primary_keys[i]);
}

static bool is_pending(json_t *o)
{
	return json_is_true(json_object_get(o, "Pending"));
}

/*
 * "Pending": true marks an endpoint (the first network's keys of v, or an Extra object) that
 * a connect or disconnect of a running container is changing: saved before the first
 * resource is made or undone, dropped once the change is whole. A hull killed in between
 * leaves it, and the next command under the lock (connect, disconnect, start) finishes the
 * change towards "not connected": a killed connect never reported success, a killed
 * disconnect had begun to undo. Without it a half-made endpoint (an address, no veth) would
 * stay in inspect and refuse the next connect as "already exists".
 */
void engine_net_pending_repair_locked(struct image_store *s, const char *id, const char *dir,
				      json_t *v)
{
	json_t *extra = json_object_get(v, "Extra");
	const char *name = str(v, "Name") ? str(v, "Name") : "";
	bool active = json_is_true(json_object_get(v, "Active")), changed = false;
	struct hull_err e2;

	for (size_t i = json_array_size(extra); i-- > 0;) {
		json_t *e = json_array_get(extra, i);

		if (!is_pending(e))
			continue;
		if (active && json_is_true(json_object_get(e, "Active")) && str(e, "IPAddress"))
			(void)hosts_edit(dir, str(e, "IPAddress"), NULL, NULL, &e2);
		extra_teardown(s, id, name, str(v, "Netns"), e);
		(void)json_array_remove(extra, i);
		changed = true;
	}
	if (is_pending(v)) {
		if (active && str(v, "IPAddress"))
			(void)hosts_edit(dir, str(v, "IPAddress"), NULL, NULL, &e2);
		engine_net_primary_teardown_locked(s, id, v);
		primary_clear(v);
		changed = true;
	}
	if (!changed)
		return;
	if (active)
		engine_net_resolv_refresh(s, dir, v);
	(void)engine_net_file_save(dir, v, &e2);
}

/* The container's network.json, under the lock, or docker's refusal for none/host/container. */
static int load_for_change(struct image_store *s, struct ctr *c, int *ret_lock, json_t **ret,
			   struct hull_err *err)
{
	*ret_lock = net_lock(s->root, err);
	if (*ret_lock < 0)
		return *ret_lock;
	*ret = engine_net_file_load(c->dir);
	if (!*ret) {
		const char *m = c->host.network_mode;

		if (strcmp(m, "host") == 0)
			return hull_err_setx(err, EINVAL, "container %s: container cannot be "
					     "disconnected from host network or connected to host "
					     "network", c->name);
		return hull_err_setx(err, EINVAL, "container %s: container sharing network "
				     "namespace with another container or host cannot be "
				     "connected to any other network (--network %s)", c->name, m);
	}
	engine_net_pending_repair_locked(s, c->id, c->dir, *ret);
	return 0;
}

static bool is_running(struct ctr *c, json_t *v)
{
	return ctr_status_live(c) == CTR_RUNNING && json_is_true(json_object_get(v, "Active"));
}

/* guest18: a running VM's NICs are fixed at its boot (no hot-plug through the engine yet) */
static int vm_running_refused(struct ctr *c, json_t *v, const char *verb, struct hull_err *err)
{
	if (!is_running(c, v) || !c->backend || strcmp(c->backend, "vm") != 0)
		return 0;
	return hull_err_setx(err, EOPNOTSUPP, "container %s runs in a VM: network %s while it "
			     "runs is not supported (stop it first; its networks are set at start)",
			     c->name, verb);
}

/* The next free interface name: eth1, eth2... */
static char *next_ifname(json_t *v)
{
	for (unsigned n = 1;; n++) {
		cleanup_free char *name = xasprintf("eth%u", n);
		bool used = false;
		size_t i;
		json_t *e;

		json_array_foreach(json_object_get(v, "Extra"), i, e)
			used = used || strcmp(str(e, "Interface"), name) == 0;
		if (!used)
			return steal_ptr(&name);
	}
}

/*
 * The container's first network is empty (`network disconnect` took it): network becomes it
 * again, eth0 with the container's published ports, as docker publishes them on the
 * endpoint that gives the default route.
 */
static int primary_connect(struct image_store *s, struct ctr *c, json_t *v, const char *network,
			   const char *ip, char *const *aliases, struct hull_err *err)
{
	json_t *al = json_array();
	int r;

	for (size_t i = 0; aliases && aliases[i]; i++)
		(void)json_array_append_new(al, json_string(aliases[i]));
	(void)json_object_set_new(v, "Network", json_string(network));
	(void)json_object_set_new(v, "Aliases", al);
	(void)json_object_set_new(v, "IP", json_string(ip ? ip : ""));
	if (!is_running(c, v))
		return engine_net_file_save(c->dir, v, err); /* set up at the next start */
	(void)json_object_set_new(v, "Pending", json_true()); /* saved by the setup, first */
	r = engine_net_primary_setup_locked(s, c->id, c->dir, v, err);
	if (r == 0)
		r = hosts_edit(c->dir, NULL, str(v, "IPAddress"), str(v, "Hostname"), err);
	if (r == 0) {
		(void)json_object_del(v, "Pending");
		r = engine_net_file_save(c->dir, v, err);
	}
	if (r < 0) {
		struct hull_err e2 = *err;

		engine_net_primary_teardown_locked(s, c->id, v);
		primary_clear(v);
		(void)engine_net_file_save(c->dir, v, err);
		*err = e2;
		return r;
	}
	engine_net_resolv_refresh(s, c->dir, v);
	return 0;
}

int engine_net_connect(struct image_store *s, struct ctr *c, const char *network,
		       const char *ip, char *const *aliases, struct hull_err *err)
{
	cleanup_close int lock = -1;
	cleanup_json json_t *v = NULL;
	cleanup_json json_t *def = NULL;
	cleanup_free char *ifname = NULL;
	json_t *e, *extra;
	int r = net_def_load(s->root, network, &def, err);

	if (r == -ENOENT)
		return hull_err_setx(err, ENOENT, "network %s not found", network);
	if (r == 0)
		r = load_for_change(s, c, &lock, &v, err);
	if (r == 0)
		r = vm_running_refused(c, v, "connect", err);
	if (r < 0)
		return r;
	if ((engine_net_primary(v) && strcmp(engine_net_primary(v), network) == 0) ||
	    extra_find(v, network) >= 0)
		return hull_err_setx(err, EEXIST, "endpoint with name %s already exists in network "
				     "%s", c->name, network);
	if (!engine_net_primary(v))
		return primary_connect(s, c, v, network, ip, aliases, err);
	extra = json_object_get(v, "Extra");
	if (!extra)
		(void)json_object_set_new(v, "Extra", extra = json_array());
	if (json_array_size(extra) >= EXTRA_MAX)
		return hull_err_setx(err, ENOSPC, "container %s: at most %d networks", c->name,
				     EXTRA_MAX + 1);
	ifname = next_ifname(v);
	e = json_pack("{s:s, s:o, s:s, s:s, s:b}", "Network", network, "Aliases",
		      json_array(), "IP", ip ? ip : "", "Interface", ifname, "Active", false);
	for (size_t i = 0; aliases && aliases[i]; i++)
		(void)json_array_append_new(json_object_get(e, "Aliases"), json_string(aliases[i]));
	(void)json_array_append_new(extra, e);
	if (!is_running(c, v))
		return engine_net_file_save(c->dir, v, err); /* set up at the next start */
	(void)json_object_set_new(e, "Pending", json_true()); /* saved by the setup, first */
	r = extra_setup(s, c->id, c->name, c->dir, str(v, "Netns"), v, e, err);
	if (r == 0)
		r = hosts_edit(c->dir, NULL, str(e, "IPAddress"), str(v, "Hostname"), err);
	if (r == 0) {
		(void)json_object_del(e, "Pending");
		r = engine_net_file_save(c->dir, v, err);
	}
	if (r < 0) {
		struct hull_err e2 = *err;

		extra_teardown(s, c->id, c->name, str(v, "Netns"), e);
		(void)json_array_remove(extra, json_array_size(extra) - 1);
		(void)engine_net_file_save(c->dir, v, err);
		*err = e2;
		return r;
	}
	engine_net_resolv_refresh(s, c->dir, v);
	return 0;
}

/*
 * Any network may go, the first included (docker's rule): the namespace is the container's
 * and outlives its networks; with none left it has loopback only. The first network's
 * published ports go with it and come back with the next network connected.
 */
int engine_net_disconnect(struct image_store *s, struct ctr *c, const char *network,
			  bool force, struct hull_err *err)
{
	cleanup_close int lock = -1;
	cleanup_json json_t *v = NULL;
	int r = load_for_change(s, c, &lock, &v, err), i;
	bool running;
	struct hull_err e2;

	(void)force; /* docker's -f forces an endpoint the daemon lost track of: none here */
	if (r == 0)
		r = vm_running_refused(c, v, "disconnect", err);
	if (r < 0)
		return r;
	running = is_running(c, v);
	i = extra_find(v, network);
	if (i < 0 && engine_net_primary(v) && strcmp(engine_net_primary(v), network) == 0) {
		(void)json_object_set_new(v, "Pending", json_true()); /* see pending_repair */
		if (running && (r = engine_net_file_save(c->dir, v, err)) < 0)
			return r;
		if (running && str(v, "IPAddress"))
			(void)hosts_edit(c->dir, str(v, "IPAddress"), NULL, NULL, &e2);
		if (json_is_true(json_object_get(v, "Active")))
			engine_net_primary_teardown_locked(s, c->id, v);
		primary_clear(v);
	} else if (i < 0) {
		return hull_err_setx(err, ENOENT, "container %s is not connected to network %s",
				     c->name, network);
	} else {
		json_t *e = json_array_get(json_object_get(v, "Extra"), (size_t)i);

		(void)json_object_set_new(e, "Pending", json_true()); /* see pending_repair */
		if (running && (r = engine_net_file_save(c->dir, v, err)) < 0)
			return r;
		if (running && json_is_true(json_object_get(e, "Active")) && str(e, "IPAddress"))
			(void)hosts_edit(c->dir, str(e, "IPAddress"), NULL, NULL, &e2);
		extra_teardown(s, c->id, c->name, str(v, "Netns"), e);
		(void)json_array_remove(json_object_get(v, "Extra"), (size_t)i);
	}
	if (running)
		engine_net_resolv_refresh(s, c->dir, v);
	return engine_net_file_save(c->dir, v, err);
}

void engine_net_extras_settings(json_t *v, json_t *nets)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(v, "Extra"), i, e) {
		bool on = json_is_true(json_object_get(e, "Active"));

		(void)json_object_set_new(
			nets, str(e, "Network"),
			json_pack("{s:O, s:s, s:s, s:I, s:s}", "Aliases", json_object_get(e, "Aliases"),
				  "IPAddress", on && str(e, "IPAddress") ? str(e, "IPAddress") : "",
				  "Gateway", on && str(e, "Gateway") ? str(e, "Gateway") : "",
				  "IPPrefixLen",
				  on ? json_integer_value(json_object_get(e, "IPPrefixLen")) : 0,
				  "MacAddress", on && str(e, "MacAddress") ? str(e, "MacAddress") : ""));
	}
}

bool engine_net_extras_use(json_t *v, const char *network)
{
	return extra_find(v, network) >= 0;
}
