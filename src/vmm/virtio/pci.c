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
	return v->msix_ctrl;
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
	e = &v->msix[vec];
	if ((ctrl & MSIX_CTRL_MASKALL) || (e->ctrl & 1)) {
		v->msix_pending |= 1U << vec;
		return;
	}
	v->msix_pending &= ~(1U << vec);
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

static void msix_flush_pending(struct virtio_pci_dev *v)
{
	for (uint16_t i = 0; i < msix_count(v); i++)
		if (v->msix_pending & (1U << i))
			msix_fire(v, i);
}

void virtio_pci_notify(struct virtio_pci_dev *v, unsigned q)
{
	v->isr |= 1;
	msix_fire(v, v->vq[q].msix_vector);
}

void virtio_pci_device_error(struct virtio_pci_dev *v)
{
	if (v->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	v->status |= VIRTIO_STATUS_NEEDS_RESET;
	v->isr |= 2;
	msix_fire(v, v->msix_config);
}

static void virtio_reset(struct virtio_pci_dev *v)
{
	for (unsigned i = 0; i < v->ops->num_queues; i++)
		virtq_reset(&v->vq[i], v->mem, v->ops->queue_max);
	v->status = 0;
	v->driver_features = 0;
	v->dev_feature_sel = v->drv_feature_sel = 0;
	v->isr = 0;
	v->msix_config = MSIX_NO_VECTOR;
	v->queue_sel = 0;
	if (v->ops->reset)
		v->ops->reset(v);
}

static uint64_t dev_features(const struct virtio_pci_dev *v)
{
	return v->ops->features | VIRTIO_F_VERSION_1;
}

static void status_write(struct virtio_pci_dev *v, uint8_t s)
{
	if (s == 0) {
		virtio_reset(v);
		return;
	}
	/* 3.1.1: FEATURES_OK sticks only if the device accepts the driver's subset. */
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(v->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((v->driver_features & ~dev_features(v)) || !(v->driver_features & VIRTIO_F_VERSION_1)))
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	v->status = (uint8_t)(s | (v->status & VIRTIO_STATUS_NEEDS_RESET));
}

/* struct virtio_pci_common_cfg (4.1.4.3) */
static uint64_t common_read(struct virtio_pci_dev *v, uint64_t off, uint32_t len)
{
	struct virtq *q = v->queue_sel < v->ops->num_queues ? &v->vq[v->queue_sel] : NULL;
	uint64_t f = dev_features(v);

	switch (off) {
	case 0x00: return v->dev_feature_sel;
	case 0x04: return v->dev_feature_sel < 2 ? (uint32_t)(f >> (32 * v->dev_feature_sel)) : 0;
	case 0x08: return v->drv_feature_sel;
	case 0x0c:
		return v->drv_feature_sel < 2 ?
			       (uint32_t)(v->driver_features >> (32 * v->drv_feature_sel)) : 0;
	case 0x10: return v->msix_config;
	case 0x12: return v->ops->num_queues;
	case 0x14: return v->status;
	case 0x15: return v->config_gen;
	case 0x16: return v->queue_sel;
	case 0x18: return q ? q->size : 0;
	case 0x1a: return q ? q->msix_vector : MSIX_NO_VECTOR;
	case 0x1c: return q ? q->ready : 0;
	case 0x1e: return v->queue_sel; /* queue_notify_off: one slot per queue */
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
	struct virtq *q = v->queue_sel < v->ops->num_queues ? &v->vq[v->queue_sel] : NULL;
	/* Ring addresses and size may change only while the queue is disabled (4.1.4.3.2). */
	struct virtq *qw = q && !q->ready ? q : NULL;

	switch (off) {
	case 0x00: v->dev_feature_sel = (uint32_t)val; break;
	case 0x08: v->drv_feature_sel = (uint32_t)val; break;
	case 0x0c:
		if (v->drv_feature_sel < 2 && !(v->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&v->driver_features, v->drv_feature_sel * 4, 4, val);
		break;
	case 0x10: v->msix_config = (uint16_t)val; break;
	case 0x14: status_write(v, (uint8_t)val); break;
	case 0x16: v->queue_sel = (uint16_t)val; break;
	case 0x18:
		if (qw)
			qw->size = (uint16_t)val; /* checked when enabled */
		break;
	case 0x1a:
		if (q)
			q->msix_vector = (uint16_t)val;
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
	if (q >= v->ops->num_queues || !v->vq[q].ready || v->vq[q].broken ||
	    !(v->status & VIRTIO_STATUS_DRIVER_OK))
		return;
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
	f = &v->msix[idx].addr_lo + field;
	if (!is_write) {
		stn(data, 4, *f);
		return;
	}
	*f = (uint32_t)ldn(data, 4);
	if (field < 3)
		v->msix_stale |= 1U << idx;
	if (field == 3)
		msix_flush_pending(v); /* an unmask delivers what was held back */
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
			val = v->isr; /* reading ISR clears it (4.1.4.5) */
			v->isr = 0;
		}
	} else if (off < VIRTIO_BAR_NOTIFY) {
		uint64_t o = off - VIRTIO_BAR_DEVICE;

		/* Device configuration: read-only here (blk's writeback toggle is not offered). */
		if (!is_write && o < v->config_len && len <= v->config_len - o)
			val = ldn(v->config + o, len);
	} else if (off < VIRTIO_BAR_MSIX) {
		if (is_write)
			queue_kick(v, (unsigned)((off - VIRTIO_BAR_NOTIFY) / VIRTIO_NOTIFY_MULT));
	} else if (off < VIRTIO_BAR_PBA) {
		msix_table_io(v, off - VIRTIO_BAR_MSIX, data, len, is_write);
		pthread_mutex_unlock(&v->lock);
		return;
	} else if (off == VIRTIO_BAR_PBA && !is_write) {
		val = v->msix_pending;
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
	uint16_t ctrl = (uint16_t)((v->msix_ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL)) |
				   (msix_count(v) - 1));

	vcap(c + 0x40, 0x50, VIRTIO_PCI_CAP_COMMON, VIRTIO_BAR_COMMON, 0x38);
	vcap(c + 0x50, 0x64, VIRTIO_PCI_CAP_NOTIFY, VIRTIO_BAR_NOTIFY,
	     VIRTIO_NOTIFY_MULT * v->ops->num_queues);
	/* A device without configuration (rng) has no device capability: Linux rejects len 0. */
	vcap(c + 0x64, v->config_len ? 0x74 : MSIX_CAP_OFF, VIRTIO_PCI_CAP_ISR, VIRTIO_BAR_ISR, 4);
	if (v->config_len)
		vcap(c + 0x74, MSIX_CAP_OFF, VIRTIO_PCI_CAP_DEVICE, VIRTIO_BAR_DEVICE,
		     v->config_len);
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
	v->msix_ctrl = ctrl & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	memset(d->cfg + 0x40, 0, PCI_CFG_SIZE - 0x40);
	virtio_pci_caps(v);
	msix_flush_pending(v);
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

int virtio_pci_init(struct virtio_pci_dev *v, struct vm *vm, const struct guest_mem *mem,
		    const struct virtio_dev_ops *ops, struct hull_err *err)
{
	uint8_t *c = v->pci.cfg;
	int r;

	v->vm = vm;
	v->mem = mem;
	v->ops = ops;
	pthread_mutex_init(&v->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		v->kick_fd[q] = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES + 1; i++)
		v->msix_fd[i] = -1;
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
	for (unsigned q = 0; q < ops->num_queues; q++) {
		struct virtio_kick *k = &v->kick[q];

		if (ops->sync_kick_queues & (1U << q))
			continue;
		v->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->kick_fd[q] < 0)
			return hull_err_set(err, errno, "%s: eventfd", ops->name);
		k->v = v;
		k->q = q;
		r = evloop_add(vm->loop, v->kick_fd[q], EPOLLIN, virtio_on_kick, k);
		if (r < 0)
			return hull_err_set(err, -r, "%s: event loop", ops->name);
	}
	r = pci_bus_add(vm->pci, &v->pci);
	if (r < 0)
		return hull_err_set(err, -r, "%s: adding to the PCI bus", ops->name);
	return 0;
}

void virtio_pci_release(struct virtio_pci_dev *v)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (v->kick_fd[q] >= 0) {
			if (v->vm && v->vm->loop)
				(void)evloop_del(v->vm->loop, v->kick_fd[q]);
			(void)close(v->kick_fd[q]);
			v->kick_fd[q] = -1;
		}
	/* Closing an irqfd's eventfd makes KVM release it (virt/kvm/eventfd.c). */
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES + 1; i++)
		if (v->msix_fd[i] >= 0) {
			(void)close(v->msix_fd[i]);
			v->msix_fd[i] = -1;
		}
	pthread_mutex_destroy(&v->lock);
}
