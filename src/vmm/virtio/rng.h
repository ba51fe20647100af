#pragma once
/* virtio-rng (virtio 1.2, 5.4): fills the guest's buffers from getrandom(). */
#include "common/error.h"

struct vm;
struct virtio_pci_dev;
struct guest_mem;

int virtio_rng_create(struct vm *vm, struct virtio_pci_dev **ret, struct hull_err *err);
/* For unit tests: a device without a VM. */
struct virtio_pci_dev *virtio_rng_new_test(const struct guest_mem *mem);
void virtio_rng_free(struct virtio_pci_dev *v);
