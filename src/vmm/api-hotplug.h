#pragma once
/* The API's NIC hot-plug routes (hotplug-net.h): PUT and DELETE /network-interfaces/ID. */
#include <jansson.h>

#include "common/error.h"

struct api_call;
struct vm;
struct vm_net_config;

/*
 * PUT /network-interfaces/ID's body into c (c->tap points into body): the fields known, their
 * types, iface_id == id, the tap's name, a unicast guest_mac, vhost on|off|auto (absent:
 * auto). 0, or -EINVAL with err naming the field. Pure.
 */
int api_net_put_parse(json_t *body, const char *id, struct vm_net_config *c,
		      struct hull_err *err);

int api_net_put(const struct api_call *call, json_t **ret, struct hull_err *err);
int api_net_delete(const struct api_call *call, json_t **ret, struct hull_err *err);
/* {"op":"net-add",...} and {"op":"net-del",...}: the reply line, or NULL for another op. */
json_t *api_hotplug_handle(struct vm *vm, const char *op, json_t *req);
