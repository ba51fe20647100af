#pragma once
/*
 * The x86 hooks the VMM core calls (STYLE.md: arch code behind arch_* hooks, never #ifdef).
 */
#include "common/error.h"

struct vm;
struct vcpu;

/* CPUID for vCPU c; registers of the boot vCPU from vm->kernel_entry and friends. */
int arch_vcpu_init(struct vm *vm, struct vcpu *c, struct hull_err *err);

struct vm_config;

/* Before anything else: is cfg->kernel readable and (unless raw) a bzImage or ELF? */
int arch_kernel_check(const struct vm_config *cfg, struct hull_err *err);

/*
 * Load vm->cfg->kernel (bzImage, ELF vmlinux through PVH, or the raw tiny guest) and the
 * initrd into guest memory; write the command line, e820 map, page tables and ACPI tables.
 */
int arch_load(struct vm *vm, struct hull_err *err);
