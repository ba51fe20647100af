#pragma once
/* The virtio devices of a VM (virtio-blk per --disk, virtio-rng, virtio-console), on virtio-pci. */
#include "common/error.h"

struct vm;

int virtio_devices_create(struct vm *vm, struct hull_err *err);
void virtio_devices_free(struct vm *vm);
