/* The control API's resize operations (api-resize.h). */
#include "vmm/api-resize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "vmm/ratelimit.h"
#include "vmm/resize.h"
#include "vmm/vm.h"

static json_t *api_error(const struct hull_err *err)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", err->msg);
}

/* Firecracker's balloon statistics object: sizes in pages and MiB, the guest's counters. */
static json_t *balloon_json(const struct balloon_info *b, bool with_stats)
{
	json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:I}", "ok", 1,
			      "target_pages", (json_int_t)b->target_pages,
			      "actual_pages", (json_int_t)b->actual_pages,
			      "target_mib", (json_int_t)(b->target_pages >> (20 - BALLOON_PAGE_SHIFT)),
			      "actual_mib", (json_int_t)(b->actual_pages >> (20 - BALLOON_PAGE_SHIFT)));

	if (!with_stats)
		return o;
	for (unsigned i = 0; i < BALLOON_S_COUNT; i++)
		if (b->set & (1U << i))
			(void)json_object_set_new(o, balloon_stat_name((enum balloon_stat)i),
						  json_integer((json_int_t)(b->stat[i] > INT64_MAX
									    ? INT64_MAX : b->stat[i])));
	(void)json_object_set_new(o, "bad_pfns", json_integer((json_int_t)b->bad_pfns));
	(void)json_object_set_new(o, "reported_bytes", json_integer((json_int_t)b->reported));
	return o;
}

/* Firecracker's GET /hotplug/memory object, in MiB (the block size at least 2 MiB). */
static json_t *vmem_json(const struct vmem_info *i)
{
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I}", "ok", 1,
			 "total_size_mib", (json_int_t)(i->region_size >> 20),
			 "block_size_mib", (json_int_t)(i->block_size >> 20),
			 "plugged_size_mib", (json_int_t)(i->plugged_size >> 20),
			 "requested_size_mib", (json_int_t)(i->requested_size >> 20),
			 "address", (json_int_t)i->addr);
}

json_t *api_resize_handle(struct vm *vm, const char *op, json_t *req)
{
	struct hull_err err = { 0 };
	struct balloon_info info;
	struct ratelimit_config rl;
	int64_t n = 0;

	/* {"op":"rate-limit","drive":N,"rate_limiter":{"bandwidth":{...},"ops":{...}}}: the
	 * body of Firecracker's PATCH /drives/ID (docs/vmm.md "Rate limits") */
	if (strcmp(op, "rate-limit") == 0) {
		if (hjson_get_int(req, "drive", "request", true, 0, VM_MAX_DISKS - 1, &n, &err) < 0 ||
		    ratelimit_config_from_json(req, "rate_limiter", "request", &rl, &err) < 0 ||
		    vm_disk_rate_limit(vm, (unsigned)n, &rl, &err) < 0)
			return api_error(&err);
		return json_pack("{s:b}", "ok", 1);
	}
	if (strcmp(op, "balloon") == 0) {
		if (hjson_get_int(req, "amount_mib", "request", true, 0, INT64_MAX, &n, &err) < 0 ||
		    vm_balloon_set(vm, (uint64_t)n, &info, &err) < 0)
			return api_error(&err);
		return balloon_json(&info, false);
	}
	/* {"op":"memory-hotplug"[,"requested_size_mib":N]}: set (when given), then the status */
	if (strcmp(op, "memory-hotplug") == 0) {
		struct vmem_info mi;

		if (json_object_get(req, "requested_size_mib")) {
			if (hjson_get_int(req, "requested_size_mib", "request", true, 0, INT64_MAX, &n,
					  &err) < 0 ||
			    vm_mem_hotplug_set(vm, (uint64_t)n, &mi, &err) < 0)
				return api_error(&err);
		} else if (vm_mem_hotplug_get(vm, &mi, &err) < 0) {
			return api_error(&err);
		}
		return vmem_json(&mi);
	}
	if (strcmp(op, "balloon-stats") == 0) {
		if (vm_balloon_get(vm, &info, &err) < 0)
			return api_error(&err);
		return balloon_json(&info, true);
	}
	if (strcmp(op, "disk-rescan") == 0 || strcmp(op, "disk-resize") == 0) {
		uint64_t size = 0;

		if (hjson_get_int(req, "drive", "request", true, 0, VM_MAX_DISKS - 1, &n, &err) < 0)
			return api_error(&err);
		if (strcmp(op, "disk-resize") == 0 &&
		    (hjson_get_u64(req, "size", "request", true, &size, &err) < 0 ||
		     vm_disk_grow(vm, (unsigned)n, size, &err) < 0))
			return api_error(&err);
		if (vm_disk_rescan(vm, (unsigned)n, &size, &err) < 0)
			return api_error(&err);
		return json_pack("{s:b, s:I, s:I}", "ok", 1, "drive", (json_int_t)n, "size",
				 (json_int_t)size);
	}
	return NULL;
}

/* ---- the same in the HTTP shape (api-routes.c's table) ---------------------------------- */

static int strip_ok(json_t *o, json_t **ret, struct hull_err *err)
{
	if (!json_is_true(json_object_get(o, "ok"))) {
		int r = hull_err_setx(err, EINVAL, "%s",
				      json_string_value(json_object_get(o, "error")) ?: "failed");

		json_decref(o);
		return r;
	}
	(void)json_object_del(o, "ok");
	*ret = o;
	return 0;
}

/* PATCH /balloon {"amount_mib": N}: the new target; the reply says target and actual. */
int api_balloon_patch(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct balloon_info info;
	int64_t n = 0;
	int r;

	if ((r = hjson_get_int(call->body, "amount_mib", "body", true, 0, INT64_MAX, &n, err)) < 0 ||
	    (r = vm_balloon_set(call->vm, (uint64_t)n, &info, err)) < 0)
		return r;
	return strip_ok(balloon_json(&info, false), ret, err);
}

/* GET /balloon: target and actual; GET /balloon/statistics: with the guest's counters. */
static int balloon_get(const struct api_call *call, bool stats, json_t **ret,
		       struct hull_err *err)
{
	struct balloon_info info;
	int r = vm_balloon_get(call->vm, &info, err);

	return r < 0 ? r : strip_ok(balloon_json(&info, stats), ret, err);
}

int api_balloon_get(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	return balloon_get(call, false, ret, err);
}

int api_balloon_stats(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	return balloon_get(call, true, ret, err);
}

/* PATCH /hotplug/memory {"requested_size_mib": N}: the new request; the reply: the status. */
int api_hotplug_memory_patch(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct vmem_info i;
	int64_t n = 0;
	int r;

	if ((r = hjson_get_int(call->body, "requested_size_mib", "body", true, 0, INT64_MAX, &n,
			       err)) < 0 ||
	    (r = vm_mem_hotplug_set(call->vm, (uint64_t)n, &i, err)) < 0)
		return r;
	return strip_ok(vmem_json(&i), ret, err);
}

/* GET /hotplug/memory: total, block, plugged and requested sizes in MiB. */
int api_hotplug_memory_get(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct vmem_info i;
	int r = vm_mem_hotplug_get(call->vm, &i, err);

	return r < 0 ? r : strip_ok(vmem_json(&i), ret, err);
}

/*
 * PATCH /drives/IDX {"size": BYTES} grows --disk number IDX (0-based) to BYTES; without
 * "size", the size is re-read from the file (grown on the host with truncate);
 * {"rate_limiter": {...}} (Firecracker's) replaces its rate limits. The reply gives the size
 * the guest now sees.
 */
int api_drive_patch(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	uint64_t size = 0;
	char *end;
	unsigned long idx = strtoul(call->id, &end, 10);
	int r;

	if (*end || call->id[0] < '0' || call->id[0] > '9' || idx >= VM_MAX_DISKS)
		return hull_err_setx(err, ENOENT, "drive %s: not a --disk number (0, 1, ...)",
				     call->id);
	if (json_object_get(call->body, "rate_limiter")) {
		struct ratelimit_config rl;

		if ((r = ratelimit_config_from_json(call->body, "rate_limiter", "body", &rl,
						    err)) < 0 ||
		    (r = vm_disk_rate_limit(call->vm, (unsigned)idx, &rl, err)) < 0)
			return r;
	}
	if (json_object_get(call->body, "size") &&
	    ((r = hjson_get_u64(call->body, "size", "body", true, &size, err)) < 0 ||
	     (r = vm_disk_grow(call->vm, (unsigned)idx, size, err)) < 0))
		return r;
	if ((r = vm_disk_rescan(call->vm, (unsigned)idx, &size, err)) < 0)
		return r;
	*ret = json_pack("{s:I, s:I}", "drive", (json_int_t)idx, "size", (json_int_t)size);
	return 0;
}

/*
 * PATCH /network-interfaces/IDX {"rx_rate_limiter": {...}, "tx_rate_limiter": {...}}
 * (Firecracker's body, IDX the --net number): replaces the given directions' limits.
 */
int api_net_patch(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct ratelimit_config rx, tx;
	bool has_rx = json_object_get(call->body, "rx_rate_limiter") != NULL;
	bool has_tx = json_object_get(call->body, "tx_rate_limiter") != NULL;
	char *end;
	unsigned long idx = strtoul(call->id, &end, 10);
	int r;

	if (*end || call->id[0] < '0' || call->id[0] > '9' || idx >= VM_MAX_NICS)
		return hull_err_setx(err, ENOENT, "network interface %s: not a --net number (0, "
				     "1, ...)", call->id);
	if (!has_rx && !has_tx)
		return hull_err_setx(err, EINVAL, "body: rx_rate_limiter or tx_rate_limiter "
				     "expected");
	if ((has_rx && (r = ratelimit_config_from_json(call->body, "rx_rate_limiter", "body", &rx,
							err)) < 0) ||
	    (has_tx && (r = ratelimit_config_from_json(call->body, "tx_rate_limiter", "body", &tx,
							err)) < 0) ||
	    (r = vm_net_rate_limit(call->vm, (unsigned)idx, has_rx ? &rx : NULL,
				   has_tx ? &tx : NULL, err)) < 0)
		return r;
	*ret = NULL;
	return 0;
}
