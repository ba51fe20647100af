#pragma once
/*
 * virtio-fs (virtio 1.2, 5.11) on a vhost-user backend (vhost-user.h; Debian's virtiofsd):
 * queue 0 is hiprio, queues 1 to N the request queues, all of them the backend's rings. hull
 * serves the PCI transport and the configuration space (tag, num_request_queues) and hands
 * the backend guest RAM (a shared memfd), each ring's addresses, its kick ioeventfd and its
 * call fd (the vector's irqfd, or a fallback eventfd on hull's loop while the vector is
 * masked), as vhost.h does for the kernel's workers.
 */
#include "common/error.h"

struct vm;
struct vm_fs_config;
struct virtio_pci_dev;
struct guest_mem;

#define VIRTIO_ID_FS 26

struct vm_config;

/*
 * The --fs values (vmm_run checks them once): at most VM_MAX_FS, a tag of 1 to 36 bytes unique
 * in the VM, a socket path, queues and queue-size in range, a Linux kernel booted by this VM
 * (not a restore nor a migration's destination: the filesystem state is virtiofsd's), no
 * --memory-hotplug (its anonymous region could not be shared). 0 or -EINVAL with err set.
 */
int virtio_fs_config_check(const struct vm_config *cfg, struct hull_err *err);

/*
 * The device for cfg on sock (connected to the backend: vhost_user_connect; taken over, closed
 * on failure too). 0 or -errno with err naming --fs.
 */
int virtio_fs_create(struct vm *vm, const struct vm_fs_config *cfg, int sock,
		     struct virtio_pci_dev **ret, struct hull_err *err);
/* For unit tests: a device on sock (a socketpair end, taken over) without a VM. */
int virtio_fs_new_test(const struct guest_mem *mem, const struct vm_fs_config *cfg, int sock,
		       struct virtio_pci_dev **ret, struct hull_err *err);
void virtio_fs_free(struct virtio_pci_dev *v);
