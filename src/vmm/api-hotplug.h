#pragma once
/* The API's NIC hot-plug routes (hotplug-net.h): PUT and DELETE /network-interfaces/ID. */
#include <jansson.h>

#include "common/error.h"

struct api_call;
struct vm;

int api_net_put(const struct api_call *call, json_t **ret, struct hull_err *err);
int api_net_delete(const struct api_call *call, json_t **ret, struct hull_err *err);
/* {"op":"net-add",...} and {"op":"net-del",...}: the reply line, or NULL for another op. */
json_t *api_hotplug_handle(struct vm *vm, const char *op, json_t *req);
