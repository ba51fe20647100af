#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vmm/vm.h"
#include "vmm/x86/arch.h"

bool kvm_host_lacks_hw_virt(const char *cpuinfo_path)
{
	cleanup_fclose FILE *f = fopen(cpuinfo_path ? cpuinfo_path : "/proc/cpuinfo", "re");
	char line[8192];

	if (!f)
		return false; /* cannot tell: let KVM itself decide */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		/* Flags are space-separated words; match whole words only. */
		for (char *save = NULL, *w = strtok_r(strchr(line, ':') ?: line, " :\t\n", &save);
		     w; w = strtok_r(NULL, " \t\n", &save))
			if (strcmp(w, "vmx") == 0 || strcmp(w, "svm") == 0)
				return false;
		return true;
	}
	return false;
}

int kvm_open(const char *dev_path, bool allow_pvm, struct hull_err *err)
{
	const char *path = dev_path ? dev_path : "/dev/kvm";
	cleanup_close int fd = -1;
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	};
	int v;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return hull_err_setx(err, ENOENT,
					     "%s: no such device: KVM is not available on this host "
					     "(load kvm_intel or kvm_amd, or run inside the sandbox VM)",
					     path);
		return hull_err_set(err, errno, "open %s", path);
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v < 0)
		return hull_err_set(err, errno, "%s: not a usable KVM device (KVM_GET_API_VERSION)",
				    path);
	if (v != KVM_API_VERSION)
		return hull_err_setx(err, ENOTSUP, "%s: KVM API version %d, hull needs %d", path, v,
				     KVM_API_VERSION);
	for (size_t i = 0; i < ARRAY_SIZE(need); i++)
		if (ioctl(fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0)
			return hull_err_setx(err, ENOTSUP, "%s: KVM lacks %s", path, need[i].name);
	v = arch_kvm_check(fd, path, err); /* x86: the PIT, CPUID */
	if (v < 0)
		return v;
	if (!allow_pvm && kvm_host_lacks_hw_virt(NULL))
		return hull_err_setx(err, ENOTSUP,
				     "%s: this host's CPU has no vmx/svm flag, so its KVM is a "
				     "software one (PVM): a normal guest would run about 1000x "
				     "slower than native. Run the VM inside the sandbox "
				     "(tests/sandbox/run), or pass --allow-pvm for tiny guests",
				     path);
	return steal_fd(&fd);
}

static int kvm_add_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
			struct hull_err *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return hull_err_set(err, errno, "KVM_SET_USER_MEMORY_REGION slot %u (%llu MiB at 0x%llx)",
				    slot, (unsigned long long)(size >> 20), (unsigned long long)gpa);
	return 0;
}

int kvm_vm_create(struct vm *vm, struct hull_err *err)
{
	int r;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return hull_err_set(err, errno, "KVM_CREATE_VM");
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0)
		return hull_err_set(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
	r = arch_vm_init(vm, err); /* x86: TSS, identity map, PIC/IOAPIC, PIT */
	if (r < 0)
		return r;
	r = irq_routing_init(&vm->irq, vm->kvm_fd, vm->vm_fd, vm->cfg->no_irqfd, err);
	if (r < 0)
		return r;
	r = kvm_add_slot(vm, 0, 0, vm->mem.low_size, vm->mem.host, err);
	if (r < 0)
		return r;
	if (gmem_high_size(&vm->mem)) {
		r = kvm_add_slot(vm, 1, GMEM_HIGH_START, gmem_high_size(&vm->mem),
				 vm->mem.host + vm->mem.low_size, err);
		if (r < 0)
			return r;
	}
	if (vm->mem.hp_size) { /* the virtio-mem region: one slot, all of it (virtio/mem.h) */
		r = kvm_add_slot(vm, 2, vm->mem.hp_gpa, vm->mem.hp_size, vm->mem.hp_host, err);
		if (r < 0)
			return r;
	}
	return 0;
}
