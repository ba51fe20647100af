/* PUT and DELETE /network-interfaces/ID (api-hotplug.h). */
#include "vmm/api-hotplug.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/mac.h"
#include "vmm/api-routes.h"
#include "vmm/hotplug-net.h"
#include "vmm/vmm.h"

static const char *const put_keys[] = { "iface_id", "host_dev_name", "guest_mac", "vhost",
					NULL };

/* hull's "vhost": "on", "off" or "auto" (absent: auto, as --net's vhost=). */
static int vhost_parse(const char *s, enum vm_net_vhost *ret)
{
	if (strcmp(s, "on") == 0)
		*ret = VM_NET_VHOST_ON;
	else if (strcmp(s, "off") == 0)
		*ret = VM_NET_VHOST_OFF;
	else if (strcmp(s, "auto") == 0)
		*ret = VM_NET_VHOST_AUTO;
	else
		return -EINVAL;
	return 0;
}

int api_net_put_parse(json_t *body, const char *id, struct vm_net_config *c,
		      struct hull_err *err)
{
	const char *key, *iface = NULL, *tap = NULL, *mac = NULL, *vhost = NULL;
	json_t *v;
	int r;

	*c = (struct vm_net_config){ .vhost = VM_NET_VHOST_AUTO, .queues = 1 };
	if (!json_is_object(body))
		return hull_err_setx(err, EINVAL, "body: expected a JSON object");
	json_object_foreach(body, key, v) {
		size_t i;

		for (i = 0; put_keys[i] && strcmp(put_keys[i], key) != 0; i++)
			;
		if (!put_keys[i])
			return hull_err_setx(err, EINVAL, "body: unknown field '%.64s'", key);
	}
	if ((r = hjson_get_str(body, "iface_id", "body", true, &iface, err)) < 0 ||
	    (r = hjson_get_str(body, "host_dev_name", "body", true, &tap, err)) < 0 ||
	    (r = hjson_get_str(body, "guest_mac", "body", false, &mac, err)) < 0 ||
	    (r = hjson_get_str(body, "vhost", "body", false, &vhost, err)) < 0)
		return r;
	if (strcmp(iface, id) != 0)
		return hull_err_setx(err, EINVAL, "body: iface_id '%.64s' is not the path's '%s'",
				     iface, id);
	if (!*tap || strlen(tap) >= IFNAMSIZ || strchr(tap, '/'))
		return hull_err_setx(err, EINVAL, "body: host_dev_name '%.64s': not an interface "
				     "name (1-%d characters)", tap, IFNAMSIZ - 1);
	if (mac && mac_parse(mac, c->mac) < 0)
		return hull_err_setx(err, EINVAL, "body: guest_mac '%.64s': expected a unicast "
				     "MAC address like 02:00:00:00:00:01", mac);
	if (vhost && vhost_parse(vhost, &c->vhost) < 0)
		return hull_err_setx(err, EINVAL, "body: vhost '%.64s': expected on, off or auto",
				     vhost);
	c->mac_set = mac != NULL;
	c->tap = tap;
	return 0;
}

/*
 * PUT /network-interfaces/ID {"iface_id": ID, "host_dev_name": TAP[, "guest_mac": MAC]
 * [, "vhost": "on|off|auto"]} (Firecracker's body; vhost is hull's) on a running VM: a
 * virtio-net NIC on the tap, hot-plugged, on vhost-net as a --net NIC would be.
 */
int api_net_put(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	struct vm_net_config c;
	int r;

	*ret = NULL;
	r = api_net_put_parse(call->body, call->id, &c, err);
	return r < 0 ? r : vm_net_hotplug_add(call->vm, call->id, &c, err);
}

/*
 * The JSON-lines form (`hull vm update --add-net/--del-net`): {"op":"net-add","id":ID,
 * "tap":TAP[,"mac":MAC][,"vhost":V]} and {"op":"net-del","id":ID}, through the same checks as PUT/DELETE.
 * NULL for another op.
 */
json_t *api_hotplug_handle(struct vm *vm, const char *op, json_t *req)
{
	struct hull_err err = { 0 };
	const char *id = NULL, *tap = NULL, *mac = NULL, *vhost = NULL;
	json_t *body, *reply = NULL;
	struct api_call call = { .vm = vm };
	int r;

	if (strcmp(op, "net-add") != 0 && strcmp(op, "net-del") != 0)
		return NULL;
	r = hjson_get_str(req, "id", "request", true, &id, &err);
	if (r == 0 && (!*id || strlen(id) > VM_HOTPLUG_ID_MAX || strspn(id,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(id)))
		r = hull_err_setx(&err, EINVAL, "request.id: 1-%d of [A-Za-z0-9_.-]",
				  VM_HOTPLUG_ID_MAX);
	call.id = id;
	if (r == 0 && strcmp(op, "net-del") == 0) {
		r = api_net_delete(&call, &reply, &err);
	} else if (r == 0 && (r = hjson_get_str(req, "tap", "request", true, &tap, &err)) == 0 &&
		   (r = hjson_get_str(req, "mac", "request", false, &mac, &err)) == 0 &&
		   (r = hjson_get_str(req, "vhost", "request", false, &vhost, &err)) == 0) {
		body = json_pack("{s:s, s:s, s:s*, s:s*}", "iface_id", id, "host_dev_name", tap,
				 "guest_mac", mac, "vhost", vhost);
		call.body = body;
		r = api_net_put(&call, &reply, &err);
		json_decref(body);
	}
	json_decref(reply);
	if (r < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	return json_pack("{s:b, s:s, s:i}", "ok", 1, "id", id, "hotplugged_nics",
			 (int)vm_net_hotplug_count(vm));
}

/* DELETE /network-interfaces/ID (hull's extension): the guest is asked to eject the NIC. */
int api_net_delete(const struct api_call *call, json_t **ret, struct hull_err *err)
{
	*ret = NULL;
	return vm_net_hotplug_del(call->vm, call->id, err);
}
