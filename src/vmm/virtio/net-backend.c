/*
 * virtio-net's host side (net.h, net-backend.h): the --net checks, the tap queue fds and the
 * vhost-net datapath, where a kernel worker per queue pair moves the frames between the
 * pair's rings and its tap queue.
 */
#include "vmm/virtio/net-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/ratelimit.h"
#include "vmm/tap.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

/* Does c limit anything (rx_bps=...)? The kernel's datapath could not keep it. */
static bool net_limited(const struct vm_net_config *c)
{
	return c->rx_rate.bytes.size || c->rx_rate.ops.size || c->tx_rate.bytes.size ||
	       c->tx_rate.ops.size;
}

unsigned virtio_net_pairs(const struct vm_config *cfg, size_t i)
{
	unsigned q = cfg->nets[i].queues;

	if (!q)
		q = cfg->cpus < VM_NET_MAX_QUEUE_PAIRS ? cfg->cpus : VM_NET_MAX_QUEUE_PAIRS;
	return q ? q : 1;
}

int virtio_net_config_check(const struct vm_config *cfg, struct hull_err *err)
{
	if (cfg->n_nets > VM_MAX_NICS)
		return hull_err_setx(err, EINVAL, "at most %d --net", VM_MAX_NICS);
	if (cfg->n_nets && cfg->kernel_kind == VM_KERNEL_RAW)
		return hull_err_setx(err, EINVAL, "--net needs a Linux kernel, not a raw guest");
	for (size_t i = 0; i < cfg->n_nets; i++) {
		const struct vm_net_config *c = &cfg->nets[i];
		static const uint8_t zero[6];

		if (!c->tap || !*c->tap)
			return hull_err_setx(err, EINVAL, "--net: tap=IFNAME is required");
		if (strlen(c->tap) >= IFNAMSIZ)
			return hull_err_setx(err, EINVAL, "--net tap=%s: longer than %d bytes",
					     c->tap, IFNAMSIZ - 1);
		if (c->mac_set && ((c->mac[0] & 1) || memcmp(c->mac, zero, 6) == 0))
			return hull_err_setx(err, EINVAL,
					     "--net tap=%s: mac=%02x:%02x:%02x:%02x:%02x:%02x: "
					     "not a unicast address", c->tap, c->mac[0], c->mac[1],
					     c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
		if (ratelimit_config_check(&c->rx_rate) < 0 ||
		    ratelimit_config_check(&c->tx_rate) < 0)
			return hull_err_setx(err, EINVAL, "--net tap=%s: a rate limit out of range",
					     c->tap);
		if (c->vhost == VM_NET_VHOST_ON &&
		    net_limited(c))
			return hull_err_setx(err, EINVAL,
					     "--net tap=%s: vhost=on: rate limits need the user-space "
					     "datapath (vhost=off or auto)", c->tap);
		if (c->queues > VM_NET_MAX_QUEUE_PAIRS)
			return hull_err_setx(err, EINVAL, "--net tap=%s: queues=%u: at most %u",
					     c->tap, c->queues, VM_NET_MAX_QUEUE_PAIRS);
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->nets[j].tap, c->tap) == 0)
				return hull_err_setx(err, EINVAL, "--net tap=%s: given twice",
						     c->tap);
	}
	return 0;
}

int virtio_net_backend_open(const struct vm_net_config *c, unsigned n_pairs,
			    struct virtio_net_backend *b, struct hull_err *err)
{
	int r;

	memset(b, 0, sizeof(*b));
	for (unsigned i = 0; i < VM_NET_MAX_QUEUE_PAIRS; i++)
		b->vhost_fd[i] = -1;
	for (unsigned i = 0; i < n_pairs && i < VM_NET_MAX_QUEUE_PAIRS; i++) {
		/* multi_queue first: such a tap serves one pair as well as a plain tap does */
		r = tap_open(c->tap, true, &b->fd[i], err);

		/*
		 * One pair per vCPU is a default, not a demand: a tap made without multi_queue
		 * (ip tuntap's default) gets one pair. queues=N asks for N: N or an error.
		 */
		if (r == -EINVAL && i == 0 && (n_pairs == 1 || !c->queues)) {
			n_pairs = 1;
			r = tap_open(c->tap, false, &b->fd[i], err);
		}
		if (r < 0) {
			virtio_net_backend_close(b);
			return r;
		}
		b->n_pairs = i + 1;
	}
	r = net_vhost_open(VHOST_NET_DEV_PATH, c, b->n_pairs, b->vhost_fd, err);
	if (r < 0) {
		virtio_net_backend_close(b);
		return r;
	}
	b->vhost = b->n_pairs && b->vhost_fd[0] >= 0;
	return 0;
}

void virtio_net_backend_close(struct virtio_net_backend *b)
{
	/* fd[0, n_pairs) were opened: a zeroed backend has none (its zeros are not fds). */
	for (unsigned i = 0; i < b->n_pairs && i < VM_NET_MAX_QUEUE_PAIRS; i++) {
		if (b->fd[i] >= 0) {
			(void)close(b->fd[i]);
			b->fd[i] = -1;
		}
		if (b->vhost && b->vhost_fd[i] >= 0) {
			(void)close(b->vhost_fd[i]);
			b->vhost_fd[i] = -1;
		}
	}
	b->n_pairs = 0;
	b->vhost = false;
}

int net_vhost_open(const char *path, const struct vm_net_config *c, unsigned n_pairs,
		   int *fds, struct hull_err *err)
{
	bool limited = net_limited(c);
	int e;

	for (unsigned i = 0; i < n_pairs; i++)
		fds[i] = -1;
	/* auto: the kernel cannot keep a rate limit, so a limited NIC stays in user space */
	if (c->vhost == VM_NET_VHOST_OFF || (c->vhost == VM_NET_VHOST_AUTO && limited))
		return 0;
	for (unsigned i = 0; i < n_pairs; i++) {
		/*
		 * O_NONBLOCK (vhost-net's ioctls ignore it): the flags of a tap's open, the only
		 * open of an existing file that --hotplug's seccomp widening allows (seccomp.c), so
		 * that a hot-plugged NIC takes vhost-net under the filter with nothing more allowed.
		 */
		fds[i] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fds[i] >= 0)
			continue;
		e = errno;
		for (unsigned j = 0; j <= i; j++) {
			if (fds[j] >= 0)
				(void)close(fds[j]);
			fds[j] = -1;
		}
		if (c->vhost == VM_NET_VHOST_AUTO) {
			log_debug("--net tap=%s: %s: %s: user-space datapath", c->tap, path,
				  strerror(e));
			return 0;
		}
		return hull_err_set(err, e, "--net tap=%s,vhost=on: %s (the vhost_net module)",
				    c->tap, path);
	}
	return 0;
}

void net_vhost_init(struct net_vhost *nv)
{
	nv->n_pairs = 0;
	for (unsigned i = 0; i < VM_NET_MAX_QUEUE_PAIRS; i++) {
		vhost_init(&nv->vh[i]);
		nv->started[i] = false;
	}
}

int net_vhost_attach(struct net_vhost *nv, struct virtio_pci_dev *v, int *fds,
		     unsigned n_pairs, struct hull_err *err)
{
	int r = 0;

	for (unsigned i = 0; r == 0 && i < n_pairs; i++) {
		int fd = fds[i];

		fds[i] = -1;
		nv->n_pairs = i + 1;
		r = vhost_setup(&nv->vh[i], fd, err); /* owns fd from here on */
		/* the pair's rings hold virtio_net_hdr_v1 (VERSION_1): MRG_RXBUF or not, 12 bytes */
		if (r == 0 && !(nv->vh[i].features & VIRTIO_F_VERSION_1))
			r = hull_err_setx(err, ENOTSUP, "vhost-net: no VIRTIO_F_VERSION_1");
		if (r == 0)
			r = vhost_attach_at(&nv->vh[i], v, 2 * i, 2, err);
	}
	return r;
}

/* Queue pair i's rings on its tap (fd) or off it (-1), each ring the driver set up. */
static int net_vhost_backend(struct net_vhost *nv, unsigned i, int fd)
{
	struct vhost_dev *d = &nv->vh[i];

	for (unsigned k = 0; k < 2; k++) {
		struct vhost_vring_file f = { .index = k, .fd = fd };

		if (!d->v->st.vq[2 * i + k].ready)
			continue;
		if (ioctl(d->fd, VHOST_NET_SET_BACKEND, &f) < 0 && fd >= 0)
			return -errno;
	}
	return 0;
}

int net_vhost_start(struct net_vhost *nv, const int *taps, bool mq)
{
	int r = 0;

	for (unsigned i = 0; r == 0 && i < nv->n_pairs && (i == 0 || mq); i++) {
		const struct virtq *vq = &nv->vh[i].v->st.vq[2 * i];

		if (!vq[0].ready && !vq[1].ready)
			continue;
		if (nv->vh[i].fd < 0)
			continue; /* unit tests: no kernel behind the device */
		r = vhost_start(&nv->vh[i]);
		if (r == 0) {
			nv->started[i] = true;
			r = net_vhost_backend(nv, i, taps[i]);
		}
	}
	if (r < 0) {
		log_debug("vhost-net: start: %s", strerror(-r));
		net_vhost_stop(nv);
	}
	return r;
}

void net_vhost_stop(struct net_vhost *nv)
{
	for (unsigned i = 0; i < nv->n_pairs; i++) {
		if (!nv->started[i])
			continue;
		/* the tap first, so that the worker moves no frame after its indices are read */
		(void)net_vhost_backend(nv, i, -1);
		vhost_stop(&nv->vh[i]);
		nv->started[i] = false;
	}
}

void net_vhost_update_calls(struct net_vhost *nv)
{
	for (unsigned i = 0; i < nv->n_pairs; i++)
		vhost_update_calls(&nv->vh[i]);
}

void net_vhost_release(struct net_vhost *nv)
{
	for (unsigned i = 0; i < VM_NET_MAX_QUEUE_PAIRS; i++)
		vhost_release(&nv->vh[i]);
	nv->n_pairs = 0;
}

/* A locally administered unicast address (IEEE 802: bit 1 set, bit 0 clear), at random. */
void net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		uint64_t t = vm_now_ns();

		memcpy(mac, &t, 6);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}
