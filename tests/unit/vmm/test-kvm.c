/*
 * The VMM against a real /dev/kvm: the MSI routing table (irq.c) pushed to KVM, an irqfd
 * bound and fired. Not in Meson's unit suite, which must give the same counts on every host:
 * tests/integration/vm/test_kvm_unit.py (marked `kvm`) runs it where KVM works, which
 * scripts/test arranges on every machine (the host's KVM, else the sandbox's nested one).
 * No skips: without a working /dev/kvm it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/irq.h"

static void test_kvm_irqfd(void **state)
{
	struct hull_err err = { 0 };
	struct irq_routing rt;
	int kvm, vm, fd;
	uint32_t gsi;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	assert_true(kvm >= 0);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	assert_int_equal(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0);
	assert_int_equal(irq_routing_init(&rt, kvm, vm, false, &err), 0);
	assert_true(rt.enabled);
	fd = irq_msi_vector_new(&rt, vm, &gsi);
	assert_true(fd >= 0);
	assert_int_equal(gsi, IRQ_ISA_PINS);
	assert_int_equal(irq_msi_vector_route(&rt, vm, gsi, 0xfee00000, 0x4041), 0);
	assert_int_equal(irq_msi_vector_fire(fd), 0);
	/* an ISA GSI is not re-routed as MSI */
	assert_int_equal(irq_msi_vector_route(&rt, vm, 3, 0xfee00000, 1), -ENOENT);
	close(fd);
	irq_routing_release(&rt);
	close(vm);
	close(kvm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kvm_irqfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
