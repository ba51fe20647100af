/* virtio-fs on a vhost-user backend (fs.h). */
#include "vmm/virtio/fs.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "vmm/vhost-user.h"
#include "vmm/vhost.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"
#include "vmm/vmm.h"

#define VIRTQ_F_INDIRECT_DESC (1ULL << 28)

struct fs_dev {
	struct virtio_pci_dev v; /* first: the device table's generic virtio calls cast back */
	struct virtio_dev_ops ops; /* per device: queue count and size come from --fs */
	struct vhost_dev vh;       /* only its fallback call eventfds (vh.fd stays -1) */
	struct vhost_user u;
	bool started;
	int cur_call[VIRTIO_MAX_QUEUES];
};

/* struct virtio_fs_config: u8 tag[36]; le32 num_request_queues. */
static void fs_config(struct fs_dev *d, const char *tag, unsigned nreq)
{
	uint32_t le = htole32(nreq);

	memset(d->v.st.config, 0, VM_FS_TAG_MAX);
	memcpy(d->v.st.config, tag, strnlen(tag, VM_FS_TAG_MAX));
	memcpy(d->v.st.config + VM_FS_TAG_MAX, &le, sizeof(le));
	d->v.st.config_len = VM_FS_TAG_MAX + sizeof(le);
}

static void fs_update_calls(struct fs_dev *d)
{
	struct virtio_pci_dev *v = &d->v;

	if (!d->started)
		return;
	for (unsigned q = 0; q < d->ops.num_queues; q++) {
		const struct virtq *vq = &v->st.vq[q];
		int fd;

		if (!vq->ready)
			continue;
		fd = virtio_pci_vector_irqfd(v, vq->msix_vector);
		if (fd < 0)
			fd = d->vh.call_fd[q];
		if (fd == d->cur_call[q])
			continue;
		if (vhost_user_set_fd(&d->u, VHOST_USER_SET_VRING_CALL, q, fd) < 0)
			return; /* broken: the next activation fails and says so */
		d->cur_call[q] = fd;
	}
}

/* One ready ring: size, where the backend starts, addresses, kick, then enabled. */
static int fs_start_queue(struct fs_dev *d, unsigned q)
{
	const struct virtq *vq = &d->v.st.vq[q];
	struct vhost_vring_addr a;
	struct vhost_user_vring_addr ua;
	int r;

	if (d->v.kick_fd[q] < 0)
		return -ENOTSUP;
	r = vhost_vring_addr(vq, q, &a); /* every ring inside guest RAM, or -EFAULT */
	if (r < 0)
		return r;
	ua = (struct vhost_user_vring_addr){ .index = q, .desc = a.desc_user_addr,
					     .used = a.used_user_addr, .avail = a.avail_user_addr };
	if ((r = vhost_user_set_state(&d->u, VHOST_USER_SET_VRING_NUM, q, vq->size)) < 0 ||
	    (r = vhost_user_set_state(&d->u, VHOST_USER_SET_VRING_BASE, q, vq->last_avail)) < 0 ||
	    (r = vhost_user_set_addr(&d->u, &ua)) < 0 ||
	    (r = vhost_user_set_fd(&d->u, VHOST_USER_SET_VRING_KICK, q, d->v.kick_fd[q])) < 0)
		return r;
	/* with protocol features a ring starts disabled (vhost-user.rst "Ring states") */
	if (d->u.features & VHOST_USER_F_PROTOCOL_FEATURES)
		r = vhost_user_set_state(&d->u, VHOST_USER_SET_VRING_ENABLE, q, 1);
	return r;
}

static int fs_activate(struct virtio_pci_dev *v)
{
	struct fs_dev *d = v->priv;
	uint64_t f = v->st.driver_features | (d->u.features & VHOST_USER_F_PROTOCOL_FEATURES);
	int r;

	if (d->u.sock < 0)
		return 0; /* unit tests without a backend */
	r = vhost_user_set_u64(&d->u, VHOST_USER_SET_FEATURES, f);
	if (r == 0)
		r = vhost_user_set_mem(&d->u, v->mem);
	for (unsigned q = 0; r == 0 && q < d->ops.num_queues; q++) {
		d->cur_call[q] = -1;
		if (v->st.vq[q].ready)
			r = fs_start_queue(d, q);
	}
	if (r < 0) {
		log_debug("virtio-fs: start: %s", strerror(-r));
		return r;
	}
	d->started = true;
	fs_update_calls(d);
	return d->u.broken ? -ECONNRESET : 0;
}

/* The backend stops each ring and says where it was: the queue's state continues there. */
static void fs_deactivate(struct virtio_pci_dev *v)
{
	struct fs_dev *d = v->priv;

	if (!d->started)
		return;
	for (unsigned q = 0; q < d->ops.num_queues; q++) {
		struct virtq *vq = &v->st.vq[q];
		const uint16_t *used_idx;
		unsigned base;

		if (!vq->ready)
			continue;
		if (d->u.features & VHOST_USER_F_PROTOCOL_FEATURES)
			(void)vhost_user_set_state(&d->u, VHOST_USER_SET_VRING_ENABLE, q, 0);
		if (vhost_user_get_base(&d->u, q, &base) == 0)
			vq->last_avail = (uint16_t)base;
		used_idx = gmem_ptr(v->mem, vq->used_gpa + 2, 2);
		if (used_idx)
			vq->used_idx = le16toh(*(const volatile uint16_t *)used_idx);
		d->cur_call[q] = -1;
	}
	d->started = false;
}

static void fs_msix_changed(struct virtio_pci_dev *v)
{
	fs_update_calls(v->priv);
}

static void fs_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	(void)v; /* every queue is the backend's: no kick comes here */
	(void)q;
}

int virtio_fs_config_check(const struct vm_config *cfg, struct hull_err *err)
{
	if (!cfg->n_fs)
		return 0;
	if (cfg->n_fs > VM_MAX_FS)
		return hull_err_setx(err, EINVAL, "at most %d --fs", VM_MAX_FS);
	if (cfg->kernel_kind == VM_KERNEL_RAW || cfg->restore_dir || cfg->incoming)
		return hull_err_setx(err, EINVAL, "--fs needs a Linux kernel booted by this VM (not "
				     "a raw guest, a restore or an incoming migration)");
	if (cfg->mem_hotplug.size)
		return hull_err_setx(err, EINVAL, "--fs and --memory-hotplug: the backend could not "
				     "map the virtio-mem region");
	for (size_t i = 0; i < cfg->n_fs; i++) {
		const struct vm_fs_config *f = &cfg->fs[i];
		unsigned qs = f->queue_size;

		if (!f->tag || !*f->tag || strlen(f->tag) > VM_FS_TAG_MAX)
			return hull_err_setx(err, EINVAL, "--fs tag=%s: 1 to %u bytes",
					     f->tag ? f->tag : "", VM_FS_TAG_MAX);
		if (!f->socket || !*f->socket)
			return hull_err_setx(err, EINVAL, "--fs tag=%s: socket= is required", f->tag);
		if (f->queues > VM_FS_MAX_QUEUES)
			return hull_err_setx(err, EINVAL, "--fs tag=%s: queues=%u: 1 to %u", f->tag,
					     f->queues, VM_FS_MAX_QUEUES);
		if (qs && (qs > VIRTQ_MAX_SIZE || (qs & (qs - 1))))
			return hull_err_setx(err, EINVAL, "--fs tag=%s: queue-size=%u: a power of "
					     "two up to %u", f->tag, qs, VIRTQ_MAX_SIZE);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->fs[j].tag, f->tag) == 0)
				return hull_err_setx(err, EINVAL, "--fs tag=%s: given twice", f->tag);
	}
	return 0;
}

static struct fs_dev *fs_alloc(const struct vm_fs_config *cfg)
{
	struct fs_dev *d = xcalloc(1, sizeof(*d));
	unsigned nreq = cfg->queues ? cfg->queues : 1;

	vhost_init(&d->vh);
	d->u.sock = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->cur_call[q] = -1;
	d->ops = (struct virtio_dev_ops){
		.name = "virtio-fs",
		.device_id = VIRTIO_ID_FS,
		.class_code = 0x018000, /* mass storage, other (as QEMU's vhost-user-fs-pci) */
		.features = VIRTQ_F_INDIRECT_DESC | VIRTQ_F_EVENT_IDX, /* narrowed to the backend's */
		.num_queues = (uint16_t)(1 + nreq),
		.queue_max = (uint16_t)(cfg->queue_size ? cfg->queue_size : VIRTQ_MAX_SIZE),
		.vhost_queues = (1U << (1 + nreq)) - 1,
		.activate = fs_activate,
		.deactivate = fs_deactivate,
		.msix_changed = fs_msix_changed,
		.queue_notify = fs_queue_notify,
	};
	d->v.priv = d;
	fs_config(d, cfg->tag, nreq);
	return d;
}

/* Common to the VM's device and the tests': transport, backend handshake, fallback fds. */
static int fs_init(struct fs_dev *d, struct vm *vm, const struct guest_mem *mem, int sock,
		   const struct vm_fs_config *cfg, struct hull_err *err)
{
	unsigned nreq = d->ops.num_queues - 1U;
	int r = virtio_pci_init(&d->v, vm, mem, &d->ops, err);

	if (r < 0) {
		(void)close(sock);
		return r;
	}
	r = vhost_user_setup(&d->u, sock, err);
	if (r < 0)
		return hull_err_prefix(err, "%s", cfg->socket);
	if (!(d->u.features & VIRTIO_F_VERSION_1))
		return hull_err_setx(err, EPROTO, "%s: the backend does not offer VIRTIO_F_VERSION_1",
				     cfg->socket);
	if (d->u.queue_num && nreq + 1 > d->u.queue_num)
		return hull_err_setx(err, EINVAL, "queues=%u: the backend serves at most %" PRIu64
				     " request queues", nreq, d->u.queue_num - 1);
	d->v.features &= d->u.features;
	return vhost_attach(&d->vh, &d->v, d->ops.num_queues, err);
}

int virtio_fs_create(struct vm *vm, const struct vm_fs_config *cfg, int sock,
		     struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct fs_dev *d = fs_alloc(cfg);

	if (fs_init(d, vm, &vm->mem, sock, cfg, err) < 0) {
		virtio_fs_free(&d->v);
		return hull_err_prefix(err, "--fs tag=%s", cfg->tag);
	}
	*ret = &d->v;
	return 0;
}

int virtio_fs_new_test(const struct guest_mem *mem, const struct vm_fs_config *cfg, int sock,
		       struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct fs_dev *d = fs_alloc(cfg);
	int r = fs_init(d, NULL, mem, sock, cfg, err);

	/* no VM, so no ioeventfds: plain eventfds stand in for the kicks the backend gets */
	for (unsigned q = 0; r == 0 && q < d->ops.num_queues; q++) {
		d->v.kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->v.kick_fd[q] < 0)
			r = hull_err_set(err, errno, "eventfd");
	}
	if (r < 0) {
		virtio_fs_free(&d->v);
		return r;
	}
	*ret = &d->v;
	return 0;
}

void virtio_fs_free(struct virtio_pci_dev *v)
{
	struct fs_dev *d = (struct fs_dev *)v;

	if (!d)
		return;
	vhost_user_close(&d->u); /* the backend drops the rings and unmaps guest RAM */
	vhost_release(&d->vh);
	virtio_pci_release(&d->v);
	free(d);
}
