#pragma once
/*
 * hull's KVM virtual machine monitor: the public entry points used by `hull vm`.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "disk/disk.h"

#define VM_MAX_CPUS 32
#define VM_MAX_DISKS 8
#define VM_SHUTDOWN_TIMEOUT_MS 30000U

/* How the guest stopped; the CLI maps it to the exit status (vmm_stop_exit_code). */
enum vm_stop {
	VM_STOP_NONE,
	VM_STOP_POWEROFF, /* ACPI S5 or the tiny guest's power-off port */
	VM_STOP_REBOOT,   /* ACPI reset register, i8042 reset, triple fault */
	VM_STOP_PANIC,    /* reset or halt right after "Kernel panic" on the console */
	VM_STOP_KILLED,   /* a shutdown request timed out (or a second SIGTERM): hull stopped it */
	VM_STOP_ERROR,    /* hull failed or the guest wedged a vCPU */
	VM_STOP_COUNT,
};

enum vm_console {
	VM_CONSOLE_SERIAL,
	VM_CONSOLE_NONE,
	VM_CONSOLE_VIRTIO, /* hvc0 on virtio-console has the terminal; the UART prints too */
	VM_CONSOLE_COUNT,
};

enum vm_kernel_kind {
	VM_KERNEL_AUTO, /* bzImage or ELF vmlinux (PVH), by content */
	VM_KERNEL_RAW,  /* flat real-mode binary loaded at 0x10000 (the tiny test guest) */
	VM_KERNEL_COUNT,
};

struct vm_disk_config {
	const char *path;
	bool readonly;
	enum disk_format format; /* RAW (the default) or QCOW2; never AUTO: see vm_parse_disk */
	char serial[21]; /* virtio-blk serial id: at most 20 bytes */
};

/* Where vCPUs left KVM_RUN (exit counters for `hull vm run --stats`). */
enum vm_exit_kind {
	VM_EXIT_IO_SERIAL,  /* port I/O on COM1 */
	VM_EXIT_IO_PCI,     /* port I/O on the PCI configuration ports 0xcf8-0xcff */
	VM_EXIT_IO_OTHER,   /* other port I/O (RTC, ACPI, i8042, probes of absent ports) */
	VM_EXIT_MMIO,       /* MMIO: PCI BARs not covered by an ioeventfd, absent devices */
	VM_EXIT_OTHER,      /* halt, shutdown, system events, errors */
	VM_EXIT_KIND_COUNT,
};

/* Filled by vmm_run when vm_config.stats is set. Times in nanoseconds (CLOCK_MONOTONIC). */
struct vm_stats {
	uint64_t build_ns;        /* vmm_run entry to the vCPUs' start (KVM, memory, kernel load) */
	uint64_t load_ns;         /* the part of build_ns spent loading the kernel and initrd */
	uint64_t first_output_ns; /* vCPUs' start to the guest's first serial byte (0: none) */
	uint64_t run_ns;          /* vCPUs' start to the stop */
	uint64_t exits[VM_EXIT_KIND_COUNT];
	uint64_t msi_irqfd;       /* interrupts injected with an eventfd write */
	uint64_t msi_ioctl;       /* interrupts injected with KVM_SIGNAL_MSI */
};

const char *vm_exit_kind_name(enum vm_exit_kind k);

struct vm_config {
	const char *kernel;
	enum vm_kernel_kind kernel_kind;
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	uint64_t mem_size;
	struct vm_disk_config disks[VM_MAX_DISKS];
	size_t n_disks;
	enum vm_console console;
	bool rng;
	bool allow_pvm; /* run even when /dev/kvm has no hardware virtualisation under it */
	bool no_irqfd;	/* interrupts by KVM_SIGNAL_MSI even when KVM has irqfd (tests the fallback) */
	const char *api_sock;
	/*
	 * How long a guest asked to shut down (SIGTERM, the API's "shutdown") has to power off
	 * before hull stops it (VM_STOP_KILLED). 0: the default, VM_SHUTDOWN_TIMEOUT_MS.
	 */
	unsigned shutdown_timeout_ms;
	struct vm_stats *stats; /* NULL, or filled when the VM stops */
};

void vm_config_init(struct vm_config *cfg);

/* Parse "512M", "2G", "1048576" (bytes) into *ret; -EINVAL on garbage or overflow. */
int vm_parse_size(const char *s, uint64_t *ret);
/*
 * Parse a --disk value "PATH[,ro|rw][,format=raw|qcow2][,serial=ID]" into d (which points
 * into s). The format is raw unless given: a guest-writable raw disk is never probed, since a
 * guest that wrote QCOW2 magic into it would then choose the host files behind it.
 */
int vm_parse_disk(char *s, struct vm_disk_config *d, struct hull_err *err);

/*
 * Validate cfg, build the VM, run it until the guest stops. Returns 0 with *ret_stop set
 * when the guest stopped by itself (power-off, reboot, panic) or was stopped through the API;
 * -errno with err set when the VM could not be built or failed while running.
 */
int vmm_run(const struct vm_config *cfg, enum vm_stop *ret_stop, struct hull_err *err);

/* The `hull vm run` exit status for a stop reason: power-off 0, reboot 3, panic 4, error 125. */
int vmm_stop_exit_code(enum vm_stop stop);
const char *vmm_stop_name(enum vm_stop stop);
