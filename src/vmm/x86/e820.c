#include "vmm/x86/e820.h"

#include "vmm/x86/layout.h"

static size_t e820_add(struct e820_range *out, size_t n, size_t max, uint64_t addr,
		       uint64_t end, uint32_t type)
{
	if (end <= addr || n >= max)
		return n;
	out[n] = (struct e820_range){ .addr = addr, .size = end - addr, .type = type };
	return n + 1;
}

size_t e820_build(const struct guest_mem *m, struct e820_range *out, size_t max)
{
	uint64_t low_end = m->low_size;
	size_t n = 0;

	n = e820_add(out, n, max, 0, low_end < LAYOUT_EBDA ? low_end : LAYOUT_EBDA, E820_RAM);
	if (low_end > LAYOUT_EBDA)
		n = e820_add(out, n, max, LAYOUT_EBDA, 0xA0000, E820_RESERVED);
	if (low_end > LAYOUT_ACPI)
		n = e820_add(out, n, max, LAYOUT_ACPI, LAYOUT_ACPI_END, E820_RESERVED);
	if (low_end > LAYOUT_KERNEL)
		n = e820_add(out, n, max, LAYOUT_KERNEL, low_end, E820_RAM);
	if (gmem_high_size(m))
		n = e820_add(out, n, max, GMEM_HIGH_START, GMEM_HIGH_START + gmem_high_size(m),
			     E820_RAM);
	return n;
}
