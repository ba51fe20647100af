#pragma once
/*
 * hull's KVM virtual machine monitor: the public entry points used by `hull vm`.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "disk/disk.h"
#include "vmm/ratelimit.h"

#define VM_MAX_CPUS 32
#define VM_MAX_DISKS 8
#define VM_DISK_SERIAL_MAX 20U /* virtio-blk's id is 20 bytes */
#define VM_SHUTDOWN_TIMEOUT_S 30U
#define VM_SHUTDOWN_TIMEOUT_MAX_S 3600U
#define VM_MAX_NICS 4
#define VM_NET_MAX_QUEUE_PAIRS 8

/* How the guest stopped; the CLI maps it to the exit status (vmm_stop_exit_code). */
enum vm_stop {
	VM_STOP_NONE,
	VM_STOP_POWEROFF, /* ACPI S5 or the tiny guest's power-off port */
	VM_STOP_REBOOT,   /* ACPI reset register, i8042 reset, triple fault */
	VM_STOP_PANIC,    /* reset or halt right after "Kernel panic" on the console */
	VM_STOP_KILLED,   /* a shutdown request timed out (or a second SIGTERM): hull stopped it */
	VM_STOP_ERROR,    /* hull failed or the guest wedged a vCPU */
	VM_STOP_MIGRATED, /* a live migration handed the VM to its destination (exit 0) */
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
	enum disk_format format; /* RAW or QCOW2; AUTO is refused: a guest could choose it */
	const char *serial; /* virtio-blk serial id, at most 20 bytes; NULL: none */
	struct ratelimit_config rate; /* bps=, iops=: zero sizes do not limit */
};

/* A virtio-net NIC on a host tap interface (--net tap=IFNAME[,mac=MAC][,queues=N]). */
struct vm_net_config {
	const char *tap; /* an existing tap interface in the VMM's network namespace */
	uint8_t mac[6];
	bool mac_set;    /* false: a random locally administered unicast address */
	unsigned queues; /* rx/tx queue pairs; 0: one per vCPU, at most VM_NET_MAX_QUEUE_PAIRS */
	/* rx_bps=, rx_pps=, tx_bps=, tx_pps= (docs/vmm.md "Rate limits"): frames to the guest
	 * (rx) and from it (tx), all queue pairs together */
	struct ratelimit_config rx_rate, tx_rate;
	/* vhost=: the queue pairs' rings on /dev/vhost-net (docs/vmm.md "vhost-net") */
	enum vm_net_vhost { VM_NET_VHOST_AUTO, VM_NET_VHOST_ON, VM_NET_VHOST_OFF } vhost;
	bool vhost_set; /* vhost= given: a restore's --net replaces the snapshot's choice */
};

/* A NIC hot-plugged before a snapshot: a restore builds it again in its slot (hotplug-net.h). */
struct vm_hotplug_net {
	const char *id;
	unsigned slot;
	struct vm_net_config net;
};

/*
 * --fs tag=TAG,socket=PATH[,queues=N][,queue-size=N]: a virtio-fs device whose requests a
 * vhost-user backend (virtiofsd) listening on PATH serves (docs/vmm.md "virtio-fs").
 */
#define VM_MAX_FS 8
#define VM_FS_TAG_MAX 36U /* struct virtio_fs_config's tag, not NUL-terminated when full */
#define VM_FS_MAX_QUEUES 16U
struct vm_fs_config {
	const char *tag;
	const char *socket;
	unsigned queues;     /* request queues, 1 to VM_FS_MAX_QUEUES (0: 1) */
	unsigned queue_size; /* a power of two up to 256 (0: 256) */
};

/* --balloon: a virtio-balloon device (Firecracker's knobs). */
#define VM_BALLOON_STATS_MAX_S 3600U
struct vm_balloon_config {
	bool enabled;
	uint32_t amount_mib;  /* the target at boot: MiB the guest is asked to give back */
	bool deflate_on_oom;  /* VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the guest may take pages back */
	unsigned stats_s;     /* statistics every stats_s seconds (0: no statistics queue) */
	bool free_page_reporting; /* VIRTIO_BALLOON_F_REPORTING: free pages are released */
};

/*
 * --memory-hotplug SIZE[,block=SIZE]: a virtio-mem device (docs/vmm.md "virtio-mem") whose
 * region of SIZE bytes of guest-physical address space sits above RAM; nothing of it is
 * plugged at boot.
 */
#define VM_MEM_HOTPLUG_BLOCK_DEFAULT (2ULL << 20)
#define VM_MEM_HOTPLUG_MAX (1ULL << 40)
struct vm_mem_hotplug_config {
	uint64_t size;       /* region bytes; 0: no virtio-mem device */
	uint64_t block_size; /* a power of two, 2 MiB to 1 GiB (0: the default) */
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
	char stop_detail[256];    /* why it stopped: "triple fault: vCPU 3: rip=...", "ACPI reset" */
};

const char *vm_exit_kind_name(enum vm_exit_kind k);

struct vm_config {
	const char *kernel;
	enum vm_kernel_kind kernel_kind;
	const char *initrd;
	const char *cmdline;
	unsigned cpus;
	uint64_t mem_size;
	const struct vm_disk_config *disks; /* n_disks of them (at most VM_MAX_DISKS) */
	size_t n_disks;
	const struct vm_net_config *nets; /* n_nets of them (at most VM_MAX_NICS) */
	size_t n_nets;
	enum vm_console console;
	bool rng;
	bool allow_pvm; /* run even when /dev/kvm has no hardware virtualisation under it */
	bool no_irqfd;	/* interrupts by KVM_SIGNAL_MSI even when KVM has irqfd (tests the fallback) */
	const char *api_sock;
	/*
	 * Seconds a guest asked to shut down (SIGTERM, the API's "shutdown") has to power off
	 * before hull stops it (VM_STOP_KILLED): 1 to VM_SHUTDOWN_TIMEOUT_MAX_S.
	 */
	unsigned shutdown_timeout_s;
	struct vm_stats *stats; /* NULL, or filled when the VM stops */
	/* --vsock CID|auto: a virtio-vsock device on /dev/vhost-vsock (vsock_cid unless auto) */
	bool vsock;
	bool vsock_auto;
	uint64_t vsock_cid; /* 3 to 0xfffffffe, checked in vmm_run */
	struct vm_balloon_config balloon;
	/* Confinement (seccomp.h, jail.h; docs/vmm.md "Confinement"). */
	unsigned seccomp_level;  /* 0 off, 1 syscall numbers, 2 (default) also their arguments */
	/* --hotplug: the main thread's filter lets NICs be hot-plugged (docs/vmm.md) */
	bool hotplug;
	/* a restore's hot-plugged NICs (its config.json's "hotplug_nets") */
	const struct vm_hotplug_net *hotplug_nets;
	size_t n_hotplug_nets;
	bool test_seccomp_probe; /* tests: make a forbidden syscall once the filters are in */
	const char *chroot;      /* NULL, or the jail's root directory */
	int64_t uid, gid;        /* -1, or the ids the VMM switches to before the vCPUs run */
	/* A snapshot directory (vmm_restore sets it): no kernel; RAM and state from there. */
	const char *restore_dir;
	bool start_paused; /* the vCPUs wait for the API's "resume" (restore --paused) */
	struct vm_mem_hotplug_config mem_hotplug;
	/*
	 * --incoming tcp:ADDR:PORT|unix:PATH: no kernel; wait for one live migration stream
	 * there (migrate.h), load it, then run the VM.
	 */
	const char *incoming;
	const struct vm_fs_config *fs; /* n_fs of them (at most VM_MAX_FS) */
	size_t n_fs;
};

/*
 * The defaults: 1 vCPU, 512 MiB, serial console, VM_SHUTDOWN_TIMEOUT_S. The CLI fills in the
 * flags' values (src/cli/vm-opts.c parses them) and vmm_run checks every value, once.
 */
void vm_config_init(struct vm_config *cfg);

/*
 * Validate cfg, build the VM, run it until the guest stops. Returns 0 with *ret_stop set
 * when the guest stopped by itself (power-off, reboot, panic) or was stopped through the API;
 * -errno with err set when the VM could not be built or failed while running.
 */
int vmm_run(const struct vm_config *cfg, enum vm_stop *ret_stop, struct hull_err *err);

/* The `hull vm run` exit status for a stop reason: power-off 0, reboot 3, panic 4, error 125. */
int vmm_stop_exit_code(enum vm_stop stop);
const char *vmm_stop_name(enum vm_stop stop);

/*
 * Restore the VM snapshotted in dir (snapshot.c: DIR/config.json, DIR/state, DIR/memory) in
 * this process and run it as vmm_run does. opts gives what is the new process's, not the
 * snapshot's: api_sock, allow_pvm, start_paused, stats. Every file is checked before the
 * vCPUs start; a bad one is an error naming it (-errno with err set), nothing started.
 */
int vmm_restore(const char *dir, const struct vm_config *opts, enum vm_stop *ret_stop,
		struct hull_err *err);

/*
 * Connect to a migration destination, "tcp:HOST:PORT" or "unix:PATH" (`hull vm migrate
 * --to`): the connected socket with send and receive timeouts of timeout_s, or -errno with
 * err naming spec (a bad form, a refused connection).
 */
int vmm_migrate_connect(const char *spec, unsigned timeout_s, struct hull_err *err);
