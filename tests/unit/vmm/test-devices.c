/* Platform devices, PCI config space, CPUID patching, PVM detection and option parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "vmm/bus.h"
#include "vmm/dev/legacy.h"
#include "vmm/dev/serial.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vmm.h"
#include "vmm/x86/cpuid.h"

static uint8_t io8(io_handler_fn fn, void *o, uint64_t off, int write, uint8_t v)
{
	uint8_t d = v;

	fn(o, off, &d, 1, write);
	return d;
}

static void test_serial(void **state)
{
	struct serial *s = NULL;
	int p[2];
	char out[64] = { 0 };

	assert_int_equal(pipe(p), 0);
	assert_int_equal(serial_create(NULL, p[1], &s, NULL), 0);
	assert_true(io8(serial_io, s, 5, 0, 0) & 0x20); /* LSR: THR empty */
	io8(serial_io, s, 0, 1, 'o');
	io8(serial_io, s, 0, 1, 'k');
	assert_int_equal(read(p[0], out, sizeof(out)), 2);
	assert_string_equal(out, "ok");
	/* Scratch register and the divisor latch behind DLAB */
	io8(serial_io, s, 7, 1, 0x5a);
	assert_int_equal(io8(serial_io, s, 7, 0, 0), 0x5a);
	io8(serial_io, s, 3, 1, 0x80);
	io8(serial_io, s, 0, 1, 0x0c);
	assert_int_equal(io8(serial_io, s, 0, 0, 0), 0x0c);
	io8(serial_io, s, 3, 1, 0x03);
	/* THRI: raised when enabled with an empty THR, acknowledged by reading IIR */
	io8(serial_io, s, 1, 1, 0x02);
	assert_int_equal(io8(serial_io, s, 2, 0, 0) & 0x0f, 0x02);
	assert_int_equal(io8(serial_io, s, 2, 0, 0) & 0x0f, 0x01);
	/* input: data ready, RDI pending, read back */
	io8(serial_io, s, 1, 1, 0x01);
	assert_int_equal(serial_input(s, (const uint8_t *)"x", 1), 1);
	assert_true(io8(serial_io, s, 5, 0, 0) & 0x01);
	assert_int_equal(io8(serial_io, s, 2, 0, 0) & 0x0f, 0x04);
	assert_int_equal(io8(serial_io, s, 0, 0, 0), 'x');
	assert_false(io8(serial_io, s, 5, 0, 0) & 0x01);
	/* loopback: output comes back as input, nothing reaches the terminal */
	io8(serial_io, s, 4, 1, 0x10);
	io8(serial_io, s, 0, 1, 'L');
	assert_int_equal(io8(serial_io, s, 0, 0, 0), 'L');
	io8(serial_io, s, 4, 1, 0x08);
	/* panic detection across writes */
	assert_false(serial_saw_panic(s));
	for (const char *c = "Kernel panic - not syncing: boom\n"; *c; c++)
		io8(serial_io, s, 0, 1, (uint8_t)*c);
	assert_true(serial_saw_panic(s));
	serial_free(s);
	close(p[0]);
	close(p[1]);
}

static time_t fixed_time(time_t *t)
{
	return 1795549785; /* 2026-11-24T19:49:45Z */
}

static void test_rtc(void **state)
{
	struct rtc r;

	rtc_init(&r);
	r.now = fixed_time;
	io8(rtc_io, &r, 0, 1, 0x00);
	assert_int_equal(io8(rtc_io, &r, 1, 0, 0), 0x45); /* BCD seconds */
	io8(rtc_io, &r, 0, 1, 0x80 | 0x04);               /* NMI mask bit ignored */
	assert_int_equal(io8(rtc_io, &r, 1, 0, 0), 0x19);
	io8(rtc_io, &r, 0, 1, 0x09);
	assert_int_equal(io8(rtc_io, &r, 1, 0, 0), 0x26);
	io8(rtc_io, &r, 0, 1, 0x0a);
	assert_false(io8(rtc_io, &r, 1, 0, 0) & 0x80); /* UIP clear: no busy-wait */
	io8(rtc_io, &r, 0, 1, 0x0d);
	assert_true(io8(rtc_io, &r, 1, 0, 0) & 0x80);
	io8(rtc_io, &r, 0, 1, 0x0b);
	io8(rtc_io, &r, 1, 1, 0x06); /* binary mode */
	io8(rtc_io, &r, 0, 1, 0x00);
	assert_int_equal(io8(rtc_io, &r, 1, 0, 0), 45);
	io8(rtc_io, &r, 0, 1, 0x40); /* CMOS RAM keeps what is written */
	io8(rtc_io, &r, 1, 1, 0x77);
	assert_int_equal(io8(rtc_io, &r, 1, 0, 0), 0x77);
}

static uint32_t conf_read(struct pci_bus *b, uint32_t addr)
{
	uint8_t d[4];
	uint32_t v;

	memcpy(d, &addr, 4);
	pci_conf_io(b, 0, d, 4, true);
	pci_conf_io(b, 4, d, 4, false);
	memcpy(&v, d, 4);
	return v;
}

static void conf_write(struct pci_bus *b, uint32_t addr, uint32_t val)
{
	uint8_t d[4];

	memcpy(d, &addr, 4);
	pci_conf_io(b, 0, d, 4, true);
	memcpy(d, &val, 4);
	pci_conf_io(b, 4, d, 4, true);
}

static void test_pci_conf(void **state)
{
	struct pci_bus *b = NULL;
	struct pci_dev *dev = xcalloc(1, sizeof(*dev));
	uint8_t d[4] = { 0 };

	assert_int_equal(pci_bus_create(NULL, &b, NULL), 0);
	/* the address register reads back (Linux's conf1 probe) */
	memcpy(d, &(uint32_t){ 0x80000000U }, 4);
	pci_conf_io(b, 0, d, 4, true);
	memset(d, 0, 4);
	pci_conf_io(b, 0, d, 4, false);
	assert_int_equal(d[3], 0x80);
	/* 00:00.0 is the host bridge */
	assert_int_equal(conf_read(b, 0x80000008U) >> 8, 0x060000);
	dev->cfg[0] = 0xf4;
	dev->cfg[1] = 0x1a;
	dev->bar_size = 0x8000;
	assert_int_equal(pci_bus_add(b, dev), 1);
	assert_int_equal(conf_read(b, 0x80000800U) & 0xffff, 0x1af4);
	/* BAR sizing: all ones reads back the size mask */
	conf_write(b, 0x80000810U, 0xffffffffU);
	assert_int_equal(conf_read(b, 0x80000810U), 0xffff8004U);
	conf_write(b, 0x80000810U, 0xc0100000U);
	assert_int_equal(conf_read(b, 0x80000810U), 0xc0100004U);
	assert_true(dev->bar_enabled);
	assert_int_equal(dev->bar_addr, 0xc0100000U);
	/* vendor id is read-only; absent slots, functions and buses read as all ones */
	conf_write(b, 0x80000800U, 0);
	assert_int_equal(conf_read(b, 0x80000800U) & 0xffff, 0x1af4);
	assert_int_equal(conf_read(b, 0x80001800U), 0xffffffffU);
	assert_int_equal(conf_read(b, 0x80000900U), 0xffffffffU);
	assert_int_equal(conf_read(b, 0x80010000U), 0xffffffffU);
	assert_int_equal(conf_read(b, 0x00000800U), 0xffffffffU); /* enable bit clear */
	/* disabling memory decoding turns the BAR off */
	conf_write(b, 0x80000804U, 0);
	assert_false(dev->bar_enabled);
	pci_bus_free(b);
	free(dev);
}

static void test_cpuid_patch(void **state)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 4 * sizeof(c->entries[0]));

	c->nent = 4;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xff00ffff };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .ebx = 0x4b4d564b };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0x8000001e };
	cpuid_patch(c, 5, 8, true);
	assert_int_equal(c->entries[0].ebx >> 24, 5);
	assert_int_equal((c->entries[0].ebx >> 16) & 0xff, 8);
	assert_true(c->entries[0].ecx & (1U << 31));
	assert_true(c->entries[0].ecx & (1U << 24));
	assert_int_equal(c->entries[1].edx, 5);
	assert_int_equal(c->entries[1].ebx, 8);
	assert_int_equal(c->entries[1].eax, 3);
	assert_int_equal(c->entries[2].ebx, 0x4b4d564b); /* KVM leaves pass through */
	assert_int_equal(c->entries[3].eax, 5);
	free(c);
}

static void test_pvm_detection(void **state)
{
	char path[] = "/tmp/hull-test-cpuinfo-XXXXXX";
	int fd = mkstemp(path);
	const char *pvm = "processor\t: 0\nflags\t\t: fpu vme svmx hypervisor vmxe\n";
	const char *svm = "processor\t: 0\nflags\t\t: fpu svm lm\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, pvm, strlen(pvm)), (ssize_t)strlen(pvm));
	assert_true(kvm_host_lacks_hw_virt(path)); /* whole words only */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, svm, strlen(svm), 0), (ssize_t)strlen(svm));
	assert_false(kvm_host_lacks_hw_virt(path));
	close(fd);
	unlink(path);
}

static void test_stop_exit_codes(void **state)
{
	assert_int_equal(vmm_stop_exit_code(VM_STOP_POWEROFF), 0);
	assert_int_equal(vmm_stop_exit_code(VM_STOP_REBOOT), 3);
	assert_int_equal(vmm_stop_exit_code(VM_STOP_PANIC), 4);
}

static void nop_io(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	*(uint64_t *)o = off;
}

static void test_io_bus(void **state)
{
	struct io_bus bus = { 0 };
	uint64_t seen = 0;
	uint8_t d = 0;

	assert_int_equal(io_bus_add(&bus, 0x3f8, 8, nop_io, &seen), 0);
	assert_int_equal(io_bus_add(&bus, 0x3fc, 8, nop_io, &seen), -EEXIST);
	assert_int_equal(io_bus_add(&bus, UINT64_MAX - 2, 8, nop_io, &seen), -EINVAL);
	assert_true(io_bus_dispatch(&bus, 0x3fd, &d, 1, false));
	assert_int_equal(seen, 5);
	assert_false(io_bus_dispatch(&bus, 0x400, &d, 1, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_rtc),
		cmocka_unit_test(test_pci_conf),
		cmocka_unit_test(test_cpuid_patch),
		cmocka_unit_test(test_pvm_detection),
		cmocka_unit_test(test_stop_exit_codes),
		cmocka_unit_test(test_io_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
