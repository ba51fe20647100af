/* NICs hot-plugged into a running VM (hotplug-net.h). */
#include "vmm/hotplug-net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "common/alloc.h"
#include "common/mac.h"
#include "vmm/devices.h"
#include "vmm/hotplug.h"
#include "vmm/loop.h"
#include "vmm/pci.h"
#include "vmm/virtio/net-backend.h"
#include "vmm/virtio/net.h"
#include "vmm/vm.h"

struct hp_nic {
	bool used;
	char id[VM_HOTPLUG_ID_MAX + 1];
	char *tap;
	uint8_t mac[6]; /* always set: a snapshot's restore gives the guest the same */
	enum vm_net_vhost vhost; /* as asked (PUT's "vhost"): a restore asks the same */
	struct virtio_pci_dev *dev;
};

struct vm_hotplug {
	struct hp_nic nic[PCIHP_NUM_SLOTS]; /* by slot - PCIHP_FIRST_SLOT */
	bool watching;                      /* the controller's eject fd is on the loop */
};

/* Keep the vCPUs out of the bus while a device comes or goes; returns whether they were. */
static bool hp_pause(struct vm *vm)
{
	bool was;

	pthread_mutex_lock(&vm->lock);
	was = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	if (!was && vm->vcpus)
		vm_pause(vm);
	return was;
}

static void hp_resume(struct vm *vm, bool was_paused)
{
	if (!was_paused && vm->vcpus)
		vm_resume(vm);
}

/* Take the device out of its slot and free it (the guest ejected it, or it never started). */
static void hp_nic_drop(struct vm *vm, unsigned slot)
{
	struct hp_nic *n = &vm->hotplug->nic[slot - PCIHP_FIRST_SLOT];
	bool was = hp_pause(vm);

	(void)pci_bus_remove(vm->pci, slot);
	vm_devices_detach(vm, n->dev);
	hp_resume(vm, was);
	virtio_net_free(n->dev);
	free(n->tap);
	memset(n, 0, sizeof(*n));
}

static void hp_on_eject(void *opaque, int fd, uint32_t events)
{
	struct vm *vm = opaque;
	uint32_t bits = pcihp_take_ejected(vm->pcihp);

	(void)fd;
	(void)events;
	for (unsigned s = PCIHP_FIRST_SLOT; s < PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS; s++)
		if ((bits & (1U << s)) && vm->hotplug->nic[s - PCIHP_FIRST_SLOT].used)
			hp_nic_drop(vm, s);
}

static struct hp_nic *hp_find(struct vm *vm, const char *id)
{
	for (unsigned i = 0; vm->hotplug && i < PCIHP_NUM_SLOTS; i++)
		if (vm->hotplug->nic[i].used && strcmp(vm->hotplug->nic[i].id, id) == 0)
			return &vm->hotplug->nic[i];
	return NULL;
}

/* The controller, watched on the loop from the first hot-plug on. */
static int hp_ready(struct vm *vm, struct hull_err *err)
{
	int r;

	if (!vm->pcihp || !vm->pci)
		return hull_err_setx(err, EOPNOTSUPP, "this VM has no PCI bus to hot-plug into");
	if (!vm->hotplug)
		vm->hotplug = xcalloc(1, sizeof(*vm->hotplug));
	if (vm->hotplug->watching || !vm->loop)
		return 0;
	r = evloop_add(vm->loop, pcihp_eject_fd(vm->pcihp), EPOLLIN, hp_on_eject, vm);
	if (r < 0)
		return hull_err_set(err, -r, "PCI hot-plug: event loop");
	vm->hotplug->watching = true;
	return 0;
}

/* A --net number ("0", "1"...) names a cold-plugged NIC (PATCH /network-interfaces/IDX). */
static bool is_cold_id(const struct vm *vm, const char *id)
{
	char *end;
	unsigned long idx = strtoul(id, &end, 10);

	return id[0] >= '0' && id[0] <= '9' && !*end && idx < vm->cfg->n_nets;
}

/* Build the device in slot: tap, then device; each undone if the next fails. */
static int hp_nic_build(struct vm *vm, unsigned slot, const struct vm_net_config *c,
			struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct virtio_net_backend be = { 0 };
	bool was;
	int r;

	r = virtio_net_backend_open(c, c->queues ? c->queues : 1, &be, err);
	if (r < 0)
		return r;
	was = hp_pause(vm);
	pci_bus_set_next_slot(vm->pci, (int)slot);
	r = virtio_net_create(vm, c, &be, ret, err);
	if (r < 0)
		(void)pci_bus_forget(vm->pci, slot); /* the device freed itself */
	else
		vm_devices_attach(vm, "virtio-net", slot, *ret);
	hp_resume(vm, was);
	virtio_net_backend_close(&be); /* what the device did not take */
	return r;
}

static void hp_nic_record(struct vm *vm, unsigned slot, const char *id,
			  const struct vm_net_config *c, struct virtio_pci_dev *dev)
{
	struct hp_nic *n = &vm->hotplug->nic[slot - PCIHP_FIRST_SLOT];

	n->used = true;
	(void)snprintf(n->id, sizeof(n->id), "%s", id);
	n->tap = xstrdup(c->tap);
	memcpy(n->mac, c->mac, 6);
	n->vhost = c->vhost;
	n->dev = dev;
}

int vm_net_hotplug_add(struct vm *vm, const char *id, const struct vm_net_config *in,
		       struct hull_err *err)
{
	struct virtio_pci_dev *dev = NULL;
	struct vm_net_config nc = *in, *c = &nc;
	int r, slot;

	if (strlen(id) > VM_HOTPLUG_ID_MAX)
		return hull_err_setx(err, EINVAL, "network interface id: at most %d characters",
				     VM_HOTPLUG_ID_MAX);
	if ((r = hp_ready(vm, err)) < 0)
		return r;
	/*
	 * A new NIC opens its tap, makes eventfds and an I/O thread: syscalls the confined main
	 * thread's filter kills the VMM for (seccomp.c) unless --hotplug added them.
	 */
	if (vm->cfg->seccomp_level && !vm->cfg->hotplug)
		return hull_err_setx(err, EOPNOTSUPP, "hot-plug needs a VMM started with --hotplug "
				     "(its seccomp filter allows what a new NIC needs)");
	if (hp_find(vm, id) || is_cold_id(vm, id))
		return hull_err_setx(err, EEXIST, "network interface %s: already exists", id);
	if (!c->mac_set)
		net_random_mac(c->mac);
	c->mac_set = true;
	slot = pcihp_slot_reserve(vm->pcihp);
	if (slot < 0)
		return hull_err_setx(err, ENOSPC, "network interface %s: all %d hot-plug slots "
				     "are in use", id, PCIHP_NUM_SLOTS);
	r = hp_nic_build(vm, (unsigned)slot, c, &dev, err);
	if (r < 0) {
		pcihp_slot_release(vm->pcihp, (unsigned)slot);
		return hull_err_prefix(err, "network interface %s", id);
	}
	hp_nic_record(vm, (unsigned)slot, id, c, dev);
	(void)pcihp_plug(vm->pcihp, (unsigned)slot); /* reserved above: cannot fail */
	return 0;
}

int vm_net_hotplug_del(struct vm *vm, const char *id, struct hull_err *err)
{
	struct hp_nic *n = hp_find(vm, id);
	int r;

	if (!n)
		return hull_err_setx(err, ENOENT, "network interface %s: no hot-plugged NIC of that "
				     "id%s", id, is_cold_id(vm, id) ? " (a --net NIC cannot be "
				     "removed)" : "");
	r = pcihp_unplug(vm->pcihp, (unsigned)(n - vm->hotplug->nic) + PCIHP_FIRST_SLOT);
	if (r == -EALREADY)
		return hull_err_setx(err, EALREADY, "network interface %s: its removal is pending "
				     "(the guest has not ejected it yet)", id);
	return r < 0 ? hull_err_setx(err, -r, "network interface %s", id) : 0;
}

int vm_net_hotplug_restore(struct vm *vm, struct hull_err *err)
{
	int r;

	for (size_t i = 0; i < vm->cfg->n_hotplug_nets; i++) {
		const struct vm_hotplug_net *h = &vm->cfg->hotplug_nets[i];
		struct virtio_pci_dev *dev = NULL;

		if ((r = hp_ready(vm, err)) < 0)
			return r;
		if (pcihp_slot_reserve_at(vm->pcihp, h->slot) < 0 || hp_find(vm, h->id))
			return hull_err_setx(err, EINVAL, "hot-plugged NIC %s: slot %u or its id "
					     "twice", h->id, h->slot);
		r = hp_nic_build(vm, h->slot, &h->net, &dev, err);
		if (r < 0) {
			pcihp_slot_release(vm->pcihp, h->slot);
			return hull_err_prefix(err, "hot-plugged NIC %s", h->id);
		}
		hp_nic_record(vm, h->slot, h->id, &h->net, dev);
		(void)pcihp_plug_quiet(vm->pcihp, h->slot);
	}
	return 0;
}

json_t *vm_net_hotplug_json(struct vm *vm)
{
	json_t *a;

	if (!vm_net_hotplug_count(vm))
		return NULL;
	a = json_array();
	for (unsigned i = 0; i < PCIHP_NUM_SLOTS; i++) {
		const struct hp_nic *n = &vm->hotplug->nic[i];
		char mac[MAC_STR_LEN];

		if (!n->used)
			continue;
		mac_format(n->mac, mac);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", n->id, "tap",
						   n->tap, "mac", mac, "slot",
						   (int)(i + PCIHP_FIRST_SLOT), "vhost",
						   vm_net_vhost_name(n->vhost)));
	}
	return a;
}

const char *vm_net_vhost_name(enum vm_net_vhost v)
{
	return v == VM_NET_VHOST_ON ? "on" : v == VM_NET_VHOST_OFF ? "off" : "auto";
}

unsigned vm_net_hotplug_count(struct vm *vm)
{
	unsigned c = 0;

	for (unsigned i = 0; vm->hotplug && i < PCIHP_NUM_SLOTS; i++)
		c += vm->hotplug->nic[i].used;
	return c;
}

const char *vm_net_hotplug_id(struct vm *vm, unsigned slot)
{
	if (!vm->hotplug || slot < PCIHP_FIRST_SLOT || slot >= PCIHP_FIRST_SLOT + PCIHP_NUM_SLOTS ||
	    !vm->hotplug->nic[slot - PCIHP_FIRST_SLOT].used)
		return NULL;
	return vm->hotplug->nic[slot - PCIHP_FIRST_SLOT].id;
}

void vm_net_hotplug_free(struct vm *vm)
{
	if (!vm->hotplug)
		return;
	for (unsigned i = 0; i < PCIHP_NUM_SLOTS; i++)
		free(vm->hotplug->nic[i].tap); /* the devices went with the device table */
	free(vm->hotplug);
	vm->hotplug = NULL;
}
