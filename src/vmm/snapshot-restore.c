/*
 * `hull vm restore DIR`: DIR/config.json back into a struct vm_config, the state file
 * checked, then the VM built from them by vmm_run (vm.c maps DIR/memory instead of loading
 * a kernel, and loads DIR/state before the vCPUs start).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "vmm/snapshot.h"
#include "vmm/vmm.h"

struct snap_config {
	json_t *root; /* owns the strings cfg points to */
	struct vm_config cfg;
	struct vm_disk_config disks[VM_MAX_DISKS];
	struct vm_net_config nets[VM_MAX_NICS];
};

static int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

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

static int config_nets(json_t *arr, const char *where, struct snap_config *sc,
		       struct hull_err *err)
{
	size_t i;
	json_t *n;

	if (json_array_size(arr) > VM_MAX_NICS)
		return hull_err_setx(err, EINVAL, "%s: nets: at most %d", where, VM_MAX_NICS);
	json_array_foreach(arr, i, n) {
		struct vm_net_config *nc = &sc->nets[i];
		const char *mac = NULL;
		int64_t queues = 0;
		char w[300];

		(void)snprintf(w, sizeof(w), "%s: nets[%zu]", where, i);
		if (hjson_get_str(n, "tap", w, true, &nc->tap, err) < 0 ||
		    hjson_get_str(n, "mac", w, false, &mac, err) < 0 ||
		    hjson_get_int(n, "queues", w, true, 0, VM_NET_MAX_QUEUE_PAIRS, &queues, err) < 0)
			return -EINVAL;
		if (mac && mac_parse(mac, nc->mac) < 0)
			return hull_err_setx(err, EINVAL, "%s.mac: %s: expected XX:XX:XX:XX:XX:XX", w,
					     mac);
		nc->mac_set = mac != NULL;
		nc->queues = (unsigned)queues;
	}
	sc->cfg.nets = sc->nets;
	sc->cfg.n_nets = json_array_size(arr);
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
	return r;
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
		r = snapshot_state_check(dir, &state, &len, err);
	if (r == 0) {
		sc.cfg.api_sock = opts->api_sock;
		sc.cfg.allow_pvm = opts->allow_pvm;
		sc.cfg.no_irqfd = opts->no_irqfd;
		sc.cfg.stats = opts->stats;
		sc.cfg.start_paused = opts->start_paused;
		sc.cfg.restore_dir = dir;
		r = vmm_run(&sc.cfg, ret_stop, err);
	}
	json_decref(sc.root);
	return r;
}
