/* A VM on a hull network: its record, set-up and teardown (engine/vmnet.h). */
#include "engine/vmnet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/ident.h"
#include "common/json.h"
#include "common/mac.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/network.h"
#include "engine/run.h"
#include "engine/vmnet-tap.h"
#include "net/net.h"
#include "net/netdef.h"
#include "oci/state.h"

#define VM_FILE "vm.json"
/* how long --del-net waits for the guest's eject before it leaves the tap to the VMM's end */
#define HOT_EJECT_WAIT_MS 60000

static char *vms_dir(struct image_store *s)
{
	return xasprintf("%s/" ENGINE_VMNET_DIR, s->root);
}

static json_t *vm_file_load(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/" VM_FILE, dir);
	json_t *v = NULL;
	struct hull_err e2;

	if (hjson_load_file(path, 1 << 16, &v, &e2) < 0)
		return NULL;
	return v;
}

/* Whether the `hull vm run` that made the record still runs: same pid and starttime. */
static bool owner_alive(json_t *vm)
{
	json_int_t pid = json_integer_value(json_object_get(vm, "Pid"));
	json_int_t want = json_integer_value(json_object_get(vm, "StartTicks"));
	unsigned long long start = 0;
	bool zombie = true;

	return pid > 0 && pid <= 0x7fffffff && want > 0 &&
	       proc_stat_read((pid_t)pid, &start, &zombie) == 0 && !zombie &&
	       start == (unsigned long long)want;
}

static bool entry_has_mac(json_t *x, const char *network, const char *mac)
{
	const char *n = json_string_value(json_object_get(x, "Network"));
	const char *m = json_string_value(json_object_get(x, "MacAddress"));

	return n && m && strcmp(n, network) == 0 && strcasecmp(m, mac) == 0;
}

/* Whether a network.json in dir (active) has MAC mac on network: its own or an Extra's
 * (network connect). */
static bool dir_has_mac(const char *dir, const char *network, const char *mac)
{
	cleanup_json json_t *v = engine_net_file_load(dir);
	size_t i;
	json_t *x;

	if (!json_is_true(json_object_get(v, "Active")))
		return false;
	if (entry_has_mac(v, network, mac))
		return true;
	json_array_foreach(json_object_get(v, "Extra"), i, x)
		if (entry_has_mac(x, network, mac))
			return true;
	return false;
}

/* The name of a container or VM on network with MAC mac, or NULL. */
static char *mac_user(struct image_store *s, const char *network, const char *mac)
{
	char *owner = NULL;

	for (int k = 0; k < 2 && !owner; k++) {
		cleanup_free char *dir = k ? vms_dir(s) : xasprintf("%s/containers", s->root);
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d && !owner && (e = readdir(d))) {
			cleanup_free char *cd = xasprintf("%s/%s", dir, e->d_name);

			if (e->d_name[0] != '.' && dir_has_mac(cd, network, mac))
				owner = xasprintf("%s %.12s", k ? "VM" : "container", e->d_name);
		}
		if (d)
			(void)closedir(d);
	}
	return owner;
}

/* Whether a container or a live VM is called name (a VM's name is its DNS name). */
static bool name_used(struct image_store *s, const char *name)
{
	cleanup_free char *dir = vms_dir(s);
	struct ctr **all = NULL;
	struct hull_err e2;
	bool used = false;
	DIR *d;
	struct dirent *e;

	if (ctr_list(s, &all, &e2) == 0) {
		for (size_t i = 0; all[i] && !used; i++)
			used = all[i]->name && strcmp(all[i]->name, name) == 0;
		ctr_list_free(all);
	}
	d = opendir(dir);
	while (d && !used && (e = readdir(d))) {
		cleanup_free char *vd = xasprintf("%s/%s", dir, e->d_name);
		cleanup_json json_t *vm = e->d_name[0] == '.' ? NULL : vm_file_load(vd);
		const char *n = json_string_value(json_object_get(vm, "Name"));

		used = n && strcmp(n, name) == 0 && owner_alive(vm);
	}
	if (d)
		(void)closedir(d);
	return used;
}

/* a MAC in lower case in out ("" for a string that is not one) */
static bool mac_normal(const char *s, char out[MAC_STR_LEN])
{
	uint8_t b[6];

	out[0] = '\0';
	if (mac_parse(s, b) < 0)
		return false;
	mac_format(b, out);
	return true;
}

/* Syntax of the request: one line naming the flag for each mistake. */
static int request_check(const struct vmnet_request *rq, const char *flag, char mac[18],
			 struct hull_err *err)
{
	mac[0] = '\0';
	if (!rq->network || !net_name_is_valid(rq->network))
		return hull_err_setx(err, EINVAL, "%s network=%s: not a network name", flag,
				     rq->network ? rq->network : "");
	if (rq->mac && !mac_normal(rq->mac, mac))
		return hull_err_setx(err, EINVAL, "%s mac=%s: not a unicast MAC address "
				     "(aa:bb:cc:dd:ee:ff)", flag, rq->mac);
	if (rq->name && !net_host_name_is_valid(rq->name, 63))
		return hull_err_setx(err, EINVAL, "--name %s: not a host name (letters, digits and "
				     "'-', at most 63)", rq->name);
	return 0;
}

/* The record's owner and, for a hot-plugged NIC, what vm.json says of it. */
struct record_owner {
	pid_t pid;       /* the owner: `hull vm run` (this process) or the VMM */
	const char *flag; /* "--net" or "--add-net" */
	json_t *extra;   /* fields added to vm.json (borrowed), or NULL */
};

/*
 * Under the networks lock: the network exists, the name and MAC are free, and the record
 * with its owner exists before anything is made (system prune never sees a record without
 * its owner).
 */
static int record_create(struct image_store *s, const struct vmnet_request *rq,
			 const char *mac, const char *id, const char *dir,
			 const struct record_owner *ow, struct hull_err *err)
{
	cleanup_free char *vd = vms_dir(s);
	cleanup_free char *user = NULL;
	cleanup_free char *buf = NULL;
	cleanup_json json_t *def = NULL;
	cleanup_json json_t *vm = NULL;
	cleanup_close int lock = net_lock(s->root, err);
	unsigned long long start = 0;
	bool zombie;
	int r;

	if (lock < 0)
		return lock;
	r = net_def_load(s->root, rq->network, &def, err);
	if (r < 0)
		return hull_err_prefix(err, "%s network=%s", ow->flag, rq->network);
	if (rq->name && name_used(s, rq->name))
		return hull_err_setx(err, EEXIST, "--name %s: the name is already in use",
				     rq->name);
	if (*mac && (user = mac_user(s, rq->network, mac)))
		return hull_err_setx(err, EADDRINUSE, "%s mac=%s: already in use on network %s "
				     "by %s", ow->flag, mac, rq->network, user);
	if (proc_stat_read(ow->pid, &start, &zombie) < 0 || zombie)
		return hull_err_setx(err, ESRCH, "/proc/%d/stat: cannot read the owner's starttime",
				     (int)ow->pid);
	if (mkdir(vd, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s", vd);
	if (mkdir(dir, 0700) < 0)
		return hull_err_set(err, errno, "%s", dir);
	vm = json_pack("{s:s, s:s, s:s, s:I, s:I}", "Id", id, "Name",
		       rq->name ? rq->name : "", "Network", rq->network, "Pid", (json_int_t)ow->pid,
		       "StartTicks", (json_int_t)start);
	if (ow->extra)
		(void)json_object_update(vm, ow->extra);
	buf = hjson_dump(vm, JSON_COMPACT);
	r = ctr_write_file(dir, VM_FILE, buf, strlen(buf), 0600, err);
	if (r < 0)
		(void)rm_tree_at(AT_FDCWD, dir);
	return r;
}

/* "--ip A: ..." and "--network N: ..." as `hull vm run` (flag "--net") or `hull vm update`
 * ("--add-net") spells those flags. */
static void flag_rename(struct hull_err *err, const char *flag)
{
	static const char *const from[] = { "--ip ", "--network " };
	static const char *const to[] = { "ip=", "network=" };

	for (size_t i = 0; i < 2; i++)
		if (strncmp(err->msg, from[i], strlen(from[i])) == 0) {
			char tail[HULL_ERR_MSG_MAX];

			(void)snprintf(tail, sizeof(tail), "%s", err->msg + strlen(from[i]));
			(void)snprintf(err->msg, sizeof(err->msg), "%s %s%s", flag, to[i], tail);
		}
}

/* The name servers resolv.conf in dir gives, comma-separated ("" for none). */
static char *dns_of(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/resolv.conf", dir);
	FILE *f = fopen(path, "re");
	char line[512], *out = xstrdup("");

	while (f && fgets(line, sizeof(line), f)) {
		char a[64];

		if (sscanf(line, "nameserver %63s", a) == 1 && net_ip_is_valid(a)) {
			char *n = xasprintf("%s%s%s", out, *out ? "," : "", a);

			free(out);
			out = n;
		}
	}
	if (f)
		(void)fclose(f);
	return out;
}

/* What the guest's init needs, from network.json after the set-up. */
static int guest_config(struct vmnet *vm, const char *hostname, struct hull_err *err)
{
	cleanup_json json_t *v = engine_net_file_load(vm->dir);
	cleanup_free char *dns = dns_of(vm->dir);
	const char *ip = json_string_value(json_object_get(v, "IPAddress"));
	const char *gw = json_string_value(json_object_get(v, "Gateway"));
	const char *mac = json_string_value(json_object_get(v, "MacAddress"));
	json_int_t plen = json_integer_value(json_object_get(v, "IPPrefixLen"));

	if (!ip || !net_ip_is_valid(ip) || !mac || !mac_normal(mac, vm->mac))
		return hull_err_setx(err, EIO, "%s/network.json: no address or MAC after the "
				     "set-up", vm->dir);
	vm->cmdline = xasprintf("hull.net=eth0,%s/%d,%s%s%s hull.hostname=%s", ip, (int)plen,
				gw && net_ip_is_valid(gw) ? gw : "", *dns ? " hull.dns=" : "", dns,
				hostname);
	return 0;
}

static void vmnet_free(struct vmnet *vm)
{
	if (!vm)
		return;
	free(vm->dir);
	free(vm->netns);
	free(vm->cmdline);
	free(vm);
}

/* Whether the namespace file path is the network namespace (dev, ino). */
static bool ns_is(const char *path, json_int_t dev, json_int_t ino)
{
	struct stat st;

	return stat(path, &st) == 0 && (json_int_t)st.st_dev == dev &&
	       (json_int_t)st.st_ino == ino;
}

/* The store's namespace file that is (dev, ino) (a `vm run --net network=` VM's), or NULL. */
static char *store_ns_find(struct image_store *s, json_int_t dev, json_int_t ino)
{
	cleanup_free char *nsd = xasprintf("%s/netns", s->root);
	DIR *d = opendir(nsd);
	struct dirent *e;
	char *path = NULL;

	while (d && !path && (e = readdir(d))) {
		cleanup_free char *f = xasprintf("%s/%s", nsd, e->d_name);

		if (e->d_name[0] != '.' && ns_is(f, dev, ino))
			path = steal_ptr(&f);
	}
	if (d)
		(void)closedir(d);
	return path;
}

/*
 * A hot-plugged NIC's end in the VMM's namespace: its tap and veth peer. The namespace is the
 * live VMM's; once the VMM is gone, ours when it was ours (a VMM run without --net network=
 * from this namespace), or one of the store's namespace files (a VM run with --net
 * network=); otherwise it went with its last process, and they with it.
 */
static void vmnet_hot_unwire(struct image_store *s, json_t *vm, bool alive)
{
	const char *tap = json_string_value(json_object_get(vm, "Tap"));
	const char *veth = json_string_value(json_object_get(vm, "Veth"));
	json_int_t pid = json_integer_value(json_object_get(vm, "Pid"));
	json_int_t dev = json_integer_value(json_object_get(vm, "NetnsDev"));
	json_int_t ino = json_integer_value(json_object_get(vm, "NetnsIno"));
	cleanup_free char *path = NULL;

	if (alive)
		path = xasprintf("/proc/%d/ns/net", (int)pid);
	else if (ns_is("/proc/self/ns/net", dev, ino))
		path = xstrdup("/proc/self/ns/net");
	else
		path = store_ns_find(s, dev, ino);
	if (!path)
		return;
	if (tap)
		vmnet_tap_remove(path, tap);
	if (veth)
		vmnet_link_remove(path, veth);
}

/* Tear down the record in dir (its tap, then what engine/network.c made) and remove it. */
static void record_down(struct image_store *s, const char *id, const char *dir, bool locked)
{
	cleanup_json json_t *v = engine_net_file_load(dir);
	cleanup_json json_t *vm = vm_file_load(dir);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));

	if (json_string_value(json_object_get(vm, "Tap")))
		vmnet_hot_unwire(s, vm, owner_alive(vm));
	if (nsp)
		vmnet_tap_remove(nsp, ENGINE_VMNET_TAP);
	if (locked)
		engine_net_teardown_dir_locked(s, id, dir);
	else
		engine_net_teardown_dir(s, id, dir);
	(void)rm_tree_at(AT_FDCWD, dir);
}

int engine_vmnet_up(struct image_store *s, const struct vmnet_request *rq, struct vmnet **ret,
		    struct hull_err *err)
{
	struct vmnet *vm = xcalloc(1, sizeof(*vm));
	cleanup_free char *hostname = NULL;
	struct run_opts o = { 0 };
	char mac[18];
	int r;

	*ret = NULL;
	r = request_check(rq, "--net", mac, err);
	if (r < 0) {
		vmnet_free(vm);
		return r;
	}
	ident_random_hex(vm->id, 32);
	vm->dir = xasprintf("%s/" ENGINE_VMNET_DIR "/%s", s->root, vm->id);
	vm->netns = xasprintf("%s/netns/%s", s->root, vm->id);
	hostname = rq->name ? xstrdup(rq->name) : xstrndup(vm->id, 12);
	r = record_create(s, rq, mac, vm->id, vm->dir,
			  &(struct record_owner){ .pid = getpid(), .flag = "--net" }, err);
	if (r < 0) {
		vmnet_free(vm);
		return r;
	}
	o.network = rq->network;
	o.publish = (char **)rq->publish;
	o.ip = rq->ip;
	o.hostname = hostname;
	o.image = "";
	r = engine_net_create(s, &o, NULL, vm->id, hostname, vm->dir, err);
	if (r == 0 && *mac) {
		cleanup_json json_t *v = engine_net_file_load(vm->dir);

		(void)json_object_set_new(v, "Mac", json_string(mac));
		r = engine_net_file_save(vm->dir, v, err);
	}
	if (r == 0)
		r = engine_net_setup_dir(s, vm->id, vm->dir, err);
	if (r == 0)
		r = vmnet_tap_setup(vm->netns, ENGINE_VMNET_TAP, rq->queues > 1, err);
	if (r == 0)
		r = guest_config(vm, hostname, err);
	if (r < 0) {
		struct hull_err e2 = *err;

		flag_rename(&e2, "--net");
		engine_vmnet_down(s, vm);
		*err = e2;
		return r;
	}
	*ret = vm;
	return 0;
}

void engine_vmnet_down(struct image_store *s, struct vmnet *vm)
{
	if (!vm)
		return;
	record_down(s, vm->id, vm->dir, false);
	vmnet_free(vm);
}

/* fn(id, dir, vm.json) for each record (vm.json NULL when it has none). */
static void records_each(struct image_store *s,
			 void (*fn)(struct image_store *s, const char *id, const char *dir,
				    json_t *vm, void *opaque),
			 void *opaque)
{
	cleanup_free char *dir = vms_dir(s);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		cleanup_free char *vd = xasprintf("%s/%s", dir, e->d_name);
		cleanup_json json_t *vm = NULL;

		if (e->d_name[0] == '.')
			continue;
		vm = vm_file_load(vd);
		fn(s, e->d_name, vd, vm, opaque);
	}
	if (d)
		(void)closedir(d);
}

struct users_ctx {
	const char *network;
	char ***out;
};

static void user_one(struct image_store *s, const char *id, const char *dir, json_t *vm,
		     void *opaque)
{
	struct users_ctx *u = opaque;
	const char *net = json_string_value(json_object_get(vm, "Network"));
	const char *name = json_string_value(json_object_get(vm, "Name"));
	const char *iface = json_string_value(json_object_get(vm, "Iface"));

	if (!owner_alive(vm)) {
		record_down(s, id, dir, true);
		return;
	}
	if (net && strcmp(net, u->network) == 0 && iface)
		strv_push_owned(u->out, xasprintf("VM NIC %s (VMM pid %d)", iface,
						  (int)json_integer_value(json_object_get(vm, "Pid"))));
	else if (net && strcmp(net, u->network) == 0)
		strv_push_owned(u->out, xasprintf("VM %s", name && *name ? name : id));
}

void engine_vmnet_users(struct image_store *s, const char *network, char ***out)
{
	struct users_ctx u = { network, out };

	records_each(s, user_one, &u);
}

static void prune_one(struct image_store *s, const char *id, const char *dir, json_t *vm,
		      void *opaque)
{
	unsigned *n = opaque;

	if (!vm) {
		/* made and given its vm.json under the lock: look again holding it */
		struct hull_err e2;
		cleanup_close int lock = net_lock(s->root, &e2);
		cleanup_json json_t *again = vm_file_load(dir);

		if (lock < 0 || again)
			return;
		(void)rm_tree_at(AT_FDCWD, dir);
		(*n)++;
		return;
	}
	if (owner_alive(vm))
		return;
	record_down(s, id, dir, false);
	(*n)++;
}

unsigned engine_vmnet_prune(struct image_store *s)
{
	unsigned n = 0;

	records_each(s, prune_one, &n);
	return n;
}

/* The VMM's end of a hot-plugged NIC: names from the record's id, and vm.json's fields. */
static json_t *hot_extra(const char *id, const struct vmnet_hot_request *rq, char tap[16],
			 char veth[16], struct hull_err *err)
{
	cleanup_free char *nsp = xasprintf("/proc/%d/ns/net", (int)rq->vmm);
	struct stat st;

	if (stat(nsp, &st) < 0) {
		(void)hull_err_set(err, errno, "%s", nsp);
		return NULL;
	}
	(void)snprintf(tap, 16, "hht%.12s", id);
	(void)snprintf(veth, 16, "hhv%.12s", id);
	return json_pack("{s:s, s:s, s:s, s:I, s:I}", "Iface", rq->iface, "Tap", tap, "Veth",
			 veth, "NetnsDev", (json_int_t)st.st_dev, "NetnsIno",
			 (json_int_t)st.st_ino);
}

/* The guest's address, gateway and MAC from network.json after the set-up. */
static int hot_address(struct vmnet_hot *h, const char *dir, struct hull_err *err)
{
	cleanup_json json_t *v = engine_net_file_load(dir);
	const char *ip = json_string_value(json_object_get(v, "IPAddress"));
	const char *gw = json_string_value(json_object_get(v, "Gateway"));
	const char *mac = json_string_value(json_object_get(v, "MacAddress"));
	json_int_t plen = json_integer_value(json_object_get(v, "IPPrefixLen"));

	if (!ip || !net_ip_is_valid(ip) || !mac || !mac_normal(mac, h->mac))
		return hull_err_setx(err, EIO, "%s/network.json: no address or MAC after the "
				     "set-up", dir);
	h->addr = xasprintf("%s/%d", ip, (int)plen);
	h->gateway = xstrdup(gw && net_ip_is_valid(gw) ? gw : "");
	return 0;
}

void engine_vmnet_hot_free(struct vmnet_hot *h)
{
	if (!h)
		return;
	free(h->dir);
	free(h->addr);
	free(h->gateway);
	free(h);
}

int engine_vmnet_hot_up(struct image_store *s, const struct vmnet_hot_request *rq,
			struct vmnet_hot **ret, struct hull_err *err)
{
	struct vmnet_request base = { .network = rq->network, .mac = rq->mac, .ip = rq->ip };
	struct vmnet_hot *h = xcalloc(1, sizeof(*h));
	cleanup_free char *netns = NULL;
	cleanup_free char *vmmns = xasprintf("/proc/%d/ns/net", (int)rq->vmm);
	cleanup_free char *host = NULL;
	cleanup_json json_t *extra = NULL;
	struct run_opts o = { 0 };
	char mac[18], veth[16];
	int r;

	*ret = NULL;
	r = request_check(&base, "--add-net", mac, err);
	ident_random_hex(h->id, 32);
	if (r == 0 && !(extra = hot_extra(h->id, rq, h->tap, veth, err)))
		r = -err->code;
	if (r < 0) {
		engine_vmnet_hot_free(h);
		return r;
	}
	h->dir = xasprintf("%s/" ENGINE_VMNET_DIR "/%s", s->root, h->id);
	netns = xasprintf("%s/netns/%s", s->root, h->id);
	r = record_create(s, &base, mac, h->id, h->dir,
			  &(struct record_owner){ .pid = rq->vmm, .flag = "--add-net",
						  .extra = extra }, err);
	if (r < 0) {
		engine_vmnet_hot_free(h);
		return r;
	}
	o.network = rq->network;
	o.ip = rq->ip;
	host = xstrndup(h->id, 12);
	o.hostname = host;
	o.image = "";
	r = engine_net_create(s, &o, NULL, h->id, host, h->dir, err);
	if (r == 0 && *mac) {
		cleanup_json json_t *v = engine_net_file_load(h->dir);

		(void)json_object_set_new(v, "Mac", json_string(mac));
		r = engine_net_file_save(h->dir, v, err);
	}
	if (r == 0)
		r = engine_net_setup_dir(s, h->id, h->dir, err);
	if (r == 0)
		r = vmnet_veth_setup(netns, "hhn0", veth, rq->vmm, err);
	if (r == 0)
		r = vmnet_tap_setup_dev(vmmns, h->tap, veth, false, err);
	if (r == 0)
		r = hot_address(h, h->dir, err);
	if (r < 0) {
		struct hull_err e2 = *err;

		flag_rename(&e2, "--add-net");
		engine_vmnet_hot_down(s, h);
		*err = e2;
		return r;
	}
	*ret = h;
	return 0;
}

void engine_vmnet_hot_down(struct image_store *s, struct vmnet_hot *h)
{
	if (!h)
		return;
	record_down(s, h->id, h->dir, false);
	engine_vmnet_hot_free(h);
}

/*
 * After the VMM's net-del: the tap can lose its persistence only once the VMM let go of it
 * (a tap holds one user: TUNSETIFF says EBUSY before), which is when the guest ejected the
 * NIC; wait for that (bounded), then tear everything down. A guest that has not ejected by
 * then: the address, namespace, rules and veth go now, the record stays for the tap, and is
 * torn down with it once the VMM ends (as any record whose owner is gone).
 */
static void hot_del_record(struct image_store *s, const char *id, const char *dir, json_t *vm)
{
	const char *tap = json_string_value(json_object_get(vm, "Tap"));
	const char *veth = json_string_value(json_object_get(vm, "Veth"));
	cleanup_free char *vmmns = xasprintf("/proc/%d/ns/net",
					     (int)json_integer_value(json_object_get(vm, "Pid")));
	int r = -EBUSY;

	for (unsigned i = 0; tap && r == -EBUSY && i < HOT_EJECT_WAIT_MS / 100; i++) {
		r = vmnet_tap_drop(vmmns, tap);
		if (r == -EBUSY)
			(void)usleep(100 * 1000);
	}
	if (r != -EBUSY) {
		record_down(s, id, dir, false);
		return;
	}
	if (veth)
		vmnet_link_remove(vmmns, veth);
	engine_net_teardown_dir(s, id, dir);
}

struct hot_find {
	pid_t vmm;
	const char *iface;
	bool found;
};

static void hot_del_one(struct image_store *s, const char *id, const char *dir, json_t *vm,
			void *opaque)
{
	struct hot_find *f = opaque;
	const char *iface = json_string_value(json_object_get(vm, "Iface"));

	if (iface && strcmp(iface, f->iface) == 0 &&
	    json_integer_value(json_object_get(vm, "Pid")) == f->vmm && owner_alive(vm)) {
		hot_del_record(s, id, dir, vm);
		f->found = true;
	}
}

bool engine_vmnet_hot_del(struct image_store *s, pid_t vmm, const char *iface)
{
	struct hot_find f = { vmm, iface, false };

	records_each(s, hot_del_one, &f);
	return f.found;
}
