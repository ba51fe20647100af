/* ACPI tables: checksums, the pointers between them, one LAPIC per vCPU, \_S5 in the DSDT. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/x86/acpi.h"
#include "vmm/x86/layout.h"

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static const uint8_t *table(const struct guest_mem *m, uint64_t addr, const char *sig)
{
	const uint8_t *t = gmem_ptr(m, addr, 36);

	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	assert_int_equal(acpi_checksum(t, rd32(t + 4)), 0);
	return t;
}

static void check(unsigned ncpus)
{
	struct guest_mem m;
	uint64_t rsdp_addr = 0;
	const uint8_t *rsdp, *xsdt, *fadt, *dsdt, *madt;
	unsigned lapics = 0;

	assert_int_equal(gmem_init(&m, 4U << 20), 0);
	assert_int_equal(acpi_build(&m, ncpus, &rsdp_addr), 0);
	assert_int_equal(rsdp_addr, LAYOUT_ACPI);
	rsdp = gmem_ptr(&m, rsdp_addr, 36);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(acpi_checksum(rsdp, 20), 0);
	assert_int_equal(acpi_checksum(rsdp, 36), 0);
	assert_int_equal(rsdp[15], 2);
	xsdt = table(&m, rd64(rsdp + 24), "XSDT");
	assert_int_equal(rd32(xsdt + 4), 36 + 16);
	fadt = table(&m, rd64(xsdt + 36), "FACP");
	madt = table(&m, rd64(xsdt + 44), "APIC");
	assert_int_equal(rd32(fadt + 4), 276);
	assert_true(rd32(fadt + 112) & (1U << 20)); /* HW_REDUCED_ACPI */
	assert_int_equal(rd64(fadt + 244 + 4), PM_PORT_SLEEP_CTL);
	assert_int_equal(fadt[244], 1); /* system I/O */
	dsdt = table(&m, rd64(fadt + 140), "DSDT");
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "_S5_", 4));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "PCI0", 4));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "COM1", 4));
	/* the i8042 as PNP0303 (EisaId 0x0303d041) with ports 0x60 and 0x64 and IRQ 1 */
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "PS2K", 4));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x41\xd0\x03\x03", 4));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x22\x02\x00", 3));
	/* the generation ID: _CID VM_Gen_Counter, ADDR = Package { LAYOUT_VMGENID, 0 }, GED */
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "VGEN", 4));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x0dVM_Gen_Counter", 16));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4),
			       "ADDR\x12\x0c\x02\x0c\x00\xe0\x0f\x00\x0c\x00\x00\x00\x00", 17));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x0d" "ACPI0013", 9));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x89\x06\x00\x03\x01\x05", 6));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x86\x5c\x2e_SB_VGEN\x0a\x80", 13));
	/* PCI hot-plug: the GED's second line, its call of PCNT, the slots, the registers */
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x89\x06\x00\x03\x01\x06", 6));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x5c\x2f\x03_SB_PCI0PCNT", 15));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "SL10\x08_ADR\x0c\x00\x00\x10\x00", 14));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "SL17\x08_ADR\x0c\x00\x00\x17\x00", 14));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "PCHP\x01\x0b\x00\xae\x0a\x10", 10));
	assert_non_null(memmem(dsdt, rd32(dsdt + 4), "\x86SL17\x0a\x03", 7));
	for (uint32_t off = 44; off < rd32(madt + 4); off += madt[off + 1]) {
		assert_true(madt[off + 1] >= 2);
		if (madt[off] == 0) {
			assert_int_equal(madt[off + 3], lapics); /* APIC id */
			assert_int_equal(madt[off + 4] & 1, 1);  /* enabled */
			lapics++;
		} else {
			assert_int_equal(madt[off], 1); /* the IOAPIC */
			assert_int_equal(rd32(madt + off + 4), ACPI_IOAPIC_ADDR);
		}
	}
	assert_int_equal(lapics, ncpus);
	gmem_release(&m);
}

static void test_one_cpu(void **state) { check(1); }
static void test_eight_cpus(void **state) { check(8); }
static void test_many_cpus(void **state) { check(32); }

static void test_limits(void **state)
{
	struct guest_mem m;
	uint64_t r;

	assert_int_equal(gmem_init(&m, 4U << 20), 0);
	assert_int_equal(acpi_build(&m, 0, &r), -ENOSPC);
	assert_int_equal(acpi_build(&m, 1000, &r), -ENOSPC);
	gmem_release(&m);
	assert_int_equal(gmem_init(&m, 512U << 10), 0); /* no BIOS area in RAM */
	assert_int_equal(acpi_build(&m, 1, &r), -EFAULT);
	gmem_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_cpu),
		cmocka_unit_test(test_eight_cpus),
		cmocka_unit_test(test_many_cpus),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
