#pragma once
/*
 * virtio-console (virtio 1.2, 5.3), one port, no multiport: the guest's /dev/hvc0, whose
 * transmitq goes to an output fd (the terminal) and whose receiveq is fed from the terminal
 * (virtio_console_input). Input the guest has no buffers for waits in a bounded buffer.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct virtio_pci_dev;
struct guest_mem;

#define VIRTIO_CONSOLE_PENDING 4096 /* input bytes held for the guest; more are dropped */

int virtio_console_create(struct vm *vm, int out_fd, struct virtio_pci_dev **ret,
			  struct hull_err *err);
/* For unit tests: a device without a VM, writing the guest's output to out_fd. */
struct virtio_pci_dev *virtio_console_new_test(const struct guest_mem *mem, int out_fd);
void virtio_console_free(struct virtio_pci_dev *v);

/*
 * Terminal input for the guest: delivered into the receiveq's buffers now, or held (up to
 * VIRTIO_CONSOLE_PENDING bytes) until the guest posts some. Returns the bytes accepted.
 */
size_t virtio_console_input(struct virtio_pci_dev *v, const uint8_t *buf, size_t len);
