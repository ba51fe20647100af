#pragma once
/*
 * A PCI host bridge with configuration mechanism #1 (ports 0xcf8/0xcfc) and one bus of
 * devices with 64-bit memory BARs in the 32-bit hole (acpi.c declares the window).
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct pci_bus;
struct state_writer;
struct state_reader;

#define PCI_MMIO_BASE 0xC0000000ULL
#define PCI_MMIO_END 0xFEC00000ULL
#define PCI_MAX_DEVICES 16 /* cold-plugged slots 0..15 */
#define PCI_MAX_SLOTS 32   /* bus 0; slots 16.. are for hot-plug (hotplug.h) */
#define PCI_CFG_SIZE 256

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE]; /* config space as the guest sees it */
	uint32_t bar_size;         /* BAR0 (64-bit memory) size, a power of two; 0: none */
	/* MMIO access inside BAR0; off < bar_size. */
	void (*bar_io)(struct pci_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
	/* Called (with the bus lock held) when BAR0's address or decoding changes. */
	void (*bar_moved)(struct pci_dev *d, uint64_t addr, bool enabled);
	/* Config writes above the header (capabilities), already stored in cfg. */
	void (*cfg_written)(struct pci_dev *d, uint32_t off, uint32_t len);
	uint64_t bar_addr; /* current BAR0 address, valid when mem decoding is on */
	bool bar_enabled;
};

int pci_bus_create(struct vm *vm, struct pci_bus **ret, struct hull_err *err);
void pci_bus_free(struct pci_bus *b);
/* Add d at the next cold slot with BAR0 placed in the MMIO window; returns the slot or -errno. */
int pci_bus_add(struct pci_bus *b, struct pci_dev *d);
/* The next pci_bus_add puts its device in slot (a hot-plug slot, >= PCI_MAX_DEVICES). */
void pci_bus_set_next_slot(struct pci_bus *b, int slot);
/*
 * Take the device out of a hot-plug slot: its BAR stops decoding (bar_moved) and config
 * cycles read all ones. The caller keeps vCPUs out of its bar_io (the VM paused) until it
 * frees it. 0, -EINVAL (not a hot-plug slot), -ENOENT (empty).
 */
int pci_bus_remove(struct pci_bus *b, unsigned slot);
/* Empty a hot-plug slot whose device is already freed (its creation failed); vCPUs paused. */
int pci_bus_forget(struct pci_bus *b, unsigned slot);

/*
 * Guest state: the conf1 address register and each function's writable header (command,
 * BAR0/BAR1 as programmed, interrupt line). Load: 0, or -EBADMSG (another device count, a
 * value the guest could not have written) with nothing changed; moved BARs are announced
 * through bar_moved. Reset: the firmware's assignment again (pci_bus_add's).
 */
void pci_bus_save(struct pci_bus *b, struct state_writer *w);
int pci_bus_load(struct pci_bus *b, struct state_reader *r);
void pci_bus_reset(struct pci_bus *b);

/* Config-space and MMIO entry points, exposed for unit tests. */
void pci_conf_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void pci_mmio_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
