/* virtio-vsock on vhost-vsock (vsock.h). */
#include "vmm/virtio/vsock.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "vmm/vhost.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_VSOCK 19
#define VIRTIO_VSOCK_F_SEQPACKET 1
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0 /* 5.10.6.5 */
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_VHOST_QUEUES 2 /* rx, tx */

struct vsock_dev {
	struct virtio_pci_dev v; /* first: the device table's generic virtio calls cast back */
	struct vhost_dev vh;
	uint32_t cid;
	bool reset_event; /* a TRANSPORT_RESET waits for an event buffer */
};

uint32_t vsock_cid_candidate(uint64_t seed, unsigned i)
{
	uint64_t span = (uint64_t)VSOCK_CID_MAX - VSOCK_CID_MIN + 1;

	return (uint32_t)(VSOCK_CID_MIN + (seed + i) % span);
}

static int vsock_set_cid(int fd, uint32_t cid)
{
	uint64_t c = cid;

	return ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &c) < 0 ? -errno : 0;
}

int vsock_open(const char *path, uint32_t cid, bool autocid, uint64_t seed, uint32_t *ret_cid,
	       struct hull_err *err)
{
	cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
	int r = -EADDRINUSE;

	if (fd < 0)
		return hull_err_set(err, errno, "--vsock: %s (the vhost_vsock module)", path);
	if (!autocid) {
		r = vsock_set_cid(fd, cid);
		if (r == -EADDRINUSE)
			return hull_err_setx(err, EADDRINUSE,
					     "--vsock %u: the CID is in use by another VM", cid);
		if (r < 0)
			return hull_err_set(err, -r, "--vsock %u: %s", cid, path);
	}
	for (unsigned i = 0; autocid && i < VSOCK_AUTO_TRIES; i++) {
		cid = vsock_cid_candidate(seed, i);
		r = vsock_set_cid(fd, cid);
		if (r != -EADDRINUSE)
			break;
	}
	if (autocid && r == -EADDRINUSE)
		return hull_err_setx(err, EADDRINUSE, "--vsock auto: %u CIDs in a row are in use",
				     VSOCK_AUTO_TRIES);
	if (r < 0)
		return hull_err_set(err, -r, "--vsock auto: CID %u: %s", cid, path);
	*ret_cid = cid;
	return steal_fd(&fd);
}

/* Write the event into the buffer's writable part (it may be split across descriptors). */
static void vsock_event_write(const struct virtq_elem *e, const uint8_t *ev, size_t len)
{
	size_t off = 0;

	for (unsigned i = e->n_in; i < e->n_in + e->n_out && off < len; i++) {
		size_t n = e->iov[i].iov_len < len - off ? e->iov[i].iov_len : len - off;

		memcpy(e->iov[i].iov_base, ev + off, n);
		off += n;
	}
}

/* Send the pending transport reset if the guest has posted an event buffer. Lock held. */
static void vsock_event_deliver(struct vsock_dev *d)
{
	struct virtq *vq = &d->v.st.vq[VSOCK_QUEUE_EVENT];
	uint32_t ev = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	struct virtq_elem e;
	int r;

	if (!d->reset_event || !vq->ready || vq->broken ||
	    !(d->v.st.status & VIRTIO_STATUS_DRIVER_OK))
		return;
	r = virtq_pop(vq, &e);
	if (r == 0)
		return; /* on the guest's next kick */
	/* 5.10.6.5: event buffers are device-writable and hold a struct virtio_vsock_event. */
	if (r < 0 || e.n_in || e.out_len < sizeof(ev)) {
		vq->broken = true;
		virtio_pci_device_error(&d->v);
		return;
	}
	vsock_event_write(&e, (const uint8_t *)&ev, sizeof(ev));
	d->reset_event = false;
	if (virtq_push(vq, e.head, sizeof(ev)) == 0)
		virtio_pci_notify(&d->v, VSOCK_QUEUE_EVENT);
}

static void vsock_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	/* Only the event queue comes here (rx and tx are vhost_queues): buffers wait in it. */
	vsock_event_deliver(v->priv);
}

static int vsock_running(struct vsock_dev *d, int on)
{
	if (d->vh.fd < 0)
		return 0;
	return ioctl(d->vh.fd, VHOST_VSOCK_SET_RUNNING, &on) < 0 ? -errno : 0;
}

static int vsock_activate(struct virtio_pci_dev *v)
{
	struct vsock_dev *d = v->priv;
	int r;

	/* The worker needs both rings: a driver that set DRIVER_OK without them broke 5.10.6. */
	if (!v->st.vq[0].ready || !v->st.vq[1].ready)
		return -EINVAL;
	r = vhost_start(&d->vh);
	if (r < 0)
		return r;
	r = vsock_running(d, 1);
	if (r < 0)
		vhost_stop(&d->vh);
	return r;
}

static void vsock_deactivate(struct virtio_pci_dev *v)
{
	struct vsock_dev *d = v->priv;

	(void)vsock_running(d, 0);
	vhost_stop(&d->vh);
}

static void vsock_msix_changed(struct virtio_pci_dev *v)
{
	struct vsock_dev *d = v->priv;

	vhost_update_calls(&d->vh);
}

static void vsock_reset(struct virtio_pci_dev *v)
{
	struct vsock_dev *d = v->priv;

	d->reset_event = false; /* a new driver reads guest_cid at probe */
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.class_code = 0x078000, /* communication controller, other (as QEMU's) */
	.features = 1ULL << VIRTIO_VSOCK_F_SEQPACKET, /* narrowed to the kernel's */
	.num_queues = 3,
	.queue_max = VSOCK_QUEUE_SIZE,
	.vhost_queues = (1U << VSOCK_VHOST_QUEUES) - 1,
	.activate = vsock_activate,
	.deactivate = vsock_deactivate,
	.msix_changed = vsock_msix_changed,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
};

static void vsock_config(struct vsock_dev *d)
{
	uint64_t le = htole64(d->cid); /* struct virtio_vsock_config: le64 guest_cid */

	memcpy(d->v.st.config, &le, sizeof(le));
	d->v.st.config_len = sizeof(le);
}

static struct vsock_dev *vsock_alloc(uint32_t cid)
{
	struct vsock_dev *d = xcalloc(1, sizeof(*d));

	vhost_init(&d->vh);
	d->cid = cid;
	d->v.priv = d;
	vsock_config(d);
	return d;
}

int virtio_vsock_create(struct vm *vm, int fd, uint32_t cid, struct virtio_pci_dev **ret,
			struct hull_err *err)
{
	struct vsock_dev *d = vsock_alloc(cid);
	int r;

	d->vh.fd = fd;
	r = virtio_pci_init(&d->v, vm, &vm->mem, &vsock_ops, err);
	if (r == 0)
		r = vhost_setup(&d->vh, fd, err);
	if (r == 0) {
		/* Offer what both sides know: no feature the kernel would refuse at start. */
		d->v.features &= d->vh.features;
		r = vhost_attach(&d->vh, &d->v, VSOCK_VHOST_QUEUES, err);
	}
	if (r < 0) {
		virtio_vsock_free(&d->v);
		return hull_err_prefix(err, "--vsock");
	}
	*ret = &d->v;
	return 0;
}

struct virtio_pci_dev *virtio_vsock_new_test(const struct guest_mem *mem, uint32_t cid)
{
	struct vsock_dev *d = vsock_alloc(cid);

	(void)virtio_pci_init(&d->v, NULL, mem, &vsock_ops, NULL);
	(void)vhost_attach(&d->vh, &d->v, VSOCK_VHOST_QUEUES, NULL);
	return &d->v;
}

int virtio_vsock_load(struct virtio_pci_dev *v, struct state_reader *r)
{
	struct vsock_dev *d = v->priv;
	int e = virtio_pci_load(v, r);

	if (e < 0)
		return e;
	pthread_mutex_lock(&v->lock);
	/* The CID is this VM's, not the saved one's; the guest learns it from the reset event. */
	vsock_config(d);
	d->reset_event = true;
	vsock_event_deliver(d);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void virtio_vsock_free(struct virtio_pci_dev *v)
{
	struct vsock_dev *d = (struct vsock_dev *)v;

	if (!d)
		return;
	vhost_release(&d->vh); /* the worker first: it uses the kick fds */
	virtio_pci_release(&d->v);
	free(d);
}
