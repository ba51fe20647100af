/* Resizing a running VM (resize.h): the API's entry points into the balloon and the disks. */
#include "vmm/resize.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmm/devices.h"
#include "vmm/virtio/blk.h"
#include "vmm/vm.h"

static struct virtio_pci_dev *vm_balloon(struct vm *vm, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_device_find(vm, "virtio-balloon", 0);

	if (!v)
		(void)hull_err_setx(err, ENODEV, "this VM has no balloon (start it with --balloon)");
	return v;
}

int vm_balloon_set(struct vm *vm, uint64_t amount_mib, struct balloon_info *ret,
		   struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_balloon(vm, err);
	uint64_t mem_mib = vm->mem.size >> 20;

	if (!v)
		return -ENODEV;
	if (amount_mib > mem_mib)
		return hull_err_setx(err, ERANGE,
				     "amount_mib %" PRIu64 ": more than the VM's memory (%" PRIu64
				     " MiB)", amount_mib, mem_mib);
	if (virtio_balloon_set_target(v, amount_mib << (20 - BALLOON_PAGE_SHIFT)) < 0)
		return hull_err_setx(err, ERANGE, "amount_mib %" PRIu64 ": out of range",
				     amount_mib);
	if (ret)
		virtio_balloon_info(v, ret);
	return 0;
}

int vm_balloon_get(struct vm *vm, struct balloon_info *ret, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_balloon(vm, err);

	if (!v)
		return -ENODEV;
	virtio_balloon_info(v, ret);
	return 0;
}

static struct virtio_pci_dev *vm_vmem(struct vm *vm, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_device_find(vm, "virtio-mem", 0);

	if (!v)
		(void)hull_err_setx(err, ENODEV, "this VM has no virtio-mem device (start it with "
				    "--memory-hotplug SIZE)");
	return v;
}

int vm_mem_hotplug_set(struct vm *vm, uint64_t requested_mib, struct vmem_info *ret,
		       struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_vmem(vm, err);
	struct vmem_info i;
	int r;

	if (!v)
		return -ENODEV;
	virtio_mem_info(v, &i);
	r = requested_mib > (UINT64_MAX >> 20) ? -ERANGE
					       : virtio_mem_set_requested(v, requested_mib << 20);
	if (r == -ERANGE)
		return hull_err_setx(err, ERANGE, "requested_size_mib %" PRIu64 ": more than the "
				     "hotplug region (%" PRIu64 " MiB)", requested_mib,
				     i.region_size >> 20);
	if (r < 0)
		return hull_err_setx(err, EINVAL, "requested_size_mib %" PRIu64 ": not a multiple "
				     "of the block size (%" PRIu64 " MiB)", requested_mib,
				     i.block_size >> 20);
	if (ret)
		virtio_mem_info(v, ret);
	return 0;
}

int vm_mem_hotplug_get(struct vm *vm, struct vmem_info *ret, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_vmem(vm, err);

	if (!v)
		return -ENODEV;
	virtio_mem_info(v, ret);
	return 0;
}

static struct virtio_pci_dev *vm_disk(struct vm *vm, unsigned idx, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_device_find(vm, "virtio-blk", idx);

	if (!v)
		(void)hull_err_setx(err, ENODEV, "drive %u: no such disk (this VM has %zu)", idx,
				    vm->cfg->n_disks);
	return v;
}

int vm_disk_grow(struct vm *vm, unsigned idx, uint64_t size, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_disk(vm, idx, err);
	int r;

	if (!v)
		return -ENODEV;
	r = virtio_blk_grow(v, size, err);
	if (r < 0)
		return hull_err_prefix(err, "drive %u", idx);
	return 0;
}

int vm_disk_rescan(struct vm *vm, unsigned idx, uint64_t *ret_size, struct hull_err *err)
{
	struct virtio_pci_dev *v = vm_disk(vm, idx, err);
	int r;

	if (!v)
		return -ENODEV;
	r = virtio_blk_rescan(v, ret_size);
	if (r < 0)
		return hull_err_set(err, -r, "drive %u (%s): reading its size",
				    idx, vm->cfg->disks[idx].path);
	return 0;
}
