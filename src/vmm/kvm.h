#pragma once
/* /dev/kvm: open it, check the API, tell a PVM host from hardware virtualisation. */
#include <stdbool.h>

#include "common/error.h"

struct vm;

/*
 * True when /proc/cpuinfo (or cpuinfo_path, for tests) lists neither vmx nor svm: the KVM
 * under /dev/kvm is then a software one (PVM here), on which guest code runs ~1000x slower.
 */
bool kvm_host_lacks_hw_virt(const char *cpuinfo_path);

/*
 * Open /dev/kvm (dev_path, NULL for the default), check KVM_GET_API_VERSION and the
 * capabilities hull relies on, refuse a host without vmx/svm unless allow_pvm.
 * Returns the fd or -errno with err set.
 */
int kvm_open(const char *dev_path, bool allow_pvm, struct hull_err *err);

/* Create the VM: in-kernel irqchip and PIT, TSS, memory slots for vm->mem. */
int kvm_vm_create(struct vm *vm, struct hull_err *err);
