#include "vmm/x86/cpuid.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "common/alloc.h"
#include "common/cleanup.h"

#define CPUID_MAX_ENTRIES 512

static unsigned order_base2(unsigned n)
{
	unsigned s = 0;

	while ((1U << s) < n)
		s++;
	return s;
}

void cpuid_patch(struct kvm_cpuid2 *c, unsigned id, unsigned ncpus, bool tsc_deadline)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/* EBX[31:24] initial APIC id, [23:16] logical processors per package. */
			e->ebx = (e->ebx & 0xffffU) | (id << 24) | ((ncpus & 0xffU) << 16);
			if (ncpus > 1)
				e->edx |= 1U << 28; /* HTT: the count above is valid */
			e->ecx |= 1U << 31; /* running under a hypervisor */
			if (tsc_deadline)
				e->ecx |= 1U << 24;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: one thread per core, ncpus cores in one package. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1U << 8) | 0;
			} else if (e->index == 1) {
				e->eax = order_base2(ncpus);
				e->ebx = ncpus;
				e->ecx = (2U << 8) | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = id;
			break;
		case 0x80000008:
			/* AMD: ECX[7:0] number of cores - 1 (ApicIdSize left at 0: derived from NC). */
			e->ecx = (e->ecx & ~0xf0ffU) | ((ncpus - 1) & 0xffU);
			break;
		case 0x8000001e:
			e->eax = id;
			e->ebx = (e->ebx & ~0xff00U) & ~0xffU; /* one thread per core, core id below */
			e->ebx |= id & 0xffU;
			e->ecx = 0; /* one node */
			break;
		default:
			break;
		}
	}
}

int cpuid_setup(int kvm_fd, int vcpu_fd, unsigned id, unsigned ncpus, struct hull_err *err)
{
	cleanup_free struct kvm_cpuid2 *c = NULL;
	bool deadline;

	c = xcalloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0)
		return hull_err_set(err, errno, "KVM_GET_SUPPORTED_CPUID");
	deadline = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	cpuid_patch(c, id, ncpus, deadline);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
		return hull_err_set(err, errno, "KVM_SET_CPUID2 on vCPU %u", id);
	return 0;
}

int cpuid_guest(int kvm_fd, unsigned ncpus, struct kvm_cpuid2 **ret, struct hull_err *err)
{
	struct kvm_cpuid2 *c = xcalloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));

	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int e = errno;

		free(c);
		return hull_err_set(err, e, "KVM_GET_SUPPORTED_CPUID");
	}
	cpuid_patch(c, 0, ncpus, ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0);
	*ret = c;
	return 0;
}
