#pragma once
/*
 * The x86 hooks the VMM core calls (STYLE.md: arch code behind arch_* hooks, never #ifdef).
 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct vcpu;
struct kvm_irq_routing_entry;

/* The platform's KVM capabilities on the opened /dev/kvm (x86: PIT2, EXT_CPUID); -ENOTSUP. */
int arch_kvm_check(int kvm_fd, const char *path, struct hull_err *err);

/* After KVM_CREATE_VM: the in-kernel platform (x86: TSS and identity-map pages, PIC/IOAPIC, PIT). */
int arch_vm_init(struct vm *vm, struct hull_err *err);
/*
 * The platform's default GSI routes (x86: GSI 0-15 on the PICs and 0-23 on the IOAPIC, what
 * KVM_CREATE_IRQCHIP installs), at most max entries into e; *next_gsi is the first GSI free
 * for MSI routes. Returns the number of entries.
 */
unsigned arch_irq_default_routes(struct kvm_irq_routing_entry *e, unsigned max,
				 uint32_t *next_gsi);

/* CPUID for vCPU c; registers of the boot vCPU from vm->kernel_entry and friends. */
int arch_vcpu_init(struct vm *vm, struct vcpu *c, struct hull_err *err);

/*
 * One line about vCPU c's state for a stop reason (x86: RIP, RSP, CR0/2/3/4, EFER, IDT and
 * GDT base and limit), so that a triple fault names where the guest was. Never fails: a
 * register read that fails says so in buf.
 */
void arch_vcpu_describe(struct vcpu *c, char *buf, size_t n);

struct vm_config;

/* Before anything else: is cfg->kernel readable and (unless raw) a bzImage or ELF? */
int arch_kernel_check(const struct vm_config *cfg, struct hull_err *err);

/*
 * Load vm->cfg->kernel (bzImage, ELF vmlinux through PVH, or the raw tiny guest) and the
 * initrd into guest memory; write the command line, e820 map, page tables and ACPI tables.
 */
int arch_load(struct vm *vm, struct hull_err *err);

struct state_writer;
struct state_reader;

/*
 * Snapshots (x86/cpu-state.c): the in-kernel platform's state and every vCPU's as sections of
 * w; the vCPUs must be paused. 0 or -errno with err naming the ioctl.
 */
int arch_state_save(struct vm *vm, struct state_writer *w, struct hull_err *err);
/*
 * Load one section when it is the arch's (the platform, or a vCPU of this VM): 1 loaded,
 * 0 not an arch section, -errno with err (-EBADMSG: corrupt; -EPROTONOSUPPORT: a newer
 * format).
 */
int arch_state_load(struct vm *vm, uint32_t id, uint32_t instance, struct state_reader *sec,
		    struct hull_err *err);
/* The number of arch sections a complete stream holds for vm (platform + one per vCPU). */
unsigned arch_state_sections(const struct vm *vm);

struct mig_cpuid;
/*
 * Live migration (migrate.c): the CPUID leaves the guest is offered, up to max of them, for
 * the destination to compare with its own. 0 with *ret_n set, or -errno with err.
 */
int arch_cpuid_entries(struct vm *vm, struct mig_cpuid *out, unsigned max, unsigned *ret_n,
		       struct hull_err *err);
