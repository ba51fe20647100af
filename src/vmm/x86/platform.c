/*
 * The x86 platform KVM provides in the kernel (arch hooks, x86/arch.h): the VMX TSS and
 * identity-map pages, the PIC/IOAPIC pair, the PIT, and the GSI routes that tie them.
 */
#include "vmm/x86/arch.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "vmm/vm.h"

/* Addresses below 4 GiB the VMX TSS and identity page need (3 pages), below the BIOS area. */
#define KVM_TSS_ADDR 0xfffbd000UL
#define KVM_IDENT_MAP_ADDR 0xfffbc000ULL

int arch_kvm_check(int kvm_fd, const char *path, struct hull_err *err)
{
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0)
		return hull_err_setx(err, ENOTSUP, "%s: KVM lacks KVM_CAP_PIT2", path);
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXT_CPUID) <= 0)
		return hull_err_setx(err, ENOTSUP, "%s: KVM lacks KVM_CAP_EXT_CPUID", path);
	return 0;
}

int arch_vm_init(struct vm *vm, struct hull_err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = KVM_IDENT_MAP_ADDR;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return hull_err_set(err, errno, "KVM_SET_TSS_ADDR");
	/* Only VMX uses it; SVM and PVM may refuse, which is harmless. */
	(void)ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return hull_err_set(err, errno, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return hull_err_set(err, errno, "KVM_CREATE_PIT2");
	return 0;
}

unsigned arch_irq_default_routes(struct kvm_irq_routing_entry *e, unsigned max,
				 uint32_t *next_gsi)
{
	unsigned n = 0;

	for (uint32_t gsi = 0; gsi < IRQ_ISA_PINS && n + 2 <= max; gsi++) {
		/* GSI 0-7 on the master PIC, 8-15 on the slave (KVM_IRQCHIP_PIC_*). */
		if (gsi < 16)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
								    KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 },
			};
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
	}
	*next_gsi = IRQ_ISA_PINS;
	return n;
}
