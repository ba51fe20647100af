#pragma once
/*
 * ACPI tables for a hardware-reduced platform (ACPI 6.x, as Firecracker does): RSDP, XSDT,
 * FADT (sleep control/status and reset registers in port space, see layout.h), a DSDT with
 * \_S5 and the PCI root bridge, and a MADT with one local APIC per vCPU and the IOAPIC.
 */
#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

#define ACPI_IOAPIC_ADDR 0xFEC00000U
#define ACPI_LAPIC_ADDR 0xFEE00000U

/* Write the tables at LAYOUT_ACPI; returns 0 or -ENOSPC/-EFAULT. *ret_rsdp gets the RSDP. */
int acpi_build(const struct guest_mem *m, unsigned ncpus, uint64_t *ret_rsdp);

/* Sum of len bytes (a valid table sums to 0). */
uint8_t acpi_checksum(const void *p, size_t len);
