/*
 * The VMM against a real /dev/kvm: the MSI routing table (irq.c) pushed to KVM, an irqfd
 * bound and fired; a vCPU's and the platform's state carried into a second VM through the
 * snapshot's stream encoding (x86/cpu-state.c). Not in Meson's unit suite, which must give the same counts on every host:
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
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/irq.h"
#include "vmm/state.h"
#include "vmm/x86/cpu-state.h"
#include "vmm/x86/cpuid.h"

/* A VM with the in-kernel irqchip and PIT, and one vCPU with hull's CPUID. */
static void kvm_vm_vcpu(int kvm, int *ret_vm, int *ret_vcpu)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct hull_err err = { 0 };
	int vm = ioctl(kvm, KVM_CREATE_VM, 0), vcpu;

	assert_true(vm >= 0);
	assert_int_equal(ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL), 0);
	assert_int_equal(ioctl(vm, KVM_CREATE_IRQCHIP, 0), 0);
	assert_int_equal(ioctl(vm, KVM_CREATE_PIT2, &pit), 0);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	assert_true(vcpu >= 0);
	assert_int_equal(cpuid_setup(kvm, vcpu, 0, 1, &err), 0);
	*ret_vm = vm;
	*ret_vcpu = vcpu;
}

/*
 * A vCPU's and the platform's state read from one VM, through the stream encoding, into a
 * second VM: what KVM then reports is what was saved (registers, special registers, the
 * LAPIC, the MSRs it took, the IOAPIC, the PIT's counters' modes).
 */
static void test_kvm_cpu_state_round_trip(void **state)
{
	struct x86_vcpu_state *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct x86_vcpu_state *c = calloc(1, sizeof(*c));
	struct x86_platform_state pa, pb, pc;
	struct hull_err err = { 0 };
	struct state_writer w;
	struct state_reader r, sec;
	struct kvm_regs regs;
	uint32_t id, idx;
	int kvm, vm1, cpu1, vm2, cpu2;

	(void)state;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	assert_true(kvm >= 0);
	kvm_vm_vcpu(kvm, &vm1, &cpu1);
	kvm_vm_vcpu(kvm, &vm2, &cpu2);
	assert_int_equal(ioctl(cpu1, KVM_GET_REGS, &regs), 0);
	regs.rip = 0x1234;
	regs.rax = 0xfeedface;
	regs.rflags = 0x2;
	assert_int_equal(ioctl(cpu1, KVM_SET_REGS, &regs), 0);
	assert_int_equal(x86_vcpu_state_get(kvm, vm1, cpu1, a, &err), 0);
	assert_true(a->n_msrs > 10);
	assert_int_equal(x86_platform_state_get(vm1, &pa, &err), 0);
	state_writer_init(&w);
	x86_platform_state_encode(&pa, &w);
	x86_vcpu_state_encode(a, 0, &w);
	assert_int_equal(state_writer_finish(&w), 0);
	assert_int_equal(state_reader_init(&r, w.buf, w.len), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	assert_int_equal(x86_platform_state_decode(&sec, &pb), 0);
	assert_int_equal(state_next_section(&r, &id, &idx, &sec), 1);
	assert_int_equal(x86_vcpu_state_decode(&sec, b), 0);
	assert_int_equal(x86_platform_state_set(vm2, &pb, &err), 0);
	assert_int_equal(x86_vcpu_state_set(kvm, vm2, cpu2, b, &err), 0);
	assert_int_equal(x86_vcpu_state_get(kvm, vm2, cpu2, c, &err), 0);
	assert_int_equal(x86_platform_state_get(vm2, &pc, &err), 0);
	assert_int_equal(c->regs.rip, 0x1234);
	assert_int_equal(c->regs.rax, 0xfeedface);
	assert_memory_equal(&a->regs, &c->regs, sizeof(a->regs));
	assert_memory_equal(&a->lapic, &c->lapic, sizeof(a->lapic));
	assert_int_equal(a->mp_state.mp_state, c->mp_state.mp_state);
	assert_int_equal(a->n_msrs, c->n_msrs);
	assert_memory_equal(&pa.chip[2], &pc.chip[2], sizeof(pa.chip[2]));
	for (int i = 0; i < 3; i++)
		assert_int_equal(pa.pit.channels[i].mode, pc.pit.channels[i].mode);
	state_writer_release(&w);
	free(a);
	free(b);
	free(c);
	close(cpu1);
	close(cpu2);
	close(vm1);
	close(vm2);
	close(kvm);
}

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
		cmocka_unit_test(test_kvm_cpu_state_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
