/* The control API's resize operations (api-resize.h). */
#include "vmm/api-resize.h"

#include <string.h>

#include "common/json.h"
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

json_t *api_resize_handle(struct vm *vm, const char *op, json_t *req)
{
	struct hull_err err = { 0 };
	struct balloon_info info;
	int64_t n = 0;

	if (strcmp(op, "balloon") == 0) {
		if (hjson_get_int(req, "amount_mib", "request", true, 0, INT64_MAX, &n, &err) < 0 ||
		    vm_balloon_set(vm, (uint64_t)n, &info, &err) < 0)
			return api_error(&err);
		return balloon_json(&info, false);
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
