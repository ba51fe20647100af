#include "vmm/virtio/devices.h"

#include <errno.h>
#include <unistd.h>

#include "vmm/virtio/blk.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/pci.h"
#include "vmm/virtio/rng.h"
#include "vmm/vm.h"

int virtio_devices_create(struct vm *vm, struct hull_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	int r;

	for (size_t i = 0; i < cfg->n_disks; i++) {
		r = virtio_blk_create(vm, &cfg->disks[i], &vm->disks[i], &vm->vdevs[vm->n_vdevs],
				      err);
		if (r < 0)
			return r;
		vm->n_vdevs++;
	}
	if (cfg->rng) {
		r = virtio_rng_create(vm, &vm->vdevs[vm->n_vdevs], err);
		if (r < 0)
			return r;
		vm->n_vdevs++;
	}
	if (cfg->console == VM_CONSOLE_VIRTIO) {
		r = virtio_console_create(vm, STDOUT_FILENO, &vm->vdevs[vm->n_vdevs], err);
		if (r < 0)
			return r;
		vm->vcon = vm->vdevs[vm->n_vdevs++];
	}
	return 0;
}

void virtio_devices_free(struct vm *vm)
{
	for (unsigned i = 0; i < vm->n_vdevs; i++) {
		struct virtio_pci_dev *v = vm->vdevs[i];

		if (v->ops->device_id == 2)
			virtio_blk_free(v);
		else if (v->ops->device_id == 3)
			virtio_console_free(v);
		else
			virtio_rng_free(v);
		vm->vdevs[i] = NULL;
	}
	vm->n_vdevs = 0;
	vm->vcon = NULL;
}
