#pragma once
/*
 * NICs hot-plugged into a running VM (docs/vmm.md "PCI hot-plug"): PUT and DELETE
 * /network-interfaces/ID. Each is a virtio-net device in a hot-plug slot (hotplug.h), in the
 * device table as "virtio-net" instance SLOT (metrics: virtio-net16...). Event loop thread.
 */
#include <jansson.h>

#include "common/error.h"
#include "vmm/vmm.h"

struct vm;

#define VM_HOTPLUG_ID_MAX 64

/*
 * Add NIC id on c's tap in a free slot and tell the guest. 0, or -errno with err: -EEXIST (id
 * in use: a hot-plugged NIC's, or a --net number), -ENOSPC (every slot in use), the tap's
 * error. Nothing is left behind on failure (tap, device, slot: undone in reverse).
 */
int vm_net_hotplug_add(struct vm *vm, const char *id, const struct vm_net_config *c,
		       struct hull_err *err);
/*
 * Ask the guest to eject NIC id; the device is freed when it does (its _EJ0). 0, -ENOENT (no
 * hot-plugged NIC id), -EALREADY (its removal is pending).
 */
int vm_net_hotplug_del(struct vm *vm, const char *id, struct hull_err *err);
/*
 * A restore: cfg->hotplug_nets built again in their slots, present without an event (the
 * state stream has the controller's). After the devices, before the state. 0 or -errno.
 */
int vm_net_hotplug_restore(struct vm *vm, struct hull_err *err);
/*
 * config.json's "hotplug_nets": [{"id", "tap", "mac", "slot", "vhost"}], or NULL when there
 * are none.
 */
json_t *vm_net_hotplug_json(struct vm *vm);
/* "on", "off" or "auto" */
const char *vm_net_vhost_name(enum vm_net_vhost v);
/* Hot-plugged NICs the VM holds now (ejected ones are gone). */
unsigned vm_net_hotplug_count(struct vm *vm);
/* The id of the NIC in slot, or NULL. */
const char *vm_net_hotplug_id(struct vm *vm, unsigned slot);
/* At teardown, after the devices: the records. */
void vm_net_hotplug_free(struct vm *vm);
