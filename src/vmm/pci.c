#include "vmm/pci.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "vmm/state.h"
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
	struct pci_dev *dev[PCI_MAX_SLOTS]; /* NULL: an empty slot */
	unsigned n;     /* cold-plugged slots: 0..n-1 */
	int next_slot;  /* >= 0: where the next pci_bus_add goes (a hot-plug slot) */
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
	    ((b->addr >> 8) & 7) == 0)
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
	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++) {
		struct pci_dev *c = b->dev[i];

		if (c && c->bar_enabled && addr >= c->bar_addr && addr - c->bar_addr < c->bar_size) {
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
	b->next_slot = -1;
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

/* Firmware's job: give the device in slot a BAR, 64 KiB apart, and enable decoding. */
static void pci_firmware_assign(struct pci_dev *d, unsigned slot)
{
	uint64_t addr = PCI_MMIO_BASE + (uint64_t)slot * 0x10000;

	if (d->bar_size) {
		wr32(d->cfg + PCI_BAR0, (uint32_t)addr | 0x4);
		wr32(d->cfg + PCI_BAR1, 0);
		d->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
	}
}

int pci_bus_add(struct pci_bus *b, struct pci_dev *d)
{
	int slot = b->next_slot;

	b->next_slot = -1;
	if (d->bar_size > 0x10000 || (d->bar_size & (d->bar_size - 1)))
		return -ENOSPC;
	if (slot < 0 && b->n >= PCI_MAX_DEVICES)
		return -ENOSPC;
	if (slot >= 0 && (slot < PCI_MAX_DEVICES || slot >= PCI_MAX_SLOTS || b->dev[slot]))
		return -EBUSY;
	if (slot < 0)
		slot = (int)b->n++;
	pci_firmware_assign(d, (unsigned)slot);
	pthread_mutex_lock(&b->lock);
	b->dev[slot] = d;
	pci_bar_update(d);
	pthread_mutex_unlock(&b->lock);
	return slot;
}

int pci_bus_forget(struct pci_bus *b, unsigned slot)
{
	if (slot < PCI_MAX_DEVICES || slot >= PCI_MAX_SLOTS)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	b->dev[slot] = NULL;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void pci_bus_set_next_slot(struct pci_bus *b, int slot)
{
	b->next_slot = slot;
}

int pci_bus_remove(struct pci_bus *b, unsigned slot)
{
	struct pci_dev *d;

	if (slot < PCI_MAX_DEVICES || slot >= PCI_MAX_SLOTS)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	d = b->dev[slot];
	if (d) {
		/* decoding off first: the device drops what KVM routes to its BAR (ioeventfds) */
		d->cfg[PCI_COMMAND] &= (uint8_t)~PCI_COMMAND_MEMORY;
		pci_bar_update(d);
		b->dev[slot] = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	return d ? 0 : -ENOENT;
}

/*
 * The header bytes a guest can write, per function: command (2 bytes), BAR0 and BAR1 as
 * programmed, the interrupt line. Capabilities above 0x40 are the device's to save (virtio
 * rebuilds them from its MSI-X state); everything else in the header is read-only.
 */
struct pci_hdr_state {
	uint8_t cmd, cmd_hi, int_line;
	uint32_t bar0, bar1;
};

void pci_bus_reset(struct pci_bus *b)
{
	pthread_mutex_lock(&b->lock);
	b->addr = 0;
	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++) {
		struct pci_dev *d = b->dev[i];

		if (!d)
			continue;
		d->cfg[PCI_COMMAND] = d->cfg[PCI_COMMAND + 1] = d->cfg[PCI_INTERRUPT_LINE] = 0;
		pci_firmware_assign(d, i);
		pci_bar_update(d);
	}
	pthread_mutex_unlock(&b->lock);
}

static void pci_hdr_put(struct state_writer *w, const struct pci_dev *d)
{
	state_put_u8(w, d->cfg[PCI_COMMAND]);
	state_put_u8(w, d->cfg[PCI_COMMAND + 1]);
	state_put_u32(w, rd32(d->cfg + PCI_BAR0));
	state_put_u32(w, rd32(d->cfg + PCI_BAR1));
	state_put_u8(w, d->cfg[PCI_INTERRUPT_LINE]);
}

/*
 * Hot-plugged functions (hotplug.h) after the cold ones, only when there are some (a stream
 * without them reads as before): their count, then slot and header each.
 */
static void pci_bus_save_hot(struct pci_bus *b, struct state_writer *w)
{
	uint32_t n = 0;

	for (unsigned s = PCI_MAX_DEVICES; s < PCI_MAX_SLOTS; s++)
		n += b->dev[s] != NULL;
	if (!n)
		return;
	state_put_u32(w, n);
	for (unsigned s = PCI_MAX_DEVICES; s < PCI_MAX_SLOTS; s++)
		if (b->dev[s]) {
			state_put_u32(w, s);
			pci_hdr_put(w, b->dev[s]);
		}
}

void pci_bus_save(struct pci_bus *b, struct state_writer *w)
{
	pthread_mutex_lock(&b->lock);
	state_put_u32(w, b->addr);
	state_put_u32(w, b->n);
	for (unsigned i = 0; i < b->n; i++) {
		const struct pci_dev *d = b->dev[i];

		state_put_u8(w, d->cfg[PCI_COMMAND]);
		state_put_u8(w, d->cfg[PCI_COMMAND + 1]);
		state_put_u32(w, rd32(d->cfg + PCI_BAR0));
		state_put_u32(w, rd32(d->cfg + PCI_BAR1));
		state_put_u8(w, d->cfg[PCI_INTERRUPT_LINE]);
	}
	pci_bus_save_hot(b, w);
	pthread_mutex_unlock(&b->lock);
}

/* A function's saved header as pci_cfg_write could have left it on this device. */
static bool pci_hdr_valid(const struct pci_dev *d, const struct pci_hdr_state *h)
{
	if ((h->cmd & ~0x07) || (h->cmd_hi & ~0x04))
		return false;
	if (!d->bar_size)
		return h->bar0 == rd32(d->cfg + PCI_BAR0) && h->bar1 == rd32(d->cfg + PCI_BAR1);
	return (h->bar0 & 0xf) == 0x4 && (h->bar0 & (d->bar_size - 1) & ~0xfU) == 0;
}

/* The hot-plugged functions' part: every occupied hot slot of this bus exactly once. */
static int pci_bus_load_hot(struct pci_bus *b, struct state_reader *r,
			    struct pci_hdr_state *h, bool *slots)
{
	uint32_t n = 0, have = 0, slot = 0;

	for (unsigned s = PCI_MAX_DEVICES; s < PCI_MAX_SLOTS; s++)
		have += b->dev[s] != NULL;
	if (!have)
		return 0;
	if (state_get_u32(r, &n) < 0 || n != have)
		return -EBADMSG;
	for (uint32_t i = 0; i < n; i++) {
		if (state_get_u32(r, &slot) < 0 || slot < PCI_MAX_DEVICES || slot >= PCI_MAX_SLOTS ||
		    !b->dev[slot] || slots[slot])
			return -EBADMSG;
		slots[slot] = true;
		if (state_get_u8(r, &h[slot].cmd) < 0 || state_get_u8(r, &h[slot].cmd_hi) < 0 ||
		    state_get_u32(r, &h[slot].bar0) < 0 || state_get_u32(r, &h[slot].bar1) < 0 ||
		    state_get_u8(r, &h[slot].int_line) < 0 || !pci_hdr_valid(b->dev[slot], &h[slot]))
			return -EBADMSG;
	}
	return 0;
}

int pci_bus_load(struct pci_bus *b, struct state_reader *r)
{
	struct pci_hdr_state h[PCI_MAX_SLOTS];
	bool slots[PCI_MAX_SLOTS] = { false };
	uint32_t addr = 0, n = 0;

	if (state_get_u32(r, &addr) < 0 || (addr & ~0x80fffffcU) || state_get_u32(r, &n) < 0 ||
	    n != b->n)
		return -EBADMSG;
	for (unsigned i = 0; i < n; i++)
		if (state_get_u8(r, &h[i].cmd) < 0 || state_get_u8(r, &h[i].cmd_hi) < 0 ||
		    state_get_u32(r, &h[i].bar0) < 0 || state_get_u32(r, &h[i].bar1) < 0 ||
		    state_get_u8(r, &h[i].int_line) < 0 || !pci_hdr_valid(b->dev[i], &h[i]))
			return -EBADMSG;
	if (pci_bus_load_hot(b, r, h, slots) < 0 || state_reader_done(r) < 0)
		return -EBADMSG;
	pthread_mutex_lock(&b->lock);
	b->addr = addr;
	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++) {
		struct pci_dev *d = b->dev[i];

		if (i >= n && !slots[i])
			continue;
		d->cfg[PCI_COMMAND] = h[i].cmd;
		d->cfg[PCI_COMMAND + 1] = h[i].cmd_hi;
		wr32(d->cfg + PCI_BAR0, h[i].bar0);
		wr32(d->cfg + PCI_BAR1, h[i].bar1);
		d->cfg[PCI_INTERRUPT_LINE] = h[i].int_line;
		pci_bar_update(d); /* the device moves its BAR (and ioeventfds) to where it was */
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}
