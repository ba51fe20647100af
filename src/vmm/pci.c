#include "vmm/pci.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "vmm/vm.h"

/* Type 0 header offsets (PCI Local Bus 3.0, 6.1). */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_BAR0 0x10
#define PCI_BAR1 0x14
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_CAP_START 0x40
#define PCI_CONF_PORT 0xcf8

struct pci_bus {
	struct vm *vm;
	struct pci_dev host; /* 00:00.0 */
	pthread_mutex_t lock;
	uint32_t addr; /* conf1 address register */
	struct pci_dev *dev[PCI_MAX_DEVICES];
	unsigned n;
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* Recompute where BAR0 decodes and tell the device. Called with the bus lock held. */
static void pci_bar_update(struct pci_dev *d)
{
	uint64_t addr = ((uint64_t)rd32(d->cfg + PCI_BAR1) << 32) |
			(rd32(d->cfg + PCI_BAR0) & ~0xfU);
	bool on = (d->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY) && d->bar_size &&
		  addr >= PCI_MMIO_BASE && addr + d->bar_size <= PCI_MMIO_END;

	if (on == d->bar_enabled && addr == d->bar_addr)
		return;
	d->bar_addr = addr;
	d->bar_enabled = on;
	if (d->bar_moved)
		d->bar_moved(d, addr, on);
}

static void pci_cfg_write(struct pci_dev *d, uint32_t off, const uint8_t *data, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;

		if (o == PCI_COMMAND)
			d->cfg[o] = data[i] & 0x07; /* I/O, memory, bus master */
		else if (o == PCI_COMMAND + 1)
			d->cfg[o] = data[i] & 0x04; /* INTx disable */
		else if (o >= PCI_BAR0 && o < PCI_BAR1 + 4) {
			if (d->bar_size)
				d->cfg[o] = data[i];
		} else if (o == PCI_INTERRUPT_LINE || o >= PCI_CAP_START) {
			d->cfg[o] = data[i];
		}
		/* Everything else in the header is read-only. */
	}
	if (d->bar_size && off < PCI_BAR0 + 4 && off + len > PCI_BAR0) {
		/* BAR sizing (PCI 3.0 6.2.5.1): the low bits that the size covers read as 0. */
		uint32_t bar = rd32(d->cfg + PCI_BAR0) & ~(d->bar_size - 1);

		wr32(d->cfg + PCI_BAR0, (bar & ~0xfU) | 0x4); /* memory, 64-bit, non-prefetch */
	}
	if (off < PCI_BAR1 + 4 && off + len > PCI_COMMAND)
		pci_bar_update(d);
	if (off + len > PCI_CAP_START && d->cfg_written)
		d->cfg_written(d, off, len);
}

void pci_conf_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *b = opaque;
	struct pci_dev *d = NULL;
	uint32_t reg, slot;

	pthread_mutex_lock(&b->lock);
	if (off == 0 && len == 4) {
		if (is_write)
			b->addr = rd32(data) & 0x80fffffcU;
		else
			wr32(data, b->addr);
		goto out;
	}
	if (off < 4 || off + len > 8) {
		if (!is_write)
			memset(data, 0xff, len);
		goto out;
	}
	reg = (b->addr & 0xfc) + (uint32_t)(off - 4);
	slot = (b->addr >> 11) & 0x1f;
	/* Enabled, bus 0, function 0, a present slot. */
	if ((b->addr & 0x80000000U) && ((b->addr >> 16) & 0xff) == 0 &&
	    ((b->addr >> 8) & 7) == 0 && slot < b->n)
		d = b->dev[slot];
	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		goto out;
	}
	if (is_write)
		pci_cfg_write(d, reg, data, len);
	else
		memcpy(data, d->cfg + reg, len);
out:
	pthread_mutex_unlock(&b->lock);
}

void pci_mmio_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bus *b = opaque;
	uint64_t addr = PCI_MMIO_BASE + off;
	struct pci_dev *d = NULL;
	uint64_t doff = 0;

	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < b->n; i++) {
		struct pci_dev *c = b->dev[i];

		if (c->bar_enabled && addr >= c->bar_addr && addr - c->bar_addr < c->bar_size) {
			d = c;
			doff = addr - c->bar_addr;
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
	if (d && doff + len <= d->bar_size)
		d->bar_io(d, doff, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

int pci_bus_create(struct vm *vm, struct pci_bus **ret, struct hull_err *err)
{
	struct pci_bus *b = xcalloc(1, sizeof(*b));
	int r;

	b->vm = vm;
	pthread_mutex_init(&b->lock, NULL);
	/*
	 * A host bridge at 00:00.0: without DMI, Linux trusts conf1 only after finding a device
	 * of class "host bridge" on bus 0 (arch/x86/pci/direct.c, pci_sanity_check).
	 */
	wr32(b->host.cfg + 0x00, 0x00081b36U); /* vendor 0x1b36, device 0x0008: generic host */
	wr32(b->host.cfg + 0x08, 0x06000000U); /* class 06/00/00, revision 0 */
	(void)pci_bus_add(b, &b->host);
	if (vm) {
		if ((r = io_bus_add(&vm->pio, PCI_CONF_PORT, 8, pci_conf_io, b)) < 0 ||
		    (r = io_bus_add(&vm->mmio, PCI_MMIO_BASE, PCI_MMIO_END - PCI_MMIO_BASE,
				    pci_mmio_io, b)) < 0) {
			pci_bus_free(b);
			return hull_err_set(err, -r, "registering the PCI bus");
		}
	}
	*ret = b;
	return 0;
}

void pci_bus_free(struct pci_bus *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int pci_bus_add(struct pci_bus *b, struct pci_dev *d)
{
	/* Firmware's job: give each device a BAR, 64 KiB apart, and enable decoding. */
	uint64_t addr = PCI_MMIO_BASE + (uint64_t)b->n * 0x10000;

	if (b->n >= PCI_MAX_DEVICES || d->bar_size > 0x10000 ||
	    (d->bar_size & (d->bar_size - 1)))
		return -ENOSPC;
	if (d->bar_size) {
		wr32(d->cfg + PCI_BAR0, (uint32_t)addr | 0x4);
		wr32(d->cfg + PCI_BAR1, 0);
		d->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
	}
	pthread_mutex_lock(&b->lock);
	b->dev[b->n] = d;
	pci_bar_update(d);
	pthread_mutex_unlock(&b->lock);
	return (int)b->n++;
}
