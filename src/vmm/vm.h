#pragma once
/*
 * The VM object shared by the VMM's modules (not part of the public API: see vmm.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/bus.h"
#include "vmm/irq.h"
#include "vmm/memory.h"
#include "vmm/vmm.h"

struct vcpu;
struct serial;
struct rtc;
struct i8042;
struct pci_bus;
struct pcihp;
struct vm_hotplug;
struct evloop;
struct api_server;
struct virtio_pci_dev;
struct disk;
struct vm_device;
struct virtio_net_backend;

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	struct irq_routing irq; /* GSI routes and MSI irqfds (irq.h) */

	unsigned ncpus;
	struct vcpu *vcpus;

	/* Pause/stop protocol: guarded by lock; vCPU threads wait on cond while paused. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool paused;
	unsigned n_parked;  /* vCPU threads parked because of pause */
	atomic_int stop;    /* enum vm_stop, first writer wins */
	int stop_efd;       /* eventfd: wakes the event loop when stop is set */
	int sig_fd;         /* signalfd for SIGTERM (graceful shutdown) */
	int shutdown_tfd;   /* timerfd: the shutdown request's deadline */
	bool shutdown_requested; /* event loop thread only */
	char stop_detail[256];

	struct evloop *loop;
	struct serial *serial;
	struct rtc *rtc;
	struct i8042 *kbd;
	struct pci_bus *pci;
	struct pcihp *pcihp;     /* the PCI hot-plug controller (hotplug.h), or NULL */
	struct vm_hotplug *hotplug; /* hot-plugged NICs (hotplug-net.c), or NULL */
	struct disk **disks; /* cfg->n_disks: opened by vm_prepare, then owned by their devices */
	struct vm_device *devs; /* created in the order of the device table (devices.h) */
	unsigned n_devs;
	struct virtio_pci_dev *vcon; /* the virtio console (also in devs), or NULL */
	/* cfg->n_nets tap backends: opened by vm_prepare, then owned by their devices */
	struct virtio_net_backend *net_be;
	struct virtio_pci_dev *nics[VM_MAX_NICS]; /* the virtio-net devices (also in devs) */
	struct api_server *api;
	struct snapshot_chain *snap_chain; /* after a full snapshot: its dirty log (snapshot.h) */
	int vsock_fd;       /* /dev/vhost-vsock with the CID set (vm_prepare), until the device */
	uint32_t vsock_cid; /* the guest's CID (0: no vsock) */
	/* --fs: each backend's socket, connected by vm_prepare (the first fs_open), until the
	 * device takes it (-1 then) */
	int fs_sock[VM_MAX_FS];
	unsigned fs_open;

	/* Counters for vm_config.stats (relaxed atomics: several threads add to them). */
	atomic_uint_fast64_t n_msi_irqfd, n_msi_ioctl;
	atomic_uint_fast64_t first_output_ns; /* CLOCK_MONOTONIC of the first serial byte */

	uint64_t load_ns;      /* time arch_load took (stats) */
	uint64_t kernel_entry; /* filled by the loader */
	uint64_t boot_params;  /* zero page (bzImage) or start_info (PVH) */
	int boot_mode;         /* enum boot_mode (x86/boot.h) */
};

/* Record why the VM stops (the first reason wins) and kick every vCPU out of KVM_RUN. */
void vm_request_stop(struct vm *vm, enum vm_stop why, const char *detail);
/*
 * Ask the guest to shut down (event loop thread): press Ctrl-Alt-Del on the i8042 and arm the
 * deadline after which the VM is stopped as VM_STOP_KILLED. A second request while one is
 * pending presses the keys again. Returns 0 or -errno (timerfd).
 */
int vm_request_shutdown(struct vm *vm);
/* Pause or resume every vCPU; returns once all are parked (pause) or released. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

struct ratelimit_config;
/*
 * Change the rate limits of disk number drive (0 for the first --disk) at run time (the API:
 * {"op":"rate-limit"}, PATCH /drives/ID). 0, or -errno with err set: no such disk, a value out
 * of range. Any thread.
 */
/* Replace NIC nic's rate limits (--net order; NULL: that direction unchanged): 0, or -errno
 * with err (no such NIC, a value out of range). */
int vm_net_rate_limit(struct vm *vm, unsigned nic, const struct ratelimit_config *rx,
		      const struct ratelimit_config *tx, struct hull_err *err);
int vm_disk_rate_limit(struct vm *vm, unsigned drive, const struct ratelimit_config *c,
		       struct hull_err *err);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t vm_now_ns(void);

/* Level of an ISA interrupt line on the in-kernel PIC/IOAPIC; -errno. */
int vm_irq_line(struct vm *vm, uint32_t irq, bool level);
/* Inject an MSI (from a device's MSI-X table); -errno. */
int vm_signal_msi(struct vm *vm, uint64_t addr, uint32_t data);
