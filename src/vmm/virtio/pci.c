#include "vmm/virtio/pci.h"

#include <endian.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/irq.h"
#include "vmm/loop.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

#define PCI_VENDOR_VIRTIO 0x1af4
#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR 3
#define VIRTIO_PCI_CAP_DEVICE 4
#define MSIX_CAP_OFF 0x84
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_NO_VECTOR 0xffff

static uint64_t ldn(const uint8_t *p, uint32_t len)
{
	uint64_t v = 0;

	memcpy(&v, p, len > 8 ? 8 : len);
	return le64toh(v);
}

static void stn(uint8_t *p, uint32_t len, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, len > 8 ? 8 : len);
}

static uint16_t msix_ctrl(const struct virtio_pci_dev *v)
{
	return v->st.msix_ctrl;
}

static unsigned msix_count(const struct virtio_pci_dev *v)
{
	return v->ops->num_queues + 1U;
}

/* Deliver vector vec, or leave it pending while masked (PCI 3.0 6.8.2). Lock held. */
static void msix_fire(struct virtio_pci_dev *v, uint16_t vec)
{
	uint16_t ctrl = msix_ctrl(v);
	const struct msix_entry *e;
	uint64_t addr;

	if (vec >= msix_count(v) || !(ctrl & MSIX_CTRL_ENABLE))
		return;
	e = &v->st.msix[vec];
	if ((ctrl & MSIX_CTRL_MASKALL) || (e->ctrl & 1)) {
		v->st.msix_pending |= 1U << vec;
		return;
	}
	v->st.msix_pending &= ~(1U << vec);
	if (!v->vm)
		return;
	addr = ((uint64_t)e->addr_hi << 32) | e->addr_lo;
	if (v->msix_fd[vec] >= 0) {
		/* A changed message is routed once, then each interrupt is an eventfd write. */
		if (!(v->msix_stale & (1U << vec)) ||
		    irq_msi_vector_route(&v->vm->irq, v->vm->vm_fd, v->msix_gsi[vec], addr,
					 e->data) == 0) {
			v->msix_stale &= ~(1U << vec);
			if (irq_msi_vector_fire(v->msix_fd[vec]) == 0) {
				atomic_fetch_add_explicit(&v->vm->n_msi_irqfd, 1,
							  memory_order_relaxed);
				return;
			}
		}
	}
	atomic_fetch_add_explicit(&v->vm->n_msi_ioctl, 1, memory_order_relaxed);
	(void)vm_signal_msi(v->vm, addr, e->data);
}

int virtio_pci_vector_irqfd(struct virtio_pci_dev *v, uint16_t vec)
{
	uint16_t ctrl = msix_ctrl(v);
	const struct msix_entry *e;

	if (vec >= msix_count(v) || !v->vm || v->msix_fd[vec] < 0 || !(ctrl & MSIX_CTRL_ENABLE) ||
	    (ctrl & MSIX_CTRL_MASKALL) || (v->st.msix[vec].ctrl & 1))
		return -1;
	e = &v->st.msix[vec];
	if (v->msix_stale & (1U << vec)) {
		if (irq_msi_vector_route(&v->vm->irq, v->vm->vm_fd, v->msix_gsi[vec],
					 ((uint64_t)e->addr_hi << 32) | e->addr_lo, e->data) < 0)
			return -1;
		v->msix_stale &= ~(1U << vec);
	}
	return v->msix_fd[vec];
}

/* A vhost backend's call fds follow the vectors (lock held). */
static void msix_changed(struct virtio_pci_dev *v)
{
	if (v->active && v->ops->msix_changed)
		v->ops->msix_changed(v);
}

static void msix_flush_pending(struct virtio_pci_dev *v)
{
	for (uint16_t i = 0; i < msix_count(v); i++)
		if (v->st.msix_pending & (1U << i))
			msix_fire(v, i);
}

void virtio_pci_notify(struct virtio_pci_dev *v, unsigned q)
{
	if (!virtq_need_notify(&v->st.vq[q]))
		return; /* the driver's used_event asks for no interrupt yet (EVENT_IDX) */
	v->st.isr |= 1;
	msix_fire(v, v->st.vq[q].msix_vector);
}

void virtio_pci_config_changed(struct virtio_pci_dev *v)
{
	v->st.config_gen++;
	/* Before DRIVER_OK the driver reads the configuration anyway: no interrupt then. */
	if (!(v->st.status & VIRTIO_STATUS_DRIVER_OK))
		return;
	v->st.isr |= 2;
	msix_fire(v, v->st.msix_config);
}

void virtio_pci_device_error(struct virtio_pci_dev *v)
{
	if (v->st.status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	v->st.status |= VIRTIO_STATUS_NEEDS_RESET;
	v->st.isr |= 2;
	msix_fire(v, v->st.msix_config);
}

static void virtio_deactivate(struct virtio_pci_dev *v)
{
	if (v->active && v->ops->deactivate)
		v->ops->deactivate(v);
	v->active = false;
}

/* Each queue follows the driver's EVENT_IDX, but a vhost worker's: the kernel does that. */
static void virtio_sync_event_idx(struct virtio_pci_dev *v)
{
	bool on = (v->st.status & VIRTIO_STATUS_FEATURES_OK) &&
		  (v->st.driver_features & VIRTQ_F_EVENT_IDX);

	for (unsigned q = 0; q < v->ops->num_queues; q++) {
		v->st.vq[q].event_idx = on && !(v->ops->vhost_queues & (1U << q));
		v->st.vq[q].signalled_valid = false;
		/* indirect tables: followed by virtq_pop once accepted (queue.h) */
		v->st.vq[q].indirect = (v->st.status & VIRTIO_STATUS_FEATURES_OK) &&
				       (v->st.driver_features & VIRTQ_F_INDIRECT_DESC);
	}
}

static void virtio_activate(struct virtio_pci_dev *v)
{
	if (v->active || !v->ops->activate)
		return;
	/* 3.1.1: no backend runs on features the driver never settled (FEATURES_OK). */
	if (!(v->st.status & VIRTIO_STATUS_FEATURES_OK) || v->ops->activate(v) < 0)
		virtio_pci_device_error(v);
	else
		v->active = true;
}

static void virtio_reset(struct virtio_pci_dev *v)
{
	virtio_deactivate(v); /* the backend gives the rings back before they are forgotten */
	for (unsigned i = 0; i < v->ops->num_queues; i++)
		virtq_reset(&v->st.vq[i], v->mem, v->ops->queue_max);
	v->st.status = 0;
	v->st.driver_features = 0;
	v->st.dev_feature_sel = v->st.drv_feature_sel = 0;
	v->st.isr = 0;
	v->st.msix_config = MSIX_NO_VECTOR;
	v->st.queue_sel = 0;
	if (v->ops->reset)
		v->ops->reset(v);
}

void virtio_pci_reset(struct virtio_pci_dev *v)
{
	pthread_mutex_lock(&v->lock);
	virtio_reset(v);
	pthread_mutex_unlock(&v->lock);
}

static uint64_t dev_features(const struct virtio_pci_dev *v)
{
	return v->features | VIRTIO_F_VERSION_1;
}

static void status_write(struct virtio_pci_dev *v, uint8_t s)
{
	bool to_driver_ok = (s & VIRTIO_STATUS_DRIVER_OK) &&
			    !(v->st.status & VIRTIO_STATUS_DRIVER_OK);

	if (s == 0) {
		virtio_reset(v);
		return;
	}
	/* 3.1.1: FEATURES_OK sticks only if the device accepts the driver's subset. */
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(v->st.status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((v->st.driver_features & ~dev_features(v)) || !(v->st.driver_features & VIRTIO_F_VERSION_1)))
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	v->st.status = (uint8_t)(s | (v->st.status & VIRTIO_STATUS_NEEDS_RESET));
	if (to_driver_ok)
		virtio_sync_event_idx(v);
	if ((s & VIRTIO_STATUS_DRIVER_OK) && !(v->st.status & VIRTIO_STATUS_NEEDS_RESET))
		virtio_activate(v);
}

/* struct virtio_pci_common_cfg (4.1.4.3) */
static uint64_t common_read(struct virtio_pci_dev *v, uint64_t off, uint32_t len)
{
	struct virtq *q = v->st.queue_sel < v->ops->num_queues ? &v->st.vq[v->st.queue_sel] : NULL;
	uint64_t f = dev_features(v);

	switch (off) {
	case 0x00: return v->st.dev_feature_sel;
	case 0x04: return v->st.dev_feature_sel < 2 ? (uint32_t)(f >> (32 * v->st.dev_feature_sel)) : 0;
	case 0x08: return v->st.drv_feature_sel;
	case 0x0c:
		return v->st.drv_feature_sel < 2 ?
			       (uint32_t)(v->st.driver_features >> (32 * v->st.drv_feature_sel)) : 0;
	case 0x10: return v->st.msix_config;
	case 0x12: return v->ops->num_queues;
	case 0x14: return v->st.status;
	case 0x15: return v->st.config_gen;
	case 0x16: return v->st.queue_sel;
	case 0x18: return q ? q->size : 0;
	case 0x1a: return q ? q->msix_vector : MSIX_NO_VECTOR;
	case 0x1c: return q ? q->ready : 0;
	case 0x1e: return v->st.queue_sel; /* queue_notify_off: one slot per queue */
	case 0x20: return q ? (len == 8 ? q->desc_gpa : (uint32_t)q->desc_gpa) : 0;
	case 0x24: return q ? q->desc_gpa >> 32 : 0;
	case 0x28: return q ? (len == 8 ? q->avail_gpa : (uint32_t)q->avail_gpa) : 0;
	case 0x2c: return q ? q->avail_gpa >> 32 : 0;
	case 0x30: return q ? (len == 8 ? q->used_gpa : (uint32_t)q->used_gpa) : 0;
	case 0x34: return q ? q->used_gpa >> 32 : 0;
	default: return 0;
	}
}

static void set_half(uint64_t *dst, uint64_t off_in_field, uint32_t len, uint64_t val)
{
	if (len == 8)
		*dst = val;
	else if (off_in_field == 0)
		*dst = (*dst & 0xffffffff00000000ULL) | (uint32_t)val;
	else
		*dst = (*dst & 0xffffffffULL) | ((uint64_t)(uint32_t)val << 32);
}

static void common_write(struct virtio_pci_dev *v, uint64_t off, uint32_t len, uint64_t val)
{
	struct virtq *q = v->st.queue_sel < v->ops->num_queues ? &v->st.vq[v->st.queue_sel] : NULL;
	/* Ring addresses and size may change only while the queue is disabled (4.1.4.3.2). */
	struct virtq *qw = q && !q->ready ? q : NULL;

	switch (off) {
	case 0x00: v->st.dev_feature_sel = (uint32_t)val; break;
	case 0x08: v->st.drv_feature_sel = (uint32_t)val; break;
	case 0x0c:
		if (v->st.drv_feature_sel < 2 && !(v->st.status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&v->st.driver_features, v->st.drv_feature_sel * 4, 4, val);
		break;
	case 0x10: v->st.msix_config = (uint16_t)val; break;
	case 0x14: status_write(v, (uint8_t)val); break;
	case 0x16: v->st.queue_sel = (uint16_t)val; break;
	case 0x18:
		if (qw)
			qw->size = (uint16_t)val; /* checked when enabled */
		break;
	case 0x1a:
		if (q) {
			q->msix_vector = (uint16_t)val;
			msix_changed(v);
		}
		break;
	case 0x1c:
		if (qw && val == 1 && virtq_enable(qw) < 0)
			virtio_pci_device_error(v);
		break;
	case 0x20: case 0x24:
		if (qw)
			set_half(&qw->desc_gpa, off - 0x20, len, val);
		break;
	case 0x28: case 0x2c:
		if (qw)
			set_half(&qw->avail_gpa, off - 0x28, len, val);
		break;
	case 0x30: case 0x34:
		if (qw)
			set_half(&qw->used_gpa, off - 0x30, len, val);
		break;
	default:
		break; /* read-only or unknown: ignored */
	}
}

static void queue_kick(struct virtio_pci_dev *v, unsigned q)
{
	uint64_t one = 1;

	if (q >= v->ops->num_queues || !v->st.vq[q].ready || v->st.vq[q].broken ||
	    !(v->st.status & VIRTIO_STATUS_DRIVER_OK) || v->frozen)
		return; /* frozen: virtio_pci_thaw kicks every ready queue */
	if (v->ops->vhost_queues & (1U << q)) {
		/* The worker's ring: a kick that came as an MMIO exit goes to its eventfd. */
		if (v->active && v->kick_fd[q] >= 0)
			(void)!write(v->kick_fd[q], &one, sizeof(one));
		return;
	}
	v->ops->queue_notify(v, q);
}

static void msix_table_io(struct virtio_pci_dev *v, uint64_t off, uint8_t *data, uint32_t len,
			  bool is_write)
{
	uint64_t idx = off / 16, field = (off % 16) / 4;
	uint32_t *f;

	if (idx >= msix_count(v) || len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	f = &v->st.msix[idx].addr_lo + field;
	if (!is_write) {
		stn(data, 4, *f);
		return;
	}
	*f = (uint32_t)ldn(data, 4);
	if (field < 3)
		v->msix_stale |= 1U << idx;
	if (field == 3)
		msix_flush_pending(v); /* an unmask delivers what was held back */
	msix_changed(v);
}

void virtio_pci_bar_io(struct pci_dev *d, uint64_t off, uint8_t *data, uint32_t len,
		       bool is_write)
{
	struct virtio_pci_dev *v = (struct virtio_pci_dev *)d;
	uint64_t val = is_write ? ldn(data, len) : 0;

	pthread_mutex_lock(&v->lock);
	if (off < VIRTIO_BAR_ISR) {
		if (is_write)
			common_write(v, off, len, val);
		else
			val = common_read(v, off, len);
	} else if (off < VIRTIO_BAR_DEVICE) {
		if (!is_write && off == VIRTIO_BAR_ISR) {
			val = v->st.isr; /* reading ISR clears it (4.1.4.5) */
			v->st.isr = 0;
		}
	} else if (off < VIRTIO_BAR_NOTIFY) {
		uint64_t o = off - VIRTIO_BAR_DEVICE;

		/* Read-only unless the device takes writes (blk's writeback toggle is not offered). */
		if (o < v->st.config_len && len <= v->st.config_len - o) {
			if (!is_write)
				val = ldn(v->st.config + o, len);
			else if (v->ops->config_write)
				v->ops->config_write(v, (uint32_t)o, val, len);
		}
	} else if (off < VIRTIO_BAR_MSIX) {
		if (is_write)
			queue_kick(v, (unsigned)((off - VIRTIO_BAR_NOTIFY) / VIRTIO_NOTIFY_MULT));
	} else if (off < VIRTIO_BAR_PBA) {
		msix_table_io(v, off - VIRTIO_BAR_MSIX, data, len, is_write);
		pthread_mutex_unlock(&v->lock);
		return;
	} else if (off == VIRTIO_BAR_PBA && !is_write) {
		val = v->st.msix_pending;
	}
	if (!is_write)
		stn(data, len, val);
	pthread_mutex_unlock(&v->lock);
}

/* One vendor capability (4.1.4): type, BAR0 offset and length; returns its size. */
static uint8_t vcap(uint8_t *c, uint8_t next, uint8_t type, uint32_t off, uint32_t len)
{
	uint8_t size = type == VIRTIO_PCI_CAP_NOTIFY ? 20 : 16;

	memset(c, 0, size);
	c[0] = 0x09; /* vendor-specific */
	c[1] = next;
	c[2] = size;
	c[3] = type;
	c[4] = 0; /* BAR0 */
	stn(c + 8, 4, off);
	stn(c + 12, 4, len);
	if (type == VIRTIO_PCI_CAP_NOTIFY)
		stn(c + 16, 4, VIRTIO_NOTIFY_MULT);
	return size;
}

/* Write the read-only part of config space: header, virtio capabilities, MSI-X. */
static void virtio_pci_caps(struct virtio_pci_dev *v)
{
	uint8_t *c = v->pci.cfg;
	uint16_t ctrl = (uint16_t)((v->st.msix_ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL)) |
				   (msix_count(v) - 1));

	vcap(c + 0x40, 0x50, VIRTIO_PCI_CAP_COMMON, VIRTIO_BAR_COMMON, 0x38);
	vcap(c + 0x50, 0x64, VIRTIO_PCI_CAP_NOTIFY, VIRTIO_BAR_NOTIFY,
	     VIRTIO_NOTIFY_MULT * v->ops->num_queues);
	/* A device without configuration (rng) has no device capability: Linux rejects len 0. */
	vcap(c + 0x64, v->st.config_len ? 0x74 : MSIX_CAP_OFF, VIRTIO_PCI_CAP_ISR, VIRTIO_BAR_ISR, 4);
	if (v->st.config_len)
		vcap(c + 0x74, MSIX_CAP_OFF, VIRTIO_PCI_CAP_DEVICE, VIRTIO_BAR_DEVICE,
		     v->st.config_len);
	c[MSIX_CAP_OFF] = 0x11;
	c[MSIX_CAP_OFF + 1] = 0;
	stn(c + MSIX_CAP_OFF + 2, 2, ctrl);
	stn(c + MSIX_CAP_OFF + 4, 4, VIRTIO_BAR_MSIX); /* BIR 0 */
	stn(c + MSIX_CAP_OFF + 8, 4, VIRTIO_BAR_PBA);
}

/* Called by the PCI bus after a config write above the header (bus lock held). */
static void virtio_cfg_written(struct pci_dev *d, uint32_t off, uint32_t len)
{
	struct virtio_pci_dev *v = (struct virtio_pci_dev *)d;
	uint16_t ctrl = (uint16_t)ldn(d->cfg + MSIX_CAP_OFF + 2, 2);

	pthread_mutex_lock(&v->lock);
	/* Only MSI-X enable and function mask are writable: rebuild the rest. */
	v->st.msix_ctrl = ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	memset(d->cfg + 0x40, 0, PCI_CFG_SIZE - 0x40);
	virtio_pci_caps(v);
	msix_flush_pending(v);
	msix_changed(v);
	pthread_mutex_unlock(&v->lock);
}

/* (De)register the per-queue ioeventfds at the notify area (bus lock held). */
static void virtio_bar_moved(struct pci_dev *d, uint64_t addr, bool enabled)
{
	struct virtio_pci_dev *v = (struct virtio_pci_dev *)d;

	if (!v->vm)
		return;
	for (unsigned q = 0; q < v->ops->num_queues; q++) {
		struct kvm_ioeventfd io = { .len = 2, .fd = v->kick_fd[q] };

		if (v->kick_fd[q] < 0)
			continue;
		if (v->kick_registered) {
			io.addr = v->kick_addr + VIRTIO_BAR_NOTIFY + q * VIRTIO_NOTIFY_MULT;
			io.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
			(void)ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &io);
		}
		if (enabled) {
			io.addr = addr + VIRTIO_BAR_NOTIFY + q * VIRTIO_NOTIFY_MULT;
			io.flags = 0;
			/* On failure the kick still arrives as an MMIO exit. */
			(void)ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &io);
		}
	}
	v->kick_registered = enabled;
	v->kick_addr = addr;
}

static void virtio_on_kick(void *opaque, int fd, uint32_t events)
{
	struct virtio_kick *k = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&k->v->lock);
	queue_kick(k->v, k->q);
	pthread_mutex_unlock(&k->v->lock);
}

static void *virtio_io_thread(void *opaque)
{
	struct virtio_pci_dev *v = opaque;

	/* before serving the guest: the I/O thread's own filter (seccomp.c) */
	if (vmm_seccomp_install(v->vm->cfg, VMM_THREAD_IO) < 0) {
		vm_request_stop(v->vm, VM_STOP_ERROR, "virtio I/O thread: seccomp filter failed");
		return NULL;
	}
	if (evloop_run(v->io_loop, &v->io_stop) < 0)
		vm_request_stop(v->vm, VM_STOP_ERROR, "virtio I/O thread: epoll failed");
	return NULL;
}

static void virtio_on_io_wake(void *opaque, int fd, uint32_t events)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
}

/* The device's own loop and its wake-up eventfd; the thread starts once the kicks are on it. */
static int virtio_io_loop_new(struct virtio_pci_dev *v, struct hull_err *err)
{
	int r;

	v->io_loop = evloop_new();
	v->io_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!v->io_loop || v->io_wake_fd < 0)
		return hull_err_set(err, errno, "%s: I/O thread loop", v->ops->name);
	r = evloop_add(v->io_loop, v->io_wake_fd, EPOLLIN, virtio_on_io_wake, v);
	if (r < 0)
		return hull_err_set(err, -r, "%s: I/O thread loop", v->ops->name);
	return 0;
}

static int virtio_io_thread_start(struct virtio_pci_dev *v, struct hull_err *err)
{
	int r = pthread_create(&v->io_tid, NULL, virtio_io_thread, v);

	if (r)
		return hull_err_set(err, r, "%s: starting its I/O thread", v->ops->name);
	v->io_started = true;
	return 0;
}

static struct evloop *kick_loop(const struct virtio_pci_dev *v)
{
	return v->io_loop ? v->io_loop : (v->vm ? v->vm->loop : NULL);
}

int virtio_pci_init(struct virtio_pci_dev *v, struct vm *vm, const struct guest_mem *mem,
		    const struct virtio_dev_ops *ops, struct hull_err *err)
{
	uint8_t *c = v->pci.cfg;
	int r;

	v->vm = vm;
	v->mem = mem;
	v->ops = ops;
	v->features = ops->features;
	v->io_wake_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		v->kick_fd[q] = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES + 1; i++)
		v->msix_fd[i] = -1;
	pthread_mutex_init(&v->lock, NULL);
	/* The device's own table sizes: within the transport's arrays and the ring limits. */
	if (ops->num_queues == 0 || ops->num_queues > VIRTIO_MAX_QUEUES || ops->queue_max == 0 ||
	    ops->queue_max > VIRTQ_MAX_SIZE || (ops->queue_max & (ops->queue_max - 1)))
		return hull_err_setx(err, EINVAL, "%s: %u queues of %u: at most %u queues of %u",
				     ops->name, ops->num_queues, ops->queue_max, VIRTIO_MAX_QUEUES,
				     VIRTQ_MAX_SIZE);
	v->msix_stale = ~0U;
	virtio_reset(v);
	stn(c + 0x00, 2, PCI_VENDOR_VIRTIO);
	stn(c + 0x02, 2, 0x1040U + ops->device_id); /* modern-only device id (4.1.2) */
	stn(c + 0x06, 2, 0x10);                     /* status: capability list */
	c[0x08] = 1;                                /* revision 1: non-transitional */
	stn(c + 0x09, 3, ops->class_code);
	stn(c + 0x2c, 2, PCI_VENDOR_VIRTIO);
	stn(c + 0x2e, 2, 0x40);
	c[0x34] = 0x40; /* capabilities pointer */
	c[0x3d] = 0;    /* no INTx pin: MSI-X only */
	virtio_pci_caps(v);
	v->pci.bar_size = VIRTIO_BAR_SIZE;
	v->pci.bar_io = virtio_pci_bar_io;
	v->pci.bar_moved = virtio_bar_moved;
	v->pci.cfg_written = virtio_cfg_written;
	if (!vm)
		return 0;
	/* An irqfd per MSI-X vector when KVM can; else (or on failure) KVM_SIGNAL_MSI. */
	for (unsigned i = 0; vm->irq.enabled && i < msix_count(v); i++) {
		r = irq_msi_vector_new(&vm->irq, vm->vm_fd, &v->msix_gsi[i]);
		if (r < 0) {
			log_debug("%s: irqfd for MSI-X vector %u: %s: KVM_SIGNAL_MSI", ops->name, i,
				  strerror(-r));
			break;
		}
		v->msix_fd[i] = r;
	}
	if (ops->io_thread) {
		r = virtio_io_loop_new(v, err);
		if (r < 0)
			return r;
	}
	for (unsigned q = 0; q < ops->num_queues; q++) {
		struct virtio_kick *k = &v->kick[q];

		if (ops->sync_kick_queues & (1U << q))
			continue;
		v->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->kick_fd[q] < 0)
			return hull_err_set(err, errno, "%s: eventfd", ops->name);
		k->v = v;
		k->q = q;
		if (ops->vhost_queues & (1U << q))
			continue; /* the vhost worker reads it */
		r = evloop_add(kick_loop(v), v->kick_fd[q], EPOLLIN, virtio_on_kick, k);
		if (r < 0)
			return hull_err_set(err, -r, "%s: event loop", ops->name);
	}
	if (v->io_loop) {
		r = virtio_io_thread_start(v, err);
		if (r < 0)
			return r;
	}
	r = pci_bus_add(vm->pci, &v->pci);
	if (r < 0)
		return hull_err_set(err, -r, "%s: adding to the PCI bus", ops->name);
	return 0;
}

void virtio_pci_release(struct virtio_pci_dev *v)
{
	uint64_t one = 1;

	/* The I/O thread first: it may be serving a queue (it finishes that request). */
	if (v->io_started) {
		atomic_store(&v->io_stop, 1);
		(void)!write(v->io_wake_fd, &one, sizeof(one));
		(void)pthread_join(v->io_tid, NULL);
		v->io_started = false;
	}
	/* KVM keeps an ioeventfd past its fd's close: a hot-unplugged device's BAR must not */
	if (v->kick_registered)
		virtio_bar_moved(&v->pci, v->kick_addr, false);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (v->kick_fd[q] >= 0) {
			if (kick_loop(v))
				(void)evloop_del(kick_loop(v), v->kick_fd[q]);
			(void)close(v->kick_fd[q]);
			v->kick_fd[q] = -1;
		}
	/* Closing an irqfd's eventfd makes KVM release it (virt/kvm/eventfd.c). */
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES + 1; i++)
		if (v->msix_fd[i] >= 0) {
			(void)close(v->msix_fd[i]);
			v->msix_fd[i] = -1;
		}
	evloop_free(v->io_loop);
	v->io_loop = NULL;
	if (v->io_wake_fd >= 0)
		(void)close(v->io_wake_fd);
	v->io_wake_fd = -1;
	pthread_mutex_destroy(&v->lock);
}

void virtio_pci_save(struct virtio_pci_dev *v, struct state_writer *w)
{
	const struct virtio_pci_state *s = &v->st;

	pthread_mutex_lock(&v->lock);
	/*
	 * A vhost backend holds the rings' indices: stop it to read them. It stays stopped, and
	 * the queues unserved, until virtio_pci_thaw: the snapshot's memory is written after the
	 * state, and a worker started again at once moved frames into guest RAM meanwhile (rx
	 * from the tap, tx the guest had posted), so that the memory file held used entries
	 * and a used index past the saved last_avail: the clone's worker, started at the saved
	 * index, used those buffers a second time and the guest's ring broke (its NIC stopped:
	 * the hot-plug and warm-snapshot tests waited without end).
	 */
	virtio_deactivate(v);
	v->frozen = true;
	state_put_u32(w, s->config_len);
	state_put_bytes(w, s->config, s->config_len);
	state_put_u32(w, s->dev_feature_sel);
	state_put_u32(w, s->drv_feature_sel);
	state_put_u64(w, s->driver_features);
	state_put_u8(w, s->status);
	state_put_u8(w, s->config_gen);
	state_put_u8(w, s->isr);
	state_put_u16(w, s->msix_config);
	state_put_u16(w, s->queue_sel);
	state_put_u16(w, v->ops->num_queues);
	for (unsigned i = 0; i < v->ops->num_queues; i++) {
		const struct virtq *q = &s->vq[i];

		state_put_u16(w, q->size);
		state_put_u8(w, q->ready);
		state_put_u8(w, q->broken);
		state_put_u16(w, q->msix_vector);
		state_put_u64(w, q->desc_gpa);
		state_put_u64(w, q->avail_gpa);
		state_put_u64(w, q->used_gpa);
		state_put_u16(w, q->last_avail);
		state_put_u16(w, q->used_idx);
	}
	state_put_u16(w, (uint16_t)msix_count(v));
	for (unsigned i = 0; i < msix_count(v); i++) {
		state_put_u32(w, s->msix[i].addr_lo);
		state_put_u32(w, s->msix[i].addr_hi);
		state_put_u32(w, s->msix[i].data);
		state_put_u32(w, s->msix[i].ctrl);
	}
	state_put_u32(w, s->msix_pending);
	state_put_u16(w, s->msix_ctrl);
	pthread_mutex_unlock(&v->lock);
}

/* A ready queue's kick fd, written: the queue is looked at once (lock held). */
static void virtio_kick_ready(struct virtio_pci_dev *v)
{
	for (unsigned q = 0; q < v->ops->num_queues; q++)
		if (v->st.vq[q].ready && v->kick_fd[q] >= 0)
			(void)eventfd_write(v->kick_fd[q], 1);
}

void virtio_pci_thaw(struct virtio_pci_dev *v)
{
	pthread_mutex_lock(&v->lock);
	if (v->frozen) {
		v->frozen = false;
		if ((v->st.status & VIRTIO_STATUS_DRIVER_OK) &&
		    !(v->st.status & VIRTIO_STATUS_NEEDS_RESET))
			virtio_activate(v);
		virtio_kick_ready(v); /* what waited while frozen (a spurious kick is harmless) */
	}
	pthread_mutex_unlock(&v->lock);
}

/* One queue's state, checked as the driver's writes would have been. */
static int virtq_load(struct virtq *q, struct state_reader *r)
{
	int e = 0;

	e |= state_get_u16(r, &q->size);
	e |= state_get_bool(r, &q->ready);
	e |= state_get_bool(r, &q->broken);
	e |= state_get_u16(r, &q->msix_vector);
	e |= state_get_u64(r, &q->desc_gpa);
	e |= state_get_u64(r, &q->avail_gpa);
	e |= state_get_u64(r, &q->used_gpa);
	e |= state_get_u16(r, &q->last_avail);
	e |= state_get_u16(r, &q->used_idx);
	if (e)
		return -EBADMSG;
	/* A queue the driver enabled passed virtq_enable: one that would not is refused. */
	if (q->ready && !q->broken) {
		uint16_t last_avail = q->last_avail, used_idx = q->used_idx;

		if (virtq_enable(q) < 0)
			return -EBADMSG;
		q->last_avail = last_avail; /* virtq_enable starts them at 0 */
		q->used_idx = used_idx;
	}
	return 0;
}

static int virtio_pci_state_load(const struct virtio_pci_dev *v, struct virtio_pci_state *s,
				 struct state_reader *r)
{
	uint32_t config_len = 0;
	uint16_t nq = 0, nv = 0;
	int e = 0;

	/* The device declares its config size, queues and vectors: the stream must agree. */
	if (state_get_u32(r, &config_len) < 0 || config_len != v->st.config_len)
		return -EBADMSG;
	e |= state_get_bytes(r, s->config, config_len);
	e |= state_get_u32(r, &s->dev_feature_sel);
	e |= state_get_u32(r, &s->drv_feature_sel);
	e |= state_get_u64(r, &s->driver_features);
	e |= state_get_u8(r, &s->status);
	e |= state_get_u8(r, &s->config_gen);
	e |= state_get_u8(r, &s->isr);
	e |= state_get_u16(r, &s->msix_config);
	e |= state_get_u16(r, &s->queue_sel);
	e |= state_get_u16(r, &nq);
	if (e || nq != v->ops->num_queues || s->isr > 3)
		return -EBADMSG;
	if ((s->status & VIRTIO_STATUS_FEATURES_OK) && (s->driver_features & ~dev_features(v)))
		return -EBADMSG;
	for (unsigned i = 0; i < nq; i++) {
		virtq_reset(&s->vq[i], v->mem, v->ops->queue_max);
		if (virtq_load(&s->vq[i], r) < 0)
			return -EBADMSG;
	}
	if (state_get_u16(r, &nv) < 0 || nv != msix_count(v))
		return -EBADMSG;
	for (unsigned i = 0; i < nv; i++) {
		e |= state_get_u32(r, &s->msix[i].addr_lo);
		e |= state_get_u32(r, &s->msix[i].addr_hi);
		e |= state_get_u32(r, &s->msix[i].data);
		e |= state_get_u32(r, &s->msix[i].ctrl);
	}
	e |= state_get_u32(r, &s->msix_pending);
	e |= state_get_u16(r, &s->msix_ctrl);
	if (e || (s->msix_pending >> nv) || (s->msix_ctrl & ~(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL)))
		return -EBADMSG;
	return state_reader_done(r);
}

int virtio_pci_load(struct virtio_pci_dev *v, struct state_reader *r)
{
	struct virtio_pci_state s;
	int e;

	memset(&s, 0, sizeof(s));
	s.config_len = v->st.config_len;
	e = virtio_pci_state_load(v, &s, r);
	if (e < 0)
		return e; /* nothing changed */
	pthread_mutex_lock(&v->lock);
	virtio_deactivate(v);
	v->frozen = false;
	v->st = s;
	virtio_sync_event_idx(v);
	v->msix_stale = ~0U; /* every vector's route is set again on its next interrupt */
	memset(v->pci.cfg + 0x40, 0, PCI_CFG_SIZE - 0x40);
	virtio_pci_caps(v);
	/* A driver that was running gets its backend back (vhost: at the loaded indices). */
	if ((s.status & VIRTIO_STATUS_DRIVER_OK) && !(s.status & VIRTIO_STATUS_NEEDS_RESET))
		virtio_activate(v);
	/*
	 * A kick the source had not served yet is lost with its eventfd: notify every ready
	 * queue once (a spurious notification is harmless: the device reads avail->idx).
	 */
	virtio_kick_ready(v);
	pthread_mutex_unlock(&v->lock);
	return 0;
}
