#pragma once
/*
 * ACPI PCI hot-plug (docs/vmm.md "PCI hot-plug"): slots PCIHP_FIRST_SLOT.. of bus 0 that the
 * DSDT describes as removable (x86/acpi.c: _ADR, _SUN, _EJ0 per slot, \_SB.PCI0.PCNT called
 * from the GED's _EVT on PCIHP_GSI), and a block of four 32-bit I/O registers at PCIHP_PORT
 * through which the guest learns which slots changed and ejects one. Bits are slot numbers
 * (bit 16 is slot 16); only the bits of PCIHP_SLOT_MASK ever read as 1.
 *
 *   +0x0 UP      (read, cleared by the read) slots with a device the guest has not seen yet
 *   +0x4 DOWN    (read) slots whose removal hull requested, until the guest ejects them
 *   +0x8 EJECT   (write) the guest is done with these slots (its _EJ0): hull frees them
 *   +0xc PRESENT (read) slots holding a device
 *
 * Anything else (other widths, offsets, writes to the read-only registers) reads as all ones
 * and writes nothing. A slot goes free -> reserved (pcihp_slot_reserve: its device is being
 * built) -> present (pcihp_plug: UP, an edge on PCIHP_GSI) -> removal requested
 * (pcihp_unplug: DOWN, an edge) -> ejected by the guest (EJECT; present or not requested: the
 * guest may also eject on its own) -> free once the owner took it (pcihp_take_ejected) and
 * freed the device. All entry points take the controller's lock: the registers are served
 * on vCPU threads, the rest on the event loop.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct state_writer;
struct state_reader;

#define PCIHP_PORT 0xae00
#define PCIHP_PORT_LEN 16
#define PCIHP_GSI 6
#define PCIHP_FIRST_SLOT 16
#define PCIHP_NUM_SLOTS 8
#define PCIHP_SLOT_MASK (((1U << PCIHP_NUM_SLOTS) - 1) << PCIHP_FIRST_SLOT)

#define PCIHP_REG_UP 0x0
#define PCIHP_REG_DOWN 0x4
#define PCIHP_REG_EJECT 0x8
#define PCIHP_REG_PRESENT 0xc

struct pcihp;

/* The controller of vm: its ports and the eventfd that wakes the loop on an eject. */
int pcihp_create(struct vm *vm, struct pcihp **ret, struct hull_err *err);
/* Without a VM (unit tests): no ports, no interrupt; pcihp_eject_fd still works. */
struct pcihp *pcihp_new_test(void);
void pcihp_free(struct pcihp *h);
/* A reboot: pending UP/DOWN bits go; present devices stay (the guest finds them by scanning). */
void pcihp_reset(struct pcihp *h);

/* A free slot for a new device, now reserved: the slot, or -ENOSPC. */
int pcihp_slot_reserve(struct pcihp *h);
/* Reserve this slot (a restore's NIC goes where it was): 0, or -EBUSY / -EINVAL. */
int pcihp_slot_reserve_at(struct pcihp *h, unsigned slot);
/* The reserved slot holds a restored device: present, no event (the state section has them). */
int pcihp_plug_quiet(struct pcihp *h, unsigned slot);
/* Give a reserved slot back (its device could not be built). */
void pcihp_slot_release(struct pcihp *h, unsigned slot);
/* The reserved slot now holds a device: tell the guest. 0 or -EINVAL (not reserved). */
int pcihp_plug(struct pcihp *h, unsigned slot);
/* Ask the guest to give slot up. 0, -ENOENT (no device), -EALREADY (already requested). */
int pcihp_unplug(struct pcihp *h, unsigned slot);
/*
 * The slots the guest ejected since the last call (bits by slot): they are free again
 * once the caller freed their devices, which it must do before it reserves a slot.
 */
uint32_t pcihp_take_ejected(struct pcihp *h);
/* Bits by slot: present (a device, hot-plugged or being built), and removal requested. */
uint32_t pcihp_present(struct pcihp *h);
uint32_t pcihp_removing(struct pcihp *h);
/* Readable when the guest ejected a slot (an eventfd; read it to clear). -1 in tests. */
int pcihp_eject_fd(const struct pcihp *h);

/* The register block (a port-bus handler), exposed for unit tests. */
void pcihp_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

/*
 * Guest state (section 0x19): PRESENT, UP, DOWN. A load must find the same PRESENT as this
 * VM has (the devices of a restore are built from its configuration first); -EBADMSG and no
 * change otherwise, or for bits outside PCIHP_SLOT_MASK or UP/DOWN outside PRESENT. A load
 * with UP or DOWN pending pulses the line again (the saved edge may not have been taken).
 */
void pcihp_save(struct pcihp *h, struct state_writer *w);
int pcihp_load(struct pcihp *h, struct state_reader *r);
