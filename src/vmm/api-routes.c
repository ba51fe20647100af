/*
 * The control API's endpoints (api-routes.h): the route table in Firecracker's shape, the
 * handlers of status, actions, pause/resume, machine config and metrics, and the JSON-lines
 * operations of the first API (`{"op":"status"}`), kept for the scripts that use them.
 */
#include "vmm/api-routes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "vmm/api-hotplug.h"
#include "vmm/api-resize.h"
#include "vmm/api.h"
#include "vmm/devices.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Firecracker's spelling of the states, and hull's two more. */
static const char *api_state(struct vm *vm)
{
	bool paused;

	if (atomic_load(&vm->stop))
		return "Stopped";
	pthread_mutex_lock(&vm->lock);
	paused = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	if (vm->shutdown_requested)
		return "Shutting down";
	return paused ? "Paused" : "Running";
}

/* Refuse fields the endpoint does not know, as Firecracker does (a typo is not ignored). */
static int check_keys(json_t *body, const char *where, const char *const *known,
		      struct hull_err *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		size_t i;

		for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
			;
		if (!known[i])
			return hull_err_setx(err, EINVAL, "%s: unknown field '%.64s'", where, key);
	}
	return 0;
}

static int api_get_status(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct vm *vm = call->vm;
	json_t *devs = json_array();

	for (unsigned i = 0; i < vm->n_devs; i++)
		json_array_append_new(devs, json_pack("{s:s, s:I}", "type", vm->devs[i].ops->name,
						      "index", (json_int_t)vm->devs[i].idx));
	*ret = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o*}", "app_name", "hull",
			 "id", "anonymous-instance", "state", api_state(vm),
			 "vmm_version", HULL_VERSION, "pid", (json_int_t)getpid(),
			 "vcpu_count", (json_int_t)vm->ncpus,
			 "mem_size_mib", (json_int_t)(vm->mem.size >> 20), "devices", devs,
			 "vsock_cid", vm->vsock_cid ? json_integer(vm->vsock_cid) : NULL);
	return 0;
}

static int api_get_machine_config(const struct api_call *call, json_t **ret,
				  struct hull_err *err)
{
	*ret = json_pack("{s:I, s:I, s:b, s:b}", "vcpu_count", (json_int_t)call->vm->ncpus,
			 "mem_size_mib", (json_int_t)(call->vm->mem.size >> 20), "smt", 0,
			 "track_dirty_pages", 0);
	return 0;
}

static int api_get_vm_config(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	const struct vm_config *cfg = call->vm->cfg;
	json_t *drives = json_array();
	json_t *mc = NULL;

	for (size_t i = 0; i < cfg->n_disks; i++)
		json_array_append_new(
			drives, json_pack("{s:o, s:s, s:b, s:s, s:s?}", "drive_id",
					  json_sprintf("drive%zu", i), "path_on_host", cfg->disks[i].path,
					  "is_read_only", cfg->disks[i].readonly, "io_engine", "Sync",
					  "serial", cfg->disks[i].serial));
	(void)api_get_machine_config(call, &mc, err);
	*ret = json_pack("{s:{s:s, s:s?, s:s?}, s:o, s:o}", "boot-source", "kernel_image_path",
			 cfg->kernel, "initrd_path", cfg->initrd, "boot_args", cfg->cmdline,
			 "drives", drives, "machine-config", mc);
	return 0;
}

/* The pause/resume/stop requests behind PUT /actions, PATCH /vm and the JSON-lines ops. */
static int api_act(struct vm *vm, const char *action, struct hull_err *err)
{
	if (strcmp(action, "pause") == 0) {
		vm_pause(vm);
	} else if (strcmp(action, "resume") == 0) {
		vm_resume(vm);
	} else if (strcmp(action, "power-off") == 0) {
		vm_resume(vm);
		vm_request_stop(vm, VM_STOP_POWEROFF, "power-off through the API");
	} else if (strcmp(action, "shutdown") == 0 || strcmp(action, "SendCtrlAltDel") == 0) {
		/* Graceful: the guest is asked (Ctrl-Alt-Del) and has until the deadline. */
		if (vm_request_shutdown(vm) < 0)
			return hull_err_setx(err, EIO, "cannot arm the shutdown timer");
	} else {
		return hull_err_setx(err, EINVAL,
				     "unknown action '%.40s' (pause, resume, shutdown, power-off, "
				     "SendCtrlAltDel)", action);
	}
	return 0;
}

static int api_put_actions(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	static const char *const known[] = { "action_type", NULL };
	const char *action = NULL;
	int r;

	r = check_keys(call->body, "PUT /actions", known, err);
	if (r == 0)
		r = hjson_get_str(call->body, "action_type", "PUT /actions", true, &action, err);
	if (r < 0)
		return r;
	r = api_act(call->vm, action, err);
	if (r < 0)
		return hull_err_prefix(err, "PUT /actions: action_type");
	*ret = NULL;
	return 0;
}

static int api_patch_vm(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	static const char *const known[] = { "state", NULL };
	const char *state = NULL;
	int r;

	r = check_keys(call->body, "PATCH /vm", known, err);
	if (r == 0)
		r = hjson_get_str(call->body, "state", "PATCH /vm", true, &state, err);
	if (r < 0)
		return r;
	if (strcmp(state, "Paused") == 0)
		vm_pause(call->vm);
	else if (strcmp(state, "Resumed") == 0)
		vm_resume(call->vm);
	else
		return hull_err_setx(err, EINVAL,
				     "PATCH /vm: state: expected \"Paused\" or \"Resumed\", got '%.40s'",
				     state);
	*ret = NULL;
	return 0;
}

static void put_counter(void *ctx, const char *name, uint64_t value)
{
	json_object_set_new(ctx, name, hjson_u64(value));
}

static json_t *vcpu_metrics(struct vm *vm)
{
	uint64_t exits[VM_EXIT_KIND_COUNT] = { 0 }, total = 0;
	json_t *o = json_object(), *ex = json_object();

	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++)
		for (unsigned k = 0; k < VM_EXIT_KIND_COUNT; k++)
			exits[k] += __atomic_load_n(&vm->vcpus[i].exits[k], __ATOMIC_RELAXED);
	for (unsigned k = 0; k < VM_EXIT_KIND_COUNT; k++) {
		put_counter(ex, vm_exit_kind_name((enum vm_exit_kind)k), exits[k]);
		total += exits[k];
	}
	json_object_set_new(o, "exits", ex);
	put_counter(o, "exits_total", total);
	put_counter(o, "msi_irqfd", atomic_load(&vm->n_msi_irqfd));
	put_counter(o, "msi_ioctl", atomic_load(&vm->n_msi_ioctl));
	return o;
}

static int api_get_metrics(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct vm *vm = call->vm;
	json_t *o = json_object(), *devs = json_object(), *api = json_object();
	struct timeval tv;

	(void)gettimeofday(&tv, NULL);
	put_counter(o, "utc_timestamp_ms",
		    (uint64_t)tv.tv_sec * 1000U + (uint64_t)tv.tv_usec / 1000U);
	api_server_metrics(vm->api, put_counter, api);
	json_object_set_new(o, "api_server", api);
	json_object_set_new(o, "vcpu", vcpu_metrics(vm));
	for (unsigned i = 0; i < vm->n_devs; i++) {
		const struct vm_device *d = &vm->devs[i];
		char name[64];
		json_t *m;

		if (!d->ops->metrics)
			continue;
		m = json_object();
		d->ops->metrics(d->dev, put_counter, m);
		(void)snprintf(name, sizeof(name), "%s%u", d->ops->name, d->idx);
		json_object_set_new(devs, name, m);
	}
	json_object_set_new(o, "devices", devs);
	*ret = o;
	return 0;
}

/*
 * The routes. Endpoints other parts of hull fill in (balloon, drives, network interfaces,
 * machine-config resize) are here with no handler yet: 501 until then.
 */
/*
 * PUT /snapshot/create {"snapshot_path": DIR, "resume": bool} (Firecracker's path; hull writes
 * one directory, docs/vmm.md "Snapshots", so snapshot_path names it and mem_file_path, if
 * given, must be DIR/memory); 204.
 */
static int api_put_snapshot(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	static const char *const known[] = { "snapshot_path", "mem_file_path", "snapshot_type",
					     "resume", NULL };
	const char *dir = NULL, *type = NULL;
	bool resume = true;
	int r;

	if ((r = check_keys(call->body, "body", known, err)) < 0 ||
	    (r = hjson_get_str(call->body, "snapshot_path", "body", true, &dir, err)) < 0 ||
	    (r = hjson_get_str(call->body, "snapshot_type", "body", false, &type, err)) < 0 ||
	    (r = hjson_get_bool(call->body, "resume", "body", false, &resume, err)) < 0)
		return r;
	if (type && strcmp(type, "Full") != 0 && strcmp(type, "Diff") != 0)
		return hull_err_setx(err, EINVAL, "body.snapshot_type: %.20s: expected Full or Diff",
				     type);
	if (type && strcmp(type, "Diff") == 0)
		r = vm_snapshot_diff(call->vm, dir, resume, err);
	else
		r = vm_snapshot(call->vm, dir, resume, err);
	if (r < 0)
		return r;
	*ret = NULL;
	return 0;
}

static const struct api_route routes[] = {
	{ HTTP_GET, "/", false, false, api_get_status },
	{ HTTP_PUT, "/actions", false, true, api_put_actions },
	{ HTTP_PATCH, "/vm", false, true, api_patch_vm },
	{ HTTP_GET, "/vm/config", false, false, api_get_vm_config },
	{ HTTP_GET, "/machine-config", false, false, api_get_machine_config },
	{ HTTP_PATCH, "/machine-config", false, true, NULL },
	{ HTTP_GET, "/metrics", false, false, api_get_metrics },
	{ HTTP_PUT, "/snapshot/create", false, true, api_put_snapshot },
	{ HTTP_GET, "/balloon", false, false, api_balloon_get },
	{ HTTP_PATCH, "/balloon", false, true, api_balloon_patch },
	{ HTTP_GET, "/balloon/statistics", false, false, api_balloon_stats },
	{ HTTP_PATCH, "/balloon/statistics", false, true, NULL },
	{ HTTP_PATCH, "/drives/", true, true, api_drive_patch },
	{ HTTP_GET, "/hotplug/memory", false, false, api_hotplug_memory_get },
	{ HTTP_PATCH, "/hotplug/memory", false, true, api_hotplug_memory_patch },
	{ HTTP_PUT, "/network-interfaces/", true, true, api_net_put },
	{ HTTP_DELETE, "/network-interfaces/", true, false, api_net_delete },
	{ HTTP_PATCH, "/network-interfaces/", true, true, api_net_patch },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

const struct api_route *api_route_table(size_t *n)
{
	*n = N_ROUTES;
	return routes;
}

char *api_fault_body(const char *msg)
{
	/* A message may quote what the client sent (a field's name): anything but printable
	 * ASCII becomes '?', since jansson refuses a string that is not UTF-8 (a request with
	 * such a key made json_pack fail and the dump abort: found by fuzz-http). */
	cleanup_free char *clean = xstrdup(msg);
	cleanup_json json_t *o = NULL;

	for (char *c = clean; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	o = json_pack("{s:s}", "fault_message", clean);
	return hjson_dump(o, JSON_COMPACT);
}

static bool is_id(const char *s, size_t n)
{
	if (!n || n > API_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

/* Does the route serve this path? Sets *ret_id (copied into id) for prefix routes. */
static bool route_matches(const struct api_route *rt, const char *path, size_t n, char *id)
{
	size_t pl = strlen(rt->path);

	if (!rt->has_id)
		return pl == n && memcmp(rt->path, path, n) == 0;
	if (n <= pl || memcmp(rt->path, path, pl) != 0 || !is_id(path + pl, n - pl))
		return false;
	memcpy(id, path + pl, n - pl);
	id[n - pl] = '\0';
	return true;
}

static void reply_fault(struct api_reply *rep, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_fault(struct api_reply *rep, int status, const char *fmt, ...)
{
	char msg[HULL_ERR_MSG_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rep->status = status;
	rep->body = api_fault_body(msg);
}

static int status_of_errno(int e)
{
	switch (e) {
	case ENOENT: return 404;
	case EEXIST:
	case EALREADY: return 409; /* PUT of an id in use, DELETE of one being removed */
	case ENOSYS:
	case EOPNOTSUPP: return 501;
	case EIO: return 500;
	default: return 400;
	}
}

/* The methods the path has, for 405's Allow header. */
static const char *allowed_methods(const char *path, size_t n, char *buf, size_t size)
{
	char id[API_MAX_ID + 1];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_ROUTES && off < size; i++)
		if (route_matches(&routes[i], path, n, id))
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off ? ", " : "",
						http_method_name(routes[i].method));
	return buf;
}

/* Run a route: its body parsed and checked, then the handler. */
static void route_call(struct vm *vm, const struct api_route *rt, const char *id,
		       const struct http_request *req, struct api_reply *rep)
{
	struct hull_err err = { 0 };
	cleanup_json json_t *body = NULL, *out = NULL;
	struct api_call call = { .vm = vm, .id = id };
	const char *m = http_method_name(req->method);
	int r;

	if (!rt->fn) {
		reply_fault(rep, 501, "%s %s: not implemented yet", m, rt->path);
		return;
	}
	if (rt->needs_body) {
		if (!req->body_len) {
			reply_fault(rep, 400, "%s %.*s: a JSON body is required", m,
				    (int)req->path_len, req->path);
			return;
		}
		if (hjson_load_buf(req->body, req->body_len, "body", &body, &err) < 0 ||
		    !json_is_object(body)) {
			reply_fault(rep, 400, "%s %.*s: %s", m, (int)req->path_len, req->path,
				    body ? "the body must be a JSON object" : err.msg);
			return;
		}
		call.body = body;
	}
	r = rt->fn(&call, &out, &err);
	if (r < 0) {
		reply_fault(rep, status_of_errno(-r), "%s", err.msg);
		return;
	}
	rep->status = out ? 200 : 204;
	rep->body = out ? hjson_dump(out, JSON_COMPACT) : NULL;
}

void api_route_request(struct vm *vm, const struct http_request *req, struct api_reply *rep)
{
	static __thread char allow[128];
	char id[API_MAX_ID + 1];
	const char *path = req->path;
	size_t n = req->path_len;
	bool path_known = false;

	*rep = (struct api_reply){ 0 };
	if (n > 1 && path[n - 1] == '/')
		n--; /* "/metrics/" is "/metrics" */
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!route_matches(&routes[i], path, n, id))
			continue;
		path_known = true;
		if (routes[i].method == req->method) {
			route_call(vm, &routes[i], routes[i].has_id ? id : NULL, req, rep);
			return;
		}
	}
	if (!path_known) {
		reply_fault(rep, 404, "no such endpoint: %.*s", (int)(n > 128 ? 128 : n), path);
		return;
	}
	reply_fault(rep, 405, "%s is not allowed on %.*s (allowed: %s)",
		    http_method_name(req->method), (int)n, path,
		    allowed_methods(path, n, allow, sizeof(allow)));
	rep->allow = allow;
}

/* The first API, one JSON object per line: {"ok":true,"state":"running"...}. */
static json_t *lines_status(struct vm *vm)
{
	bool paused;

	pthread_mutex_lock(&vm->lock);
	paused = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	return json_pack("{s:b, s:s, s:i, s:I, s:o*}", "ok", 1,
			 "state", atomic_load(&vm->stop) ? vmm_stop_name((enum vm_stop)atomic_load(&vm->stop))
							 : paused ? "paused"
							 : vm->shutdown_requested ? "shutting-down" : "running",
			 "cpus", (int)vm->ncpus, "memory", (json_int_t)vm->mem.size,
			 "vsock_cid", vm->vsock_cid ? json_integer(vm->vsock_cid) : NULL);
}

/*
 * {"op":"migrate","max_bandwidth_mib":N,"downtime_ms":N,"timeout_s":N} with the connected
 * socket to the destination sent along (SCM_RIGHTS: `hull vm migrate`); migrate.h.
 */
/* The downtime's steps (migrate.h), in their order, in ms. */
static json_t *migrate_steps_json(const struct migrate_stats *st)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "pause",
			 (double)st->pause_ns / 1e6, "disks", (double)st->disks_ns / 1e6, "sync",
			 (double)st->sync_ns / 1e6, "pages", (double)st->pages_ns / 1e6, "state",
			 (double)st->state_ns / 1e6, "send", (double)st->flush_ns / 1e6, "ack",
			 (double)st->ack_ns / 1e6);
}

static json_t *lines_migrate(struct vm *vm, json_t *req)
{
	struct migrate_params p = { 0 };
	struct migrate_stats st;
	struct hull_err err = { 0 };
	int64_t bw = 0, down = MIGRATE_DOWNTIME_MS_DEFAULT, timeout = MIGRATE_TIMEOUT_S_DEFAULT;
	bool fake = false;
	int fd = api_take_fd(vm->api);

	if (hjson_get_int(req, "max_bandwidth_mib", "request", false, 0, 1 << 20, &bw, &err) < 0 ||
	    hjson_get_int(req, "downtime_ms", "request", false, 1, 3600000, &down, &err) < 0 ||
	    hjson_get_int(req, "timeout_s", "request", false, 1, MIGRATE_TIMEOUT_S_MAX, &timeout,
			  &err) < 0 ||
	    hjson_get_bool(req, "test_fake_cpuid", "request", false, &fake, &err) < 0 ||
	    (fd < 0 && hull_err_setx(&err, EBADF, "migrate: no connection to the destination "
				     "came with the request (hull vm migrate sends one)") < 0)) {
		if (fd >= 0)
			(void)close(fd);
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	}
	p.max_bw = (uint64_t)bw << 20;
	p.downtime_ns = (uint64_t)down * 1000000ULL;
	p.timeout_ns = (uint64_t)timeout * 1000000000ULL;
	p.test_fake_cpuid = fake;
	if (vm_migrate(vm, fd, &p, &st, &err) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	return json_pack("{s:b, s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:o}", "ok", 1, "state",
			 "migrated", "rounds", (int)st.rounds, "pages", (json_int_t)st.pages,
			 "last_pages", (json_int_t)st.last_pages, "downtime_ms",
			 (double)st.downtime_ns / 1e6, "total_ms", (double)st.total_ns / 1e6,
			 "sent_ms", (double)st.sent_ns / 1e6, "estimate_ms",
			 (double)st.estimate_ns / 1e6, "steps_ms", migrate_steps_json(&st));
}

static json_t *lines_handle(struct vm *vm, const char *line, size_t len)
{
	struct hull_err err = { 0 };
	cleanup_json json_t *req = NULL;
	const char *op = NULL;

	if (hjson_load_buf(line, len, "request", &req, &err) < 0 ||
	    hjson_get_str(req, "op", "request", true, &op, &err) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	if (strcmp(op, "status") == 0)
		return lines_status(vm);
	if (strcmp(op, "migrate") == 0)
		return lines_migrate(vm, req);
	if (strcmp(op, "snapshot") == 0) {
		/* {"op":"snapshot","dir":PATH,"resume":true|false,"diff":false} (snapshot.h) */
		const char *dir = NULL;
		bool resume = true, diff = false;

		if (hjson_get_str(req, "dir", "request", true, &dir, &err) < 0 ||
		    hjson_get_bool(req, "resume", "request", false, &resume, &err) < 0 ||
		    hjson_get_bool(req, "diff", "request", false, &diff, &err) < 0 ||
		    (diff ? vm_snapshot_diff(vm, dir, resume, &err)
			  : vm_snapshot(vm, dir, resume, &err)) < 0)
			return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
		return lines_status(vm);
	}
	{
		/* balloon, balloon-stats, disk-rescan, disk-resize (api-resize.h) */
		json_t *reply = api_resize_handle(vm, op, req);

		if (reply || (reply = api_hotplug_handle(vm, op, req)))
			return reply;
	}
	if (strcmp(op, "pause") != 0 && strcmp(op, "resume") != 0 &&
	    strcmp(op, "power-off") != 0 && strcmp(op, "shutdown") != 0) {
		char msg[256];

		(void)snprintf(msg, sizeof(msg),
			       "request.op: unknown operation '%.40s' (status, pause, resume, snapshot, migrate, shutdown, power-off, balloon, balloon-stats, disk-rescan, disk-resize, rate-limit, memory-hotplug, net-add, net-del)",
			       op);
		return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	}
	if (api_act(vm, op, &err) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	if (strcmp(op, "power-off") == 0)
		return json_pack("{s:b, s:s}", "ok", 1, "state", "power-off");
	if (strcmp(op, "shutdown") == 0)
		return json_pack("{s:b, s:s}", "ok", 1, "state", "shutting-down");
	return lines_status(vm);
}

char *api_lines_request(struct vm *vm, const char *line, size_t len)
{
	cleanup_json json_t *reply = lines_handle(vm, line, len);

	return hjson_dump(reply, JSON_COMPACT);
}
