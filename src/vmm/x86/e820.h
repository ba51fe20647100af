#pragma once
/* The guest's E820 memory map (boot_params and PVH start info), built from its RAM layout. */
#include <stddef.h>
#include <stdint.h>

#include "vmm/memory.h"

#define E820_RAM 1
#define E820_RESERVED 2

struct e820_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/*
 * The guest's memory map: low RAM up to the EBDA, the EBDA and the BIOS area (which holds the
 * ACPI tables) reserved, RAM from 1 MiB to the PCI hole, and RAM above 4 GiB. Writes at most
 * max entries and returns how many it wrote.
 */
size_t e820_build(const struct guest_mem *m, struct e820_range *out, size_t max);
