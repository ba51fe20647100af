/*
 * The virtio-pci driver side shared by the vmm unit tests: BAR accesses and the modern
 * common-config steps (virtio 1.2, 4.1.4.3) in the order Linux's virtio_pci_modern takes
 * them. Include after <cmocka.h>.
 */
#ifndef HULL_TEST_VIRTIO_DRIVER_H
#define HULL_TEST_VIRTIO_DRIVER_H

#include <stdint.h>
#include <string.h>

#include "vmm/virtio/pci.h"

/* Where the tests put queue 0's rings and a block request's three buffers in guest memory. */
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define HDR 0x10000
#define DATA 0x11000
#define STATUS 0x12000

static inline void bar_w(struct virtio_pci_dev *v, uint64_t off, uint64_t val, uint32_t len)
{
	uint8_t b[8];

	memcpy(b, &val, sizeof(b));
	virtio_pci_bar_io(&v->pci, off, b, len, true);
}

static inline uint64_t bar_r(struct virtio_pci_dev *v, uint64_t off, uint32_t len)
{
	uint8_t b[8] = { 0 };
	uint64_t val = 0;

	virtio_pci_bar_io(&v->pci, off, b, len, false);
	memcpy(&val, b, len);
	return val;
}

/* ACKNOWLEDGE | DRIVER, VIRTIO_F_VERSION_1 only, FEATURES_OK (which the device must keep). */
static inline void drv_features(struct virtio_pci_dev *v)
{
	bar_w(v, 0x14, 1 | 2, 1);
	bar_w(v, 0x08, 1, 4); /* driver_feature_select = 1 */
	bar_w(v, 0x0c, 1, 4); /* VIRTIO_F_VERSION_1 */
	bar_w(v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(v, 0x14, 1) & 8);
}

/* Queue q: size, MSI-X vector (vector < 0: left as it is), ring addresses, enable. */
static inline void drv_queue(struct virtio_pci_dev *v, uint16_t q, uint16_t size, int vector,
			     uint64_t desc, uint64_t avail, uint64_t used)
{
	bar_w(v, 0x16, q, 2);
	bar_w(v, 0x18, size, 2);
	if (vector >= 0)
		bar_w(v, 0x1a, (uint64_t)vector, 2);
	bar_w(v, 0x20, desc, 8);
	bar_w(v, 0x28, avail, 8);
	bar_w(v, 0x30, used, 8);
	bar_w(v, 0x1c, 1, 2);
}

static inline void drv_ok(struct virtio_pci_dev *v)
{
	bar_w(v, 0x14, 1 | 2 | 8 | 4, 1);
}

#endif
