/*
 * Live migration's disks (docs/vmm.md "Live migration", disks): they stay on storage both
 * sides see and change hands at the stop-and-copy. The source, paused, lets each virtio-blk
 * device finish the request it serves, flushes its disk and gives up the image's lock; the
 * destination opens them only once the whole stream has come, after the source's last
 * write: a QCOW2 image's header, tables and refcounts are read then, never cached from
 * before. The source keeps its files open (its seccomp filter forbids opening one): a failed
 * migration takes their locks back before its vCPUs go on.
 */
#include "vmm/migrate.h"

#include <string.h>

#include "common/log.h"
#include "disk/disk.h"
#include "vmm/devices.h"
#include "vmm/virtio/blk.h"
#include "vmm/vm.h"

static bool is_blk(const struct vm_device *d)
{
	return strcmp(d->ops->name, "virtio-blk") == 0;
}

int migrate_disks_open(struct vm *vm, struct hull_err *err)
{
	for (unsigned i = 0; i < vm->n_devs; i++) {
		const struct vm_device *d = &vm->devs[i];
		struct disk *disk = NULL;
		int r;

		if (!is_blk(d) || virtio_blk_attached(d->dev))
			continue;
		r = virtio_blk_open_disk(&vm->cfg->disks[d->idx], &disk, err);
		if (r == 0)
			r = virtio_blk_attach(d->dev, &disk, err);
		disk_close(disk); /* NULL once attached */
		if (r < 0)
			return r;
	}
	return 0;
}

int migrate_disks_take_back(struct vm *vm, struct hull_err *err)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->n_devs; i++) {
		const struct vm_device *d = &vm->devs[i];
		struct hull_err e2 = { 0 };
		int r;

		if (!is_blk(d) || virtio_blk_attached(d->dev))
			continue;
		r = virtio_blk_attach(d->dev, NULL, &e2); /* its own file, still open: relocked */
		if (r < 0 && ret == 0)
			ret = hull_err_setx(err, -r, "%s", e2.msg);
	}
	return ret;
}

int migrate_disks_release(struct vm *vm, struct hull_err *err)
{
	for (unsigned i = 0; i < vm->n_devs; i++) {
		const struct vm_device *d = &vm->devs[i];
		int r;

		if (!is_blk(d))
			continue;
		r = virtio_blk_detach(d->dev, err);
		if (r < 0) {
			struct hull_err e2 = { 0 };

			/* those released before it: the guest goes on with them */
			if (migrate_disks_take_back(vm, &e2) < 0)
				log_error("%s", e2.msg);
			return r;
		}
	}
	return 0;
}
