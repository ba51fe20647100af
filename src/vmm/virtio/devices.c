#include "vmm/virtio/devices.h"

#include <errno.h>

#include "vmm/vm.h"

int virtio_devices_create(struct vm *vm, struct hull_err *err)
{
	if (vm->cfg->n_disks)
		return hull_err_setx(err, ENOTSUP, "--disk: virtio-blk not implemented yet");
	return 0;
}

void virtio_devices_free(struct vm *vm)
{
}
