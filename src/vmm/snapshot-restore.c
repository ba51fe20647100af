/*
 * `hull vm restore DIR`: DIR/config.json back into a struct vm_config, the state file
 * checked, then the VM built from them by vmm_run (vm.c maps DIR/memory instead of loading
 * a kernel, and loads DIR/state before the vCPUs start).
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/mac.h"
#include "vmm/hotplug.h"
#include "vmm/snapshot.h"
#include "vmm/vmm.h"

struct snap_config {
	json_t *root; /* owns the strings cfg points to */
	struct vm_config cfg;
	struct vm_disk_config disks[VM_MAX_DISKS];
	struct vm_net_config nets[VM_MAX_NICS];
	struct vm_hotplug_net hot[PCIHP_NUM_SLOTS];
};

static int config_disks(json_t *arr, const char *where, struct snap_config *sc,
			struct hull_err *err)
{
	size_t i;
	json_t *d;

	if (json_array_size(arr) > VM_MAX_DISKS)
		return hull_err_setx(err, EINVAL, "%s: disks: at most %d", where, VM_MAX_DISKS);
	json_array_foreach(arr, i, d) {
		struct vm_disk_config *dc = &sc->disks[i];
		const char *fmt = NULL;
		char w[300];

		(void)snprintf(w, sizeof(w), "%s: disks[%zu]", where, i);
		if (hjson_get_str(d, "path", w, true, &dc->path, err) < 0 ||
		    hjson_get_bool(d, "readonly", w, true, &dc->readonly, err) < 0 ||
		    hjson_get_str(d, "format", w, true, &fmt, err) < 0 ||
		    hjson_get_str(d, "serial", w, false, &dc->serial, err) < 0)
			return -EINVAL;
		if (disk_format_parse(fmt, &dc->format) < 0 || dc->format == DISK_FORMAT_AUTO)
			return hull_err_setx(err, EINVAL, "%s.format: %s: expected raw or qcow2", w,
					     fmt);
	}
	sc->cfg.disks = sc->disks;
	sc->cfg.n_disks = json_array_size(arr);
	return 0;
}

/*
 * One NIC's object, for "nets" and "hotplug_nets" alike: "tap", "mac" (required when
 * mac_required), "vhost" ("on", "off" or "auto"; absent: dflt, what older snapshots' NICs ran
 * with). The rest of nc is the caller's.
 */
static int config_net(json_t *n, const char *w, bool mac_required, enum vm_net_vhost dflt,
		      struct vm_net_config *nc, struct hull_err *err)
{
	const char *mac = NULL, *vhost = NULL;

	if (hjson_get_str(n, "tap", w, true, &nc->tap, err) < 0 ||
	    hjson_get_str(n, "mac", w, mac_required, &mac, err) < 0 ||
	    hjson_get_str(n, "vhost", w, false, &vhost, err) < 0)
		return -EINVAL;
	if (mac && mac_parse(mac, nc->mac) < 0)
		return hull_err_setx(err, EINVAL, "%s.mac: %s: expected XX:XX:XX:XX:XX:XX", w, mac);
	nc->mac_set = mac != NULL;
	nc->vhost = dflt;
	if (vhost && strcmp(vhost, "on") == 0)
		nc->vhost = VM_NET_VHOST_ON;
	else if (vhost && strcmp(vhost, "auto") == 0)
		nc->vhost = VM_NET_VHOST_AUTO;
	else if (vhost && strcmp(vhost, "off") == 0)
		nc->vhost = VM_NET_VHOST_OFF;
	else if (vhost)
		return hull_err_setx(err, EINVAL, "%s.vhost: %s: expected on, off or auto", w,
				     vhost);
	return 0;
}

/* "nets": [{"tap", "mac"?, "queues", "vhost"?}]; no "vhost" (older snapshots): auto. */
static int config_nets(json_t *arr, const char *where, struct snap_config *sc,
		       struct hull_err *err)
{
	size_t i;
	json_t *n;

	if (json_array_size(arr) > VM_MAX_NICS)
		return hull_err_setx(err, EINVAL, "%s: nets: at most %d", where, VM_MAX_NICS);
	json_array_foreach(arr, i, n) {
		struct vm_net_config *nc = &sc->nets[i];
		int64_t queues = 0;
		char w[300];

		(void)snprintf(w, sizeof(w), "%s: nets[%zu]", where, i);
		if (config_net(n, w, false, VM_NET_VHOST_AUTO, nc, err) < 0 ||
		    hjson_get_int(n, "queues", w, true, 0, VM_NET_MAX_QUEUE_PAIRS, &queues, err) < 0)
			return -EINVAL;
		nc->queues = (unsigned)queues;
	}
	sc->cfg.nets = sc->nets;
	sc->cfg.n_nets = json_array_size(arr);
	return 0;
}

void snapshot_config_devices(const struct vm_config *cfg, json_t *root)
{
	const struct vm_balloon_config *b = &cfg->balloon;

	json_object_set_new(root, "vsock",
			    cfg->vsock ? json_pack("{s:I, s:b}", "cid", (json_int_t)cfg->vsock_cid,
						   "auto", cfg->vsock_auto)
				       : json_null());
	json_object_set_new(root, "balloon",
			    b->enabled ? json_pack("{s:I, s:b, s:i, s:b}", "amount_mib",
						   (json_int_t)b->amount_mib, "deflate_on_oom",
						   b->deflate_on_oom, "stats", (int)b->stats_s,
						   "free_page_reporting", b->free_page_reporting)
				   : json_null());
}

/*
 * "hotplug_nets": absent for none, else [{"id", "tap", "mac", "slot"[, "vhost"]}]
 * (hotplug-net.h); no "vhost" (a snapshot from before it was saved): off, as they ran.
 */
static int config_hotplug_nets(const char *path, struct snap_config *sc, struct hull_err *err)
{
	json_t *arr = json_object_get(sc->root, "hotplug_nets"), *n;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > PCIHP_NUM_SLOTS)
		return hull_err_setx(err, EINVAL, "%s: hotplug_nets: an array of at most %d", path,
				     PCIHP_NUM_SLOTS);
	json_array_foreach(arr, i, n) {
		struct vm_hotplug_net *h = &sc->hot[i];
		int64_t slot = 0;
		char w[300];

		(void)snprintf(w, sizeof(w), "%s: hotplug_nets[%zu]", path, i);
		if (hjson_get_str(n, "id", w, true, &h->id, err) < 0 ||
		    config_net(n, w, true, VM_NET_VHOST_OFF, &h->net, err) < 0 ||
		    hjson_get_int(n, "slot", w, true, PCIHP_FIRST_SLOT,
				  PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS - 1, &slot, err) < 0)
			return -EINVAL;
		h->net.queues = 1;
		h->slot = (unsigned)slot;
	}
	sc->cfg.hotplug_nets = sc->hot;
	sc->cfg.n_hotplug_nets = json_array_size(arr);
	return 0;
}

/* "vsock" and "balloon": null or absent (a snapshot from before they were saved) for none. */
static int config_devices(const char *path, struct snap_config *sc, struct hull_err *err)
{
	json_t *v = json_object_get(sc->root, "vsock"), *b = json_object_get(sc->root, "balloon");
	struct vm_balloon_config *bc = &sc->cfg.balloon;
	int64_t cid = 0, amount = 0, stats = 0;
	char w[300];

	if (v && !json_is_null(v)) {
		(void)snprintf(w, sizeof(w), "%s: vsock", path);
		if (!json_is_object(v) ||
		    hjson_get_int(v, "cid", w, true, 0, UINT32_MAX, &cid, err) < 0 ||
		    hjson_get_bool(v, "auto", w, true, &sc->cfg.vsock_auto, err) < 0)
			return hull_err_setx(err, EINVAL, "%s: expected {\"cid\": N, \"auto\": B}",
					     w);
		sc->cfg.vsock = true;
		sc->cfg.vsock_cid = (uint64_t)cid;
	}
	if (b && !json_is_null(b)) {
		(void)snprintf(w, sizeof(w), "%s: balloon", path);
		if (!json_is_object(b) ||
		    hjson_get_int(b, "amount_mib", w, true, 0, UINT32_MAX, &amount, err) < 0 ||
		    hjson_get_bool(b, "deflate_on_oom", w, true, &bc->deflate_on_oom, err) < 0 ||
		    hjson_get_int(b, "stats", w, true, 0, VM_BALLOON_STATS_MAX_S, &stats, err) < 0 ||
		    hjson_get_bool(b, "free_page_reporting", w, true, &bc->free_page_reporting,
				   err) < 0)
			return hull_err_setx(err, EINVAL, "%s: expected amount_mib, deflate_on_oom, "
					     "stats and free_page_reporting", w);
		bc->enabled = true;
		bc->amount_mib = (uint32_t)amount;
		bc->stats_s = (unsigned)stats;
	}
	return 0;
}

static int config_read(const char *dir, struct snap_config *sc, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, SNAPSHOT_CONFIG);
	const char *console = NULL;
	int64_t version = 0, cpus = 0, timeout = 0;
	json_t *disks = NULL, *nets = NULL;
	bool raw = false;
	int r;

	vm_config_init(&sc->cfg);
	r = hjson_load_file(path, SNAPSHOT_CONFIG_MAX, &sc->root, err);
	if (r < 0)
		return r;
	if (!json_is_object(sc->root))
		return hull_err_setx(err, EINVAL, "%s: not a JSON object", path);
	if (hjson_get_int(sc->root, "version", path, true, 1, INT32_MAX, &version, err) < 0)
		return -EINVAL;
	if (version > SNAPSHOT_CONFIG_VERSION)
		return hull_err_setx(err, EPROTONOSUPPORT,
				     "%s: version %lld is from a newer hull (this one reads %d)", path,
				     (long long)version, SNAPSHOT_CONFIG_VERSION);
	if (hjson_get_int(sc->root, "cpus", path, true, 1, VM_MAX_CPUS, &cpus, err) < 0 ||
	    hjson_get_u64(sc->root, "memory", path, true, &sc->cfg.mem_size, err) < 0 ||
	    hjson_get_bool(sc->root, "raw", path, true, &raw, err) < 0 ||
	    hjson_get_str(sc->root, "cmdline", path, false, &sc->cfg.cmdline, err) < 0 ||
	    hjson_get_str(sc->root, "console", path, true, &console, err) < 0 ||
	    hjson_get_bool(sc->root, "rng", path, true, &sc->cfg.rng, err) < 0 ||
	    hjson_get_int(sc->root, "shutdown_timeout", path, true, 1, VM_SHUTDOWN_TIMEOUT_MAX_S,
			  &timeout, err) < 0 ||
	    hjson_get_arr(sc->root, "disks", path, true, &disks, err) < 0 ||
	    hjson_get_arr(sc->root, "nets", path, true, &nets, err) < 0)
		return -EINVAL;
	sc->cfg.cpus = (unsigned)cpus;
	sc->cfg.shutdown_timeout_s = (unsigned)timeout;
	sc->cfg.kernel_kind = raw ? VM_KERNEL_RAW : VM_KERNEL_AUTO;
	sc->cfg.console = VM_CONSOLE_COUNT;
	for (unsigned i = 0; i < VM_CONSOLE_COUNT; i++)
		if (strcmp(console, (const char *[]){ "serial", "none", "virtio" }[i]) == 0)
			sc->cfg.console = (enum vm_console)i;
	if (sc->cfg.console == VM_CONSOLE_COUNT)
		return hull_err_setx(err, EINVAL, "%s: console: %s: expected serial, virtio or none",
				     path, console);
	r = config_disks(disks, path, sc, err);
	if (r == 0)
		r = config_nets(nets, path, sc, err);
	if (r == 0)
		r = config_devices(path, sc, err);
	if (r == 0)
		r = config_hotplug_nets(path, sc, err);
	return r;
}

/*
 * The clone's own identity from opts: a tap (and MAC, rate limits) per NIC, in the snapshot's
 * order, and a vsock CID. The device set must be the snapshot's: the guest has those devices.
 */
static int config_identity(struct snap_config *sc, const struct vm_config *opts,
			   struct hull_err *err)
{
	if (opts->n_nets && opts->n_nets != sc->cfg.n_nets)
		return hull_err_setx(err, EINVAL,
				     "--net: the snapshot has %zu NIC%s, %zu given (one --net per "
				     "NIC, in the snapshot's order)",
				     sc->cfg.n_nets, sc->cfg.n_nets == 1 ? "" : "s", opts->n_nets);
	for (size_t i = 0; i < opts->n_nets; i++) {
		const struct vm_net_config *o = &opts->nets[i];
		struct vm_net_config *n = &sc->nets[i];

		if (o->queues && o->queues != n->queues)
			return hull_err_setx(err, EINVAL,
					     "--net %s: queues=%u, but the snapshot's NIC %zu has %u "
					     "(the guest's driver uses them)",
					     o->tap, o->queues, i, n->queues);
		n->tap = o->tap;
		n->rx_rate = o->rx_rate;
		n->tx_rate = o->tx_rate;
		if (o->vhost_set) /* the datapath is the host side's too; else the snapshot's */
			n->vhost = o->vhost;
		if (o->mac_set) {
			memcpy(n->mac, o->mac, 6);
			n->mac_set = true;
		}
	}
	if (opts->vsock && !sc->cfg.vsock)
		return hull_err_setx(err, EINVAL, "--vsock: the snapshot has no vsock device");
	if (opts->vsock) {
		sc->cfg.vsock_auto = opts->vsock_auto;
		sc->cfg.vsock_cid = opts->vsock_cid;
	}
	return 0;
}

int vmm_restore(const char *dir, const struct vm_config *opts, enum vm_stop *ret_stop,
		struct hull_err *err)
{
	struct snap_config sc = { 0 };
	cleanup_free uint8_t *state = NULL;
	size_t len = 0;
	int r;

	*ret_stop = VM_STOP_NONE;
	r = config_read(dir, &sc, err);
	/* the state file's framing and CRCs before anything else: no KVM needed for those */
	if (r == 0)
		r = config_identity(&sc, opts, err);
	if (r == 0)
		r = snapshot_state_check(dir, &state, &len, err);
	if (r == 0) {
		sc.cfg.api_sock = opts->api_sock;
		sc.cfg.allow_pvm = opts->allow_pvm;
		sc.cfg.no_irqfd = opts->no_irqfd;
		sc.cfg.stats = opts->stats;
		sc.cfg.start_paused = opts->start_paused;
		sc.cfg.hotplug = opts->hotplug;
		sc.cfg.restore_dir = dir;
		r = vmm_run(&sc.cfg, ret_stop, err);
	}
	json_decref(sc.root);
	return r;
}
