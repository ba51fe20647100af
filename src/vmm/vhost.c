/* The in-kernel vhost backend of a virtio-pci device (vhost.h). */
#include "vmm/vhost.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/loop.h"
#include "vmm/vm.h"

void vhost_init(struct vhost_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->call_fd[q] = d->err_fd[q] = d->cur_call[q] = -1;
}

int vhost_setup(struct vhost_dev *d, int fd, struct hull_err *err)
{
	d->fd = fd;
	if (ioctl(fd, VHOST_SET_OWNER) < 0)
		return hull_err_set(err, errno, "VHOST_SET_OWNER");
	if (ioctl(fd, VHOST_GET_FEATURES, &d->features) < 0)
		return hull_err_set(err, errno, "VHOST_GET_FEATURES");
	return 0;
}

/* The worker signalled a used buffer on the fallback fd: an interrupt, or pending if masked. */
static void vhost_on_call(void *opaque, int fd, uint32_t events)
{
	struct vhost_cb *cb = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&cb->d->v->lock);
	virtio_pci_notify(cb->d->v, cb->q);
	pthread_mutex_unlock(&cb->d->v->lock);
}

/* The worker met a ring it cannot use (a bad address from the guest). */
static void vhost_on_err(void *opaque, int fd, uint32_t events)
{
	struct vhost_cb *cb = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&cb->d->v->lock);
	virtio_pci_device_error(cb->d->v);
	pthread_mutex_unlock(&cb->d->v->lock);
}

int vhost_attach(struct vhost_dev *d, struct virtio_pci_dev *v, unsigned nvqs,
		 struct hull_err *err)
{
	return vhost_attach_at(d, v, 0, nvqs, err);
}

int vhost_attach_at(struct vhost_dev *d, struct virtio_pci_dev *v, unsigned first,
		    unsigned nvqs, struct hull_err *err)
{
	struct evloop *loop = v->vm ? v->vm->loop : NULL;
	int r;

	if (first > v->ops->num_queues || nvqs > v->ops->num_queues - first)
		return hull_err_setx(err, EINVAL, "%s: vhost queues %u to %u of %u", v->ops->name,
				     first, first + nvqs, v->ops->num_queues);
	d->v = v;
	d->first = first;
	d->nvqs = nvqs;
	for (unsigned q = 0; q < nvqs; q++) {
		d->cb[q] = (struct vhost_cb){ .d = d, .q = first + q };
		d->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->err_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->call_fd[q] < 0 || d->err_fd[q] < 0)
			return hull_err_set(err, errno, "%s: vhost eventfd", v->ops->name);
		if (!loop)
			continue;
		r = evloop_add(loop, d->call_fd[q], EPOLLIN, vhost_on_call, &d->cb[q]);
		if (r == 0)
			r = evloop_add(loop, d->err_fd[q], EPOLLIN, vhost_on_err, &d->cb[q]);
		if (r < 0)
			return hull_err_set(err, -r, "%s: event loop", v->ops->name);
	}
	return 0;
}

void vhost_release(struct vhost_dev *d)
{
	struct evloop *loop = d->v && d->v->vm ? d->v->vm->loop : NULL;

	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		int *fds[2] = { &d->call_fd[q], &d->err_fd[q] };

		for (unsigned i = 0; i < 2; i++) {
			if (*fds[i] < 0)
				continue;
			if (loop)
				(void)evloop_del(loop, *fds[i]);
			(void)close(*fds[i]);
			*fds[i] = -1;
		}
	}
	if (d->fd >= 0)
		(void)close(d->fd); /* the kernel stops the worker and drops its rings */
	vhost_init(d);
}

unsigned vhost_mem_regions(const struct guest_mem *m, struct vhost_memory_region *r,
			   unsigned max)
{
	unsigned n = 0;

	if (m->low_size && n < max)
		r[n++] = (struct vhost_memory_region){
			.guest_phys_addr = 0,
			.memory_size = m->low_size,
			.userspace_addr = (uint64_t)(uintptr_t)m->host,
		};
	if (gmem_high_size(m) && n < max)
		r[n++] = (struct vhost_memory_region){
			.guest_phys_addr = GMEM_HIGH_START,
			.memory_size = gmem_high_size(m),
			.userspace_addr = (uint64_t)(uintptr_t)(m->host + m->low_size),
		};
	if (m->hp_size && n < max) /* the virtio-mem region */
		r[n++] = (struct vhost_memory_region){
			.guest_phys_addr = m->hp_gpa,
			.memory_size = m->hp_size,
			.userspace_addr = (uint64_t)(uintptr_t)m->hp_host,
		};
	return n;
}

int vhost_vring_addr(const struct virtq *q, unsigned idx, struct vhost_vring_addr *a)
{
	/* 2.7: descriptor table, available ring (+ used_event), used ring (+ avail_event). */
	void *desc = gmem_ptr(q->mem, q->desc_gpa, 16ULL * q->size);
	void *avail = gmem_ptr(q->mem, q->avail_gpa, 6ULL + 2ULL * q->size);
	void *used = gmem_ptr(q->mem, q->used_gpa, 6ULL + 8ULL * q->size);

	if (!q->size || !desc || !avail || !used)
		return -EFAULT;
	*a = (struct vhost_vring_addr){
		.index = idx,
		.desc_user_addr = (uint64_t)(uintptr_t)desc,
		.avail_user_addr = (uint64_t)(uintptr_t)avail,
		.used_user_addr = (uint64_t)(uintptr_t)used,
	};
	return 0;
}

static int vhost_set_mem(struct vhost_dev *d)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[VHOST_MAX_REGIONS];
	} t;

	memset(&t, 0, sizeof(t));
	t.hdr.nregions = vhost_mem_regions(d->v->mem, t.r, VHOST_MAX_REGIONS);
	return ioctl(d->fd, VHOST_SET_MEM_TABLE, &t) < 0 ? -errno : 0;
}

static int vhost_file(int fd, unsigned long req, unsigned q, int file)
{
	struct vhost_vring_file f = { .index = q, .fd = file };

	return ioctl(fd, req, &f) < 0 ? -errno : 0;
}

/* One ready queue: size, where the worker starts, the rings, kick, error and call fds. */
static int vhost_start_queue(struct vhost_dev *d, unsigned q)
{
	const struct virtq *vq = &d->v->st.vq[d->first + q];
	struct vhost_vring_state num = { .index = q, .num = vq->size };
	struct vhost_vring_state base = { .index = q, .num = vq->last_avail };
	struct vhost_vring_addr addr;
	int r;

	if (d->v->kick_fd[d->first + q] < 0)
		return -ENOTSUP;
	r = vhost_vring_addr(vq, q, &addr);
	if (r < 0)
		return r;
	if (ioctl(d->fd, VHOST_SET_VRING_NUM, &num) < 0 ||
	    ioctl(d->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(d->fd, VHOST_SET_VRING_ADDR, &addr) < 0)
		return -errno;
	r = vhost_file(d->fd, VHOST_SET_VRING_KICK, q, d->v->kick_fd[d->first + q]);
	if (r == 0)
		r = vhost_file(d->fd, VHOST_SET_VRING_ERR, q, d->err_fd[q]);
	return r;
}

int vhost_start(struct vhost_dev *d)
{
	uint64_t features = d->v->st.driver_features & d->features;
	int r;

	if (d->fd < 0)
		return 0; /* unit tests: no kernel behind the device */
	if (ioctl(d->fd, VHOST_SET_FEATURES, &features) < 0)
		return -errno;
	r = vhost_set_mem(d);
	for (unsigned q = 0; r == 0 && q < d->nvqs; q++) {
		d->cur_call[q] = -1;
		if (d->v->st.vq[d->first + q].ready)
			r = vhost_start_queue(d, q);
	}
	if (r < 0) {
		log_debug("%s: vhost start: %s", d->v->ops->name, strerror(-r));
		return r;
	}
	d->started = true;
	vhost_update_calls(d);
	return 0;
}

void vhost_update_calls(struct vhost_dev *d)
{
	struct virtio_pci_dev *v = d->v;

	if (!d->started)
		return;
	for (unsigned q = 0; q < d->nvqs; q++) {
		const struct virtq *vq = &v->st.vq[d->first + q];
		int fd;

		if (!vq->ready)
			continue;
		fd = virtio_pci_vector_irqfd(v, vq->msix_vector);
		if (fd < 0)
			fd = d->call_fd[q];
		if (fd == d->cur_call[q])
			continue;
		if (vhost_file(d->fd, VHOST_SET_VRING_CALL, q, fd) < 0) {
			/* The old fd stays: the fallback one still interrupts, an irqfd too. */
			log_debug("%s: VHOST_SET_VRING_CALL %u: %s", v->ops->name, q, strerror(errno));
			continue;
		}
		d->cur_call[q] = fd;
	}
}

void vhost_stop(struct vhost_dev *d)
{
	struct virtio_pci_dev *v = d->v;

	if (!d->started)
		return;
	for (unsigned q = 0; q < d->nvqs; q++) {
		struct virtq *vq = &v->st.vq[d->first + q];
		struct vhost_vring_state base = { .index = q };
		const uint16_t *used_idx;

		if (!vq->ready)
			continue;
		if (ioctl(d->fd, VHOST_GET_VRING_BASE, &base) == 0)
			vq->last_avail = (uint16_t)base.num;
		/* The worker's used index is in the ring (checked in RAM when enabled). */
		used_idx = gmem_ptr(v->mem, vq->used_gpa + 2, 2);
		if (used_idx)
			vq->used_idx = le16toh(*(const volatile uint16_t *)used_idx);
		(void)vhost_file(d->fd, VHOST_SET_VRING_KICK, q, VHOST_FILE_UNBIND);
		(void)vhost_file(d->fd, VHOST_SET_VRING_CALL, q, VHOST_FILE_UNBIND);
		d->cur_call[q] = -1;
	}
	d->started = false;
}
