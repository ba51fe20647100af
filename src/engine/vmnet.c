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
static int request_check(const struct vmnet_request *rq, char mac[18], struct hull_err *err)
{
	mac[0] = '\0';
	if (!rq->network || !net_name_is_valid(rq->network))
		return hull_err_setx(err, EINVAL, "--net network=%s: not a network name",
				     rq->network ? rq->network : "");
	if (rq->mac && !mac_normal(rq->mac, mac))
		return hull_err_setx(err, EINVAL, "--net mac=%s: not a unicast MAC address "
				     "(aa:bb:cc:dd:ee:ff)", rq->mac);
	if (rq->name && !net_host_name_is_valid(rq->name, 63))
		return hull_err_setx(err, EINVAL, "--name %s: not a host name (letters, digits and "
				     "'-', at most 63)", rq->name);
	return 0;
}

/*
 * Under the networks lock: the network exists, the name and MAC are free, and the record
 * with its owner exists before anything is made (system prune never sees a record without
 * its owner).
 */
static int record_create(struct image_store *s, const struct vmnet_request *rq,
			 const char *mac, const char *id, const char *dir, struct hull_err *err)
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
		return hull_err_prefix(err, "--net network=%s", rq->network);
	if (rq->name && name_used(s, rq->name))
		return hull_err_setx(err, EEXIST, "--name %s: the name is already in use",
				     rq->name);
	if (*mac && (user = mac_user(s, rq->network, mac)))
		return hull_err_setx(err, EADDRINUSE, "--net mac=%s: already in use on network %s "
				     "by %s", mac, rq->network, user);
	if (proc_stat_read(getpid(), &start, &zombie) < 0)
		return hull_err_setx(err, EIO, "/proc/self/stat: cannot read our starttime");
	if (mkdir(vd, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s", vd);
	if (mkdir(dir, 0700) < 0)
		return hull_err_set(err, errno, "%s", dir);
	vm = json_pack("{s:s, s:s, s:s, s:I, s:I}", "Id", id, "Name",
		       rq->name ? rq->name : "", "Network", rq->network, "Pid", (json_int_t)getpid(),
		       "StartTicks", (json_int_t)start);
	buf = hjson_dump(vm, JSON_COMPACT);
	r = ctr_write_file(dir, VM_FILE, buf, strlen(buf), 0600, err);
	if (r < 0)
		(void)rm_tree_at(AT_FDCWD, dir);
	return r;
}

/* "--ip A: ..." and "--network N: ..." as `hull vm run` spells those flags. */
static void flag_rename(struct hull_err *err)
{
	static const char *const from[] = { "--ip ", "--network " };
	static const char *const to[] = { "--net ip=", "--net network=" };

	for (size_t i = 0; i < 2; i++)
		if (strncmp(err->msg, from[i], strlen(from[i])) == 0) {
			char tail[HULL_ERR_MSG_MAX];

			(void)snprintf(tail, sizeof(tail), "%s", err->msg + strlen(from[i]));
			(void)snprintf(err->msg, sizeof(err->msg), "%s%s", to[i], tail);
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

/* Tear down the record in dir (its tap, then what engine/network.c made) and remove it. */
static void record_down(struct image_store *s, const char *id, const char *dir, bool locked)
{
	cleanup_json json_t *v = engine_net_file_load(dir);
	const char *nsp = json_string_value(json_object_get(v, "Netns"));

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
	r = request_check(rq, mac, err);
	if (r < 0) {
		vmnet_free(vm);
		return r;
	}
	ident_random_hex(vm->id, 32);
	vm->dir = xasprintf("%s/" ENGINE_VMNET_DIR "/%s", s->root, vm->id);
	vm->netns = xasprintf("%s/netns/%s", s->root, vm->id);
	hostname = rq->name ? xstrdup(rq->name) : xstrndup(vm->id, 12);
	r = record_create(s, rq, mac, vm->id, vm->dir, err);
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

		flag_rename(&e2);
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

	if (!owner_alive(vm)) {
		record_down(s, id, dir, true);
		return;
	}
	if (net && strcmp(net, u->network) == 0)
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
