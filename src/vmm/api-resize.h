#pragma once
/*
 * The control API's resize operations (JSON lines, api.h), each one call into resize.h:
 *   {"op":"balloon","amount_mib":N}   -> {"ok":true,"target_mib":..,"actual_mib":..,...}
 *   {"op":"balloon-stats"}            -> the same with the guest's last statistics
 *   {"op":"disk-rescan","drive":IDX}  -> {"ok":true,"drive":IDX,"size":BYTES}
 *   {"op":"disk-resize","drive":IDX,"size":BYTES} -> the same, after growing the image
 *   {"op":"memory-hotplug"[,"requested_size_mib":N]} -> {"ok":true,"total_size_mib":..,
 *     "block_size_mib":..,"plugged_size_mib":..,"requested_size_mib":..,"address":..}
 * (PATCH /balloon, GET /balloon/statistics and PATCH /drives/ID in the HTTP shape.)
 */
#include <jansson.h>

#include "vmm/api-routes.h"

struct vm;

/* The reply to op (owned by the caller), or NULL when op is not one of these. */
json_t *api_resize_handle(struct vm *vm, const char *op, json_t *req);

/* The HTTP endpoints (api-routes.h handlers): PATCH /balloon {"amount_mib": N},
 * GET /balloon, GET /balloon/statistics, PATCH /drives/IDX [{"size": BYTES}]. */
int api_balloon_patch(const struct api_call *call, json_t **ret, struct hull_err *err);
int api_balloon_get(const struct api_call *call, json_t **ret, struct hull_err *err);
int api_balloon_stats(const struct api_call *call, json_t **ret, struct hull_err *err);
/* PATCH /hotplug/memory {"requested_size_mib": N}, GET /hotplug/memory (virtio-mem) */
int api_hotplug_memory_patch(const struct api_call *call, json_t **ret, struct hull_err *err);
int api_hotplug_memory_get(const struct api_call *call, json_t **ret, struct hull_err *err);
int api_drive_patch(const struct api_call *call, json_t **ret, struct hull_err *err);
/* PATCH /network-interfaces/IDX {"rx_rate_limiter", "tx_rate_limiter"}: 204 */
int api_net_patch(const struct api_call *call, json_t **ret, struct hull_err *err);
