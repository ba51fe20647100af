#pragma once
/* The guest's CPUID: the host's supported leaves, filtered and completed for hull's VMs. */
#include <linux/kvm.h>
#include <stdbool.h>

#include "common/error.h"

/*
 * Adjust the host-supported CPUID (KVM_GET_SUPPORTED_CPUID, which already carries the KVM
 * leaves 0x40000000+) for vCPU id of ncpus: APIC ids, topology, the hypervisor bit, and the
 * TSC-deadline timer that the in-kernel LAPIC emulates.
 */
void cpuid_patch(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus, bool tsc_deadline);

/* Read supported CPUID, patch it, KVM_SET_CPUID2 on vcpu_fd. */
int cpuid_setup(int kvm_fd, int vcpu_fd, unsigned id, unsigned ncpus, struct hull_err *err);

/* What vCPU 0 is given (cpuid_setup's table, not set on any vCPU): *ret to free; 0 or -errno. */
int cpuid_guest(int kvm_fd, unsigned ncpus, struct kvm_cpuid2 **ret, struct hull_err *err);
