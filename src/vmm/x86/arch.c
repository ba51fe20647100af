#include "vmm/x86/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "vmm/migrate-stream.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "vmm/x86/acpi.h"
#include "vmm/x86/boot.h"
#include "vmm/x86/cpuid.h"
#include "vmm/x86/layout.h"

#define KERNEL_MAX_SIZE (512ULL << 20)
#define INITRD_MAX_SIZE (2048ULL << 20)

/* mov al, 0xfe; out 0x64, al; hlt; jmp $-1 */
static const uint8_t reset_stub[] = { 0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd };

int arch_kernel_check(const struct vm_config *cfg, struct hull_err *err)
{
	cleanup_close int fd = open(cfg->kernel, O_RDONLY | O_CLOEXEC);
	uint8_t head[1024] = { 0 };
	ssize_t n;

	if (fd < 0)
		return hull_err_set(err, errno, "--kernel %s", cfg->kernel);
	n = fd_read_all(fd, head, sizeof(head));
	if (n < 0)
		return hull_err_set(err, (int)-n, "--kernel %s", cfg->kernel);
	if (cfg->kernel_kind == VM_KERNEL_RAW)
		return 0;
	if (!bzimage_detect(head, (size_t)n) && !elf_detect(head, (size_t)n))
		return hull_err_setx(err, EINVAL,
				     "--kernel %s: not a Linux kernel (neither a bzImage nor an ELF "
				     "vmlinux)",
				     cfg->kernel);
	return 0;
}

/*
 * The kernel file: its first KERNEL_HEAD_MAX bytes in the heap (a bzImage's setup header sits
 * in the first 1 KiB; an ELF header and, in practice, its program headers come first),
 * the rest pread() by the loaders straight into guest RAM. Never mapped: a file truncated
 * while mapped would SIGBUS the VMM on the next access.
 */
#define KERNEL_HEAD_MAX (128U << 10)

struct kernel_file {
	int fd;
	uint8_t *head;
	size_t head_len;
	size_t len;
};

static void kernel_file_close(struct kernel_file *k)
{
	free(k->head);
	if (k->fd >= 0)
		(void)close(k->fd);
}
#define cleanup_kernel_file __attribute__((cleanup(kernel_file_close)))

static int kernel_file_open(const char *path, struct kernel_file *k, struct hull_err *err)
{
	struct stat st;
	ssize_t n;

	k->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (k->fd < 0 || fstat(k->fd, &st) < 0)
		return hull_err_set(err, errno, "--kernel %s", path);
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		return hull_err_setx(err, EINVAL, "--kernel %s: not a regular, non-empty file", path);
	if ((uint64_t)st.st_size > KERNEL_MAX_SIZE)
		return hull_err_setx(err, EFBIG, "--kernel %s: larger than %llu MiB", path,
				     KERNEL_MAX_SIZE >> 20);
	k->len = (size_t)st.st_size;
	k->head_len = k->len < KERNEL_HEAD_MAX ? k->len : KERNEL_HEAD_MAX;
	k->head = xmalloc(k->head_len);
	n = fd_read_all(k->fd, k->head, k->head_len);
	if (n < 0)
		return hull_err_set(err, (int)-n, "--kernel %s", path);
	if ((size_t)n < k->head_len)
		return hull_err_setx(err, EIO,
				     "--kernel %s: the file shrank while hull was loading it", path);
	return 0;
}

int arch_load(struct vm *vm, struct hull_err *err)
{
	const struct vm_config *cfg = vm->cfg;
	cleanup_kernel_file struct kernel_file kf = { .fd = -1 };
	cleanup_free char *initrd = NULL;
	size_t klen = 0, ilen = 0;
	struct boot_input in = { .name = cfg->kernel };
	cleanup_free char *cmdline = NULL;
	const char *base;
	struct boot_result out = { 0 };
	int r;

	r = kernel_file_open(cfg->kernel, &kf, err);
	if (r < 0)
		return r;
	klen = kf.len;
	if (cfg->initrd) {
		r = fd_read_file_at(AT_FDCWD, cfg->initrd, INITRD_MAX_SIZE, &initrd, &ilen);
		if (r < 0)
			return hull_err_set(err, -r, "--initrd %s", cfg->initrd);
		if (ilen >= vm->mem.low_size)
			return hull_err_setx(err, ENOMEM,
					     "--initrd %s: %zu MiB does not fit in --memory", cfg->initrd,
					     ilen >> 20);
	}
	/*
	 * Linux waits forever after a panic unless told otherwise; panic=-1 makes it reset at
	 * once, which hull reports as a panic (the console saw it, dev/serial.c).
	 * pci=noearly: on AMD CPUs Linux's early GART/AGP search reads the class of every
	 * slot of all 256 buses through conf1 ports, 16k reads and 32k exits (1.3 s in the
	 * sandbox); nothing on hull's platform needs the early PCI quirks.
	 */
	base = cfg->cmdline ? cfg->cmdline : "console=ttyS0";
	cmdline = xasprintf("%s%s%s", base, strstr(base, "panic=") ? "" : " panic=-1",
			    strstr(base, "pci=") ? "" : " pci=noearly");
	in.cmdline = cmdline;
	in.kernel = kf.head;
	in.head_len = kf.head_len;
	in.kernel_len = klen;
	in.has_kernel_fd = true;
	in.kernel_fd = kf.fd;
	in.initrd = (const uint8_t *)initrd;
	in.initrd_len = ilen;
	if (cfg->kernel_kind == VM_KERNEL_RAW) {
		r = raw_load(&vm->mem, &in, &out, err);
	} else {
		if (acpi_build(&vm->mem, vm->ncpus, &in.rsdp) < 0)
			return hull_err_setx(err, ENOMEM, "guest memory too small for ACPI tables");
		/*
		 * On a hardware-reduced ACPI platform Linux reboots through "EFI", which without
		 * EFI falls back to a real-mode jump to the BIOS reset vector F000:FFF0. There is
		 * no BIOS: put a stub there that pulses the i8042 reset line.
		 */
		if (gmem_write(&vm->mem, LAYOUT_RESET_VECTOR, reset_stub, sizeof(reset_stub)) < 0)
			return hull_err_setx(err, ENOMEM, "guest memory too small for the reset stub");
		if (bzimage_detect(in.kernel, in.head_len))
			r = bzimage_load(&vm->mem, &in, &out, err);
		else if (elf_detect(in.kernel, in.head_len))
			r = pvh_load(&vm->mem, &in, &out, err);
		else
			r = hull_err_setx(err, EINVAL,
					  "--kernel %s: not a Linux kernel (neither a bzImage nor an "
					  "ELF vmlinux)",
					  cfg->kernel);
	}
	if (r < 0)
		return r;
	vm->boot_mode = out.mode;
	vm->kernel_entry = out.entry;
	vm->boot_params = out.params;
	return 0;
}

static struct kvm_segment seg(uint64_t base, uint32_t limit, uint16_t sel, uint8_t type,
			      uint8_t db, uint8_t l, uint8_t g)
{
	return (struct kvm_segment){ .base = base, .limit = limit, .selector = sel, .type = type,
				     .present = 1, .dpl = 0, .db = db, .s = 1, .l = l, .g = g };
}

static int arch_bsp_regs(struct vm *vm, struct vcpu *c, struct hull_err *err)
{
	struct kvm_sregs s;
	struct kvm_regs regs = { .rflags = 0x2 };

	if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
		return hull_err_set(err, errno, "KVM_GET_SREGS");
	switch ((enum boot_mode)vm->boot_mode) {
	case BOOT_MODE_REAL:
		s.cs = seg(LAYOUT_RAW_LOAD, 0xffff, (uint16_t)(LAYOUT_RAW_LOAD >> 4), 0xb, 0, 0, 0);
		s.ds = s.es = s.fs = s.gs = s.ss =
			seg(LAYOUT_RAW_LOAD, 0xffff, (uint16_t)(LAYOUT_RAW_LOAD >> 4), 0x3, 0, 0, 0);
		regs.rip = 0;
		regs.rsp = 0xfff0;
		break;
	case BOOT_MODE_LONG:
		s.gdt.base = LAYOUT_GDT;
		s.gdt.limit = 4 * 8 - 1;
		s.cs = seg(0, 0xffffffff, 0x10, 0xb, 0, 1, 1);
		s.ds = s.es = s.fs = s.gs = s.ss = seg(0, 0xffffffff, 0x18, 0x3, 1, 0, 1);
		s.cr3 = LAYOUT_PML4;
		s.cr4 = 1U << 5;                   /* PAE */
		s.cr0 = 0x80000000U | 0x10U | 0x1U; /* PG, ET, PE */
		s.efer = 0x500;                    /* LME | LMA */
		regs.rip = vm->kernel_entry;
		regs.rsi = vm->boot_params;
		break;
	case BOOT_MODE_PVH:
		s.cs = seg(0, 0xffffffff, 0x10, 0xb, 1, 0, 1);
		s.ds = s.es = s.fs = s.gs = s.ss = seg(0, 0xffffffff, 0x18, 0x3, 1, 0, 1);
		s.cr0 = 0x10U | 0x1U; /* ET, PE */
		s.cr4 = 0;
		s.efer = 0;
		regs.rip = vm->kernel_entry;
		regs.rbx = vm->boot_params;
		break;
	case BOOT_MODE_COUNT:
	default:
		return hull_err_setx(err, EINVAL, "no kernel loaded");
	}
	if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0)
		return hull_err_set(err, errno, "KVM_SET_SREGS");
	if (ioctl(c->fd, KVM_SET_REGS, &regs) < 0)
		return hull_err_set(err, errno, "KVM_SET_REGS");
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *c, struct hull_err *err)
{
	int r = cpuid_setup(vm->kvm_fd, c->fd, c->id, vm->ncpus, err);

	if (r < 0)
		return r;
	/* Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
	if (c->id == 0)
		return arch_bsp_regs(vm, c, err);
	return 0;
}

void arch_vcpu_describe(struct vcpu *c, char *buf, size_t n)
{
	struct kvm_regs regs;
	struct kvm_sregs sr;

	if (ioctl(c->fd, KVM_GET_REGS, &regs) < 0 || ioctl(c->fd, KVM_GET_SREGS, &sr) < 0) {
		(void)snprintf(buf, n, "vCPU %u: registers unreadable (errno %d)", c->id, errno);
		return;
	}
	(void)snprintf(buf, n,
		       "vCPU %u: rip=%#llx rsp=%#llx cr0=%#llx cr2=%#llx cr3=%#llx cr4=%#llx "
		       "efer=%#llx idt=%#llx/%#x gdt=%#llx/%#x cs=%#x",
		       c->id, (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		       (unsigned long long)sr.cr0, (unsigned long long)sr.cr2,
		       (unsigned long long)sr.cr3, (unsigned long long)sr.cr4,
		       (unsigned long long)sr.efer, (unsigned long long)sr.idt.base, sr.idt.limit,
		       (unsigned long long)sr.gdt.base, sr.gdt.limit, sr.cs.selector);
}

int arch_cpuid_entries(struct vm *vm, struct mig_cpuid *out, unsigned max, unsigned *ret_n,
		       struct hull_err *err)
{
	cleanup_free struct kvm_cpuid2 *c = NULL;
	unsigned n = 0;
	int r = cpuid_guest(vm->kvm_fd, vm->ncpus, &c, err);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < c->nent && n < max; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		out[n++] = (struct mig_cpuid){ e->function, e->index, e->eax, e->ebx, e->ecx,
					       e->edx };
	}
	*ret_n = n;
	return 0;
}
