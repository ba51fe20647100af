#pragma once
/*
 * The virtio-pci transport, modern interface only (virtio 1.2, 4.1): vendor capabilities for
 * the common, notify, ISR and device configuration in BAR0, MSI-X for interrupts, and an
 * ioeventfd per queue so that a guest kick is handled by the event loop without stopping the
 * vCPU (falls back to the MMIO exit when the write is not a plain notify).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/pci.h"
#include "vmm/state.h"
#include "vmm/virtio/queue.h"

struct vm;
struct virtio_pci_dev;
struct evloop;

/*
 * Queues per device: the transport's arrays are this large; each device declares how many it
 * uses (num_queues, checked at init) and every guest-supplied queue index is checked against
 * that. 17 leaves room for a multiqueue virtio-net (8 rx/tx pairs and its control queue).
 * MSI-X: one vector per queue plus the config vector; msix_pending and msix_stale are 32-bit
 * masks.
 */
#define VIRTIO_MAX_QUEUES 17
_Static_assert(VIRTIO_MAX_QUEUES + 1 <= 32, "MSI-X vector masks are 32 bits");
#define VIRTIO_CONFIG_MAX 64
/*
 * Here the feature's mask; linux/virtio_config.h (which linux/vhost.h pulls in) names the bit
 * number. Its include guard, taken first, keeps it from redefining the mask later.
 */
#include <linux/virtio_config.h>
#undef VIRTIO_F_VERSION_1
#define VIRTIO_F_VERSION_1 (1ULL << 32)

/* Device status bits (2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

struct virtio_dev_ops {
	const char *name;
	uint16_t device_id; /* 5 Device Types: 2 block, 4 entropy */
	uint32_t class_code;
	uint64_t features;  /* VIRTIO_F_VERSION_1 is added */
	uint16_t num_queues;
	uint16_t queue_max;
	/*
	 * Queues (bit q) whose kicks are served in the vCPU thread on the MMIO exit instead of
	 * through an ioeventfd: for queues whose driver spins until the device answers, where
	 * a wake-up of the event loop thread only adds latency.
	 */
	uint32_t sync_kick_queues;
	/*
	 * Serve this device's kicks on its own I/O thread (its own epoll loop) instead of the
	 * VM's event loop, so that slow I/O (a disk) never delays the console or the API.
	 */
	bool io_thread;
	/*
	 * Queues (bit q) whose rings an in-kernel vhost worker serves (vhost.h): their kick
	 * eventfds (the ioeventfds) are the worker's and no loop watches them; a kick that
	 * arrives as an MMIO exit is written to the fd; queue_notify never sees them.
	 */
	uint32_t vhost_queues;
	/* DRIVER_OK was set: start the backend. Lock held. 0, or -errno: DEVICE_NEEDS_RESET. */
	int (*activate)(struct virtio_pci_dev *v);
	/* Stop it, each queue's indices back in v->st.vq (reset, save). Lock held. */
	void (*deactivate)(struct virtio_pci_dev *v);
	/* While active: the MSI-X table, its enable/mask bits or a queue's vector changed. */
	void (*msix_changed)(struct virtio_pci_dev *v);
	/* A queue was kicked: process it. Called with v->lock held. */
	void (*queue_notify)(struct virtio_pci_dev *v, unsigned q);
	void (*reset)(struct virtio_pci_dev *v);
	void (*free)(struct virtio_pci_dev *v);
	/*
	 * Optional: the driver wrote len bytes (val, host order) at off in the device
	 * configuration (off + len <= config_len, checked). Called with v->lock held. Without it
	 * the configuration is read-only.
	 */
	void (*config_write)(struct virtio_pci_dev *v, uint32_t off, uint64_t val, uint32_t len);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

/*
 * Everything the guest can see of a virtio-pci device: the common configuration, the
 * queues' addresses, sizes and indices, the feature bits, the device configuration space and
 * the MSI-X table. Saved and loaded as a whole (virtio_pci_save/load); the host resources
 * (lock, eventfds, irqfds) stay in struct virtio_pci_dev.
 */
struct virtio_pci_state {
	uint8_t config[VIRTIO_CONFIG_MAX]; /* device-specific configuration, little-endian */
	uint32_t config_len;

	uint32_t dev_feature_sel, drv_feature_sel;
	uint64_t driver_features;
	uint8_t status;
	uint8_t config_gen;
	uint8_t isr;
	uint16_t msix_config;
	uint16_t queue_sel;
	struct virtq vq[VIRTIO_MAX_QUEUES]; /* all guest state but vq.mem, a host pointer */
	struct msix_entry msix[VIRTIO_MAX_QUEUES + 1];
	uint32_t msix_pending;
	uint16_t msix_ctrl; /* MSI-X message control: enable and function-mask bits */
};

struct virtio_pci_dev {
	struct pci_dev pci; /* first: pci callbacks cast back */
	struct vm *vm;
	const struct guest_mem *mem;
	const struct virtio_dev_ops *ops;
	void *priv;
	pthread_mutex_t lock;

	struct virtio_pci_state st;
	uint64_t features; /* offered: ops->features, narrowed by the device (vhost) after init */
	bool active;       /* ops->activate succeeded and no deactivate since */
	/*
	 * Saved and not thawed yet (virtio_pci_thaw): the backend stays stopped and kicks wait,
	 * so that guest RAM does not move while the snapshot's memory is written after the state.
	 */
	bool frozen;
	/* Per vector: an irqfd and its GSI (irq.h), or -1 to use KVM_SIGNAL_MSI. */
	int msix_fd[VIRTIO_MAX_QUEUES + 1];
	uint32_t msix_gsi[VIRTIO_MAX_QUEUES + 1];
	uint32_t msix_stale; /* vectors whose message changed since their route was set */

	/* The I/O thread (ops->io_thread, with a VM): its loop, stop flag and wake-up eventfd. */
	struct evloop *io_loop;
	pthread_t io_tid;
	bool io_started;
	atomic_int io_stop;
	int io_wake_fd;

	int kick_fd[VIRTIO_MAX_QUEUES];
	struct virtio_kick {
		struct virtio_pci_dev *v;
		unsigned q;
	} kick[VIRTIO_MAX_QUEUES]; /* event-loop context of each kick fd */
	uint64_t kick_addr; /* notify area address the ioeventfds are registered at */
	bool kick_registered;
};

/*
 * Set up v (allocated by the caller, zeroed) for ops and add it to the VM's PCI bus; its
 * ioeventfds go on the event loop. vm may be NULL in unit tests (no bus, no KVM).
 */
int virtio_pci_init(struct virtio_pci_dev *v, struct vm *vm, const struct guest_mem *mem,
		    const struct virtio_dev_ops *ops, struct hull_err *err);
void virtio_pci_release(struct virtio_pci_dev *v);

/* Device reset, as when the driver writes status 0 (takes v->lock). */
void virtio_pci_reset(struct virtio_pci_dev *v);

/* Used-buffer notification for queue q (MSI-X). Called with v->lock held. */
void virtio_pci_notify(struct virtio_pci_dev *v, unsigned q);
/*
 * The irqfd of MSI-X vector vec when an interrupt on it may be injected by a bare eventfd
 * write from outside hull (a vhost worker): MSI-X enabled, neither the function nor the
 * vector masked, and its route up to date (set now if its message changed). Else -1: the
 * caller then goes through virtio_pci_notify, which holds a masked vector pending. Lock held.
 */
int virtio_pci_vector_irqfd(struct virtio_pci_dev *v, uint16_t vec);
/*
 * The device changed its configuration (a disk's capacity, a balloon's target): bump
 * config_generation and send the configuration-change interrupt (4.1.4.3, 4.1.5.3). Called
 * with v->lock held.
 */
void virtio_pci_config_changed(struct virtio_pci_dev *v);
/* The guest broke the rules on a queue: DEVICE_NEEDS_RESET and a config interrupt. */
void virtio_pci_device_error(struct virtio_pci_dev *v);

/*
 * Save the guest-visible state (struct virtio_pci_state) to w, or load it from r: the load
 * checks every value (the device's config size, queue and vector counts must match; enabled
 * queues must pass virtq_enable) and changes nothing unless all of it is valid (-EBADMSG).
 */
void virtio_pci_save(struct virtio_pci_dev *v, struct state_writer *w);
int virtio_pci_load(struct virtio_pci_dev *v, struct state_reader *r);
/*
 * The save leaves the device frozen: its backend stopped (a vhost worker's indices are the
 * saved ones) and its queues not served, so that nothing writes guest RAM until the caller
 * has written the memory that goes with the state. Thaw restarts the backend and serves every
 * ready queue once (a kick that came meanwhile). No-op on a device that is not frozen.
 */
void virtio_pci_thaw(struct virtio_pci_dev *v);

/* BAR0 access, exposed for unit tests. */
void virtio_pci_bar_io(struct pci_dev *d, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write);

/* BAR0 layout */
#define VIRTIO_BAR_COMMON 0x0000
#define VIRTIO_BAR_ISR 0x1000
#define VIRTIO_BAR_DEVICE 0x2000
#define VIRTIO_BAR_NOTIFY 0x3000
#define VIRTIO_NOTIFY_MULT 4
#define VIRTIO_BAR_MSIX 0x4000
#define VIRTIO_BAR_PBA 0x5000
#define VIRTIO_BAR_SIZE 0x8000
