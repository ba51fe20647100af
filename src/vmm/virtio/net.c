/*
 * virtio-net (net.h). Data plane: the guest's headers and lengths are checked before a
 * frame reaches the tap; frames from the tap go through a bounce buffer per queue pair so
 * that a frame the guest has no room for yet waits there (the tap stops being read) instead
 * of being dropped.
 */
#include "vmm/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/alloc.h"
#include "vmm/loop.h"
#include "vmm/ratelimit.h"
#include "vmm/tap.h"
#include "vmm/virtio/net-backend.h"
#include "vmm/virtio/net-hdr.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_NET 1
#define NET_QUEUE_SIZE 256

/*
 * What the device offers. Checksum and TSO both ways: the tap finishes what the guest left
 * (csum, segmentation) and hands it GSO frames when it accepts them (net_sync_offloads). UFO
 * is not offered: Linux guests no longer send it and the tap ignores TUN_F_UFO. EVENT_IDX:
 * the rings' notifications follow used_event/avail_event (queue.h; vhost-net's too).
 * INDIRECT_DESC (as QEMU's virtio-net-pci): a TSO frame of up to 19 buffers takes one ring
 * entry instead of one per buffer, so a guest's tx ring holds 256 frames, not ~50 (13 at
 * worst): without it Linux stops its tx queue early and waits for a tx interrupt (the
 * guest->host gap against QEMU on vhost-net, docs/performance.md).
 */
#define NET_FEATURES                                                                       \
	(NET_F_CSUM | NET_F_GUEST_CSUM | NET_F_MAC | NET_F_GUEST_TSO4 | NET_F_GUEST_TSO6 | \
	 NET_F_GUEST_ECN | NET_F_HOST_TSO4 | NET_F_HOST_TSO6 | NET_F_HOST_ECN |            \
	 NET_F_MRG_RXBUF | NET_F_STATUS | NET_F_CTRL_VQ | NET_F_CTRL_RX | VIRTQ_F_EVENT_IDX |   \
	 VIRTQ_F_INDIRECT_DESC)

#define NET_S_LINK_UP 1

/* The control queue (5.1.6.5): classes, commands, acks. */
#define NET_CTRL_RX 0
#define NET_CTRL_RX_PROMISC 0
#define NET_CTRL_RX_ALLMULTI 1
#define NET_CTRL_MAC 1
#define NET_CTRL_MAC_TABLE_SET 0
#define NET_CTRL_MQ 4
#define NET_CTRL_MQ_VQ_PAIRS_SET 0
#define NET_OK 0
#define NET_ERR 1
#define NET_CONFIG_LEN 10 /* mac, status, max_virtqueue_pairs */

#define NET_ETH_HLEN 14
/* The largest frame either side may hand over: a 64 KiB GSO packet behind its headers. */
#define NET_FRAME_MAX (65535U + NET_ETH_HLEN + 4U)
#define NET_PKT_MAX (TAP_VNET_HDR_LEN + NET_FRAME_MAX)
/*
 * Packets moved per queue per wake-up: then the queue waits for its next turn in the
 * I/O thread's loop, so that a flooding queue or tap does not starve the others.
 */
#define NET_BUDGET 64

struct virtio_net;

struct net_pair {
	struct virtio_net *n;
	unsigned idx;
	int fd;         /* the backend's queue: frames behind a virtio_net_hdr_v1 */
	bool watched;   /* fd is on the I/O thread's loop */
	bool rx_armed;  /* ...and watched for input (off while the guest has no buffers) */
	uint8_t *pkt;   /* a frame read from fd and not delivered yet */
	size_t pkt_len; /* 0: none */
	bool pkt_paid;  /* the rx limiter's tokens for it are taken */
};

/*
 * How frames move between a pair's queues and its backend fd: the user-space datapath
 * (net_rx, net_tx on the device's I/O thread), or vhost-net (net-backend.h), which hands each
 * pair's fd to the kernel (VHOST_NET_SET_BACKEND) with the pair's rings, kick eventfds and
 * irqfds; then these hooks do nothing (the kicks go to the kernel, the taps are not watched).
 * The control queue, the config space, the pairs in use and save/load stay here whatever
 * the datapath.
 */
struct net_datapath {
	void (*rx)(struct virtio_net *n, struct net_pair *p); /* fd readable, or rx buffers posted */
	void (*tx)(struct virtio_net *n, struct net_pair *p); /* the guest kicked the tx queue */
};

struct virtio_net {
	struct virtio_pci_dev v; /* first */
	const struct net_datapath *dp;
	struct virtio_dev_ops ops; /* per device: the queue count follows the pair count */
	unsigned n_pairs;       /* pairs the device has (max_virtqueue_pairs) */
	unsigned pairs_in_use;  /* pairs the driver uses: 1 until VQ_PAIRS_SET (5.1.6.5.5) */
	uint64_t offloads_for; /* driver features the tap's offloads were set for */
	/* --net mac= given: a load keeps it over the saved config's (a restored clone's MAC) */
	bool mac_fixed;
	uint8_t mac[6];
	struct net_pair pair[VM_NET_MAX_QUEUE_PAIRS];
	struct virtio_net_counters ctr;
	bool vhost;          /* the datapath is vhost-net's */
	struct net_vhost nv; /* ...its workers, one per pair */
	/*
	 * rx_bps=, tx_bps=... (docs/vmm.md "Rate limits"), one limiter per direction for all
	 * pairs, as Firecracker's per interface. A direction out of tokens stops (rx: the frame
	 * in hand waits and the tap is not read; tx: the chain goes back on the ring) until
	 * rl_tfd, on the I/O thread's loop, fires.
	 */
	struct ratelimit rl[2];
	bool throttled[2];
	int rl_tfd;
};

enum { NET_RX, NET_TX };

static struct virtio_net *net_of(struct virtio_pci_dev *v)
{
	return (struct virtio_net *)v;
}

static uint64_t net_acked(const struct virtio_net *n)
{
	return (n->v.st.status & VIRTIO_STATUS_FEATURES_OK) ? n->v.st.driver_features : 0;
}

/*
 * The events a pair's fd is watched for: input, or nothing for now. "Nothing" is EPOLLET:
 * epoll reports EPOLLERR whatever the interest, and the fd of a tap deleted under the VM
 * polls as EPOLLERR from then on, which level-triggered epoll would report in a loop.
 */
#define NET_RX_ON EPOLLIN
#define NET_RX_OFF EPOLLET

/* Watch pair p's fd for input or not; without a loop (unit tests) only the flag moves. */
static void net_rx_arm(struct net_pair *p, bool on)
{
	struct virtio_net *n = p->n;

	if (p->rx_armed == on)
		return;
	p->rx_armed = on;
	if (p->watched && n->v.io_loop)
		(void)evloop_mod(n->v.io_loop, p->fd, on ? NET_RX_ON : NET_RX_OFF);
}

/*
 * Offloads the tap may use on frames to the guest: those the guest accepted (5.1.6.3.1:
 * a device must not hand it a checksum to finish or a GSO frame it did not negotiate).
 * Set again whenever the acked features change (a reset clears them).
 */
static void net_sync_offloads(struct virtio_net *n)
{
	uint64_t f = net_acked(n);
	unsigned tun = 0;

	if (f == n->offloads_for)
		return;
	if (f & NET_F_GUEST_CSUM) {
		tun |= TUN_F_CSUM;
		tun |= (f & NET_F_GUEST_TSO4) ? TUN_F_TSO4 : 0;
		tun |= (f & NET_F_GUEST_TSO6) ? TUN_F_TSO6 : 0;
		/* ECN only with TSO: the tap refuses TUN_F_TSO_ECN alone (and so would the rest) */
		tun |= (f & NET_F_GUEST_ECN) && (tun & (TUN_F_TSO4 | TUN_F_TSO6)) ? TUN_F_TSO_ECN : 0;
		tun |= (f & NET_F_GUEST_UFO) ? TUN_F_UFO : 0;
	}
	for (unsigned i = 0; i < n->n_pairs; i++)
		(void)tap_set_offload(n->pair[i].fd, tun); /* not a tap in unit tests */
	n->offloads_for = f;
}

/*
 * Deliver p's pending frame on rx queue vq: 1 delivered, 0 no room yet (the frame stays),
 * 2 dropped (counted), -errno when the guest broke the ring. Without MRG_RXBUF the frame
 * takes one chain, which must hold all of it; with it, as many chains as it fills, published
 * together with num_buffers in the first one's header (5.1.6.4).
 */
static int net_rx_deliver(struct virtio_net *n, struct virtq *vq, struct net_pair *p)
{
	static const unsigned max_bufs = VIRTQ_MAX_SIZE;
	bool mrg = net_acked(n) & NET_F_MRG_RXBUF;
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint32_t lens[VIRTQ_MAX_SIZE];
	struct virtq_elem first, e;
	struct net_hdr *h = (struct net_hdr *)(void *)p->pkt;
	size_t off = 0;
	unsigned k = 0;
	uint16_t nb;
	int r;

	if (!net_hdr_rx_ok(net_acked(n), h, p->pkt_len - TAP_VNET_HDR_LEN))
		goto drop;
	h->num_buffers = htole16(1);
	while (off < p->pkt_len) {
		size_t w;

		r = virtq_pop(vq, &e);
		if (r <= 0) {
			virtq_unpop(vq, k);
			return r;
		}
		w = virtq_elem_write(&e, 0, p->pkt + off, p->pkt_len - off);
		heads[k] = e.head;
		lens[k] = (uint32_t)w;
		if (k++ == 0)
			first = e;
		off += w;
		if (off < p->pkt_len && (!mrg || k == max_bufs)) {
			/* Too small (or, merged, more chains than a ring holds): keep the buffers. */
			virtq_unpop(vq, k);
			goto drop;
		}
	}
	if (k > 1) {
		nb = htole16((uint16_t)k);
		(void)virtq_elem_write(&first, offsetof(struct net_hdr, num_buffers), &nb, sizeof(nb));
	}
	r = virtq_push_n(vq, heads, lens, k);
	if (r < 0)
		return r;
	n->ctr.rx_packets++;
	n->ctr.rx_bytes += p->pkt_len - TAP_VNET_HDR_LEN;
	p->pkt_len = 0;
	return 1;
drop:
	n->ctr.rx_dropped++;
	p->pkt_len = 0;
	return 2;
}

/* Read the next frame from the backend into p->pkt: 1, 0 when there is none, -errno. */
static int net_rx_read(struct virtio_net *n, struct net_pair *p)
{
	for (;;) {
		ssize_t got = read(p->fd, p->pkt, NET_PKT_MAX);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (got == 0)
			return 0;
		if ((size_t)got < TAP_VNET_HDR_LEN + NET_ETH_HLEN) {
			n->ctr.rx_dropped++; /* a runt: nothing a guest could use */
			continue;
		}
		p->pkt_len = (size_t)got;
		p->pkt_paid = false;
		return 1;
	}
}

/*
 * Take direction dir's tokens for a frame of len bytes (v->lock held): true when it may go
 * now; else the direction is throttled and rl_tfd armed for when it may.
 */
static bool net_rl_take(struct virtio_net *n, int dir, uint64_t len)
{
	uint64_t now, wait;
	struct itimerspec its = { 0 };

	if (!ratelimit_active(&n->rl[dir]))
		return true;
	now = vm_now_ns();
	if (ratelimit_consume(&n->rl[dir], len, 1, now))
		return true;
	wait = ratelimit_wait_ns(&n->rl[dir], len, 1, now);
	n->throttled[dir] = true;
	if (n->rl_tfd < 0)
		return false; /* unit tests: virtio_net_test_rate_timer resumes */
	(void)timerfd_gettime(n->rl_tfd, &its);
	/* the earlier of the two directions' times wins: the other looks again then */
	if (its.it_value.tv_sec || its.it_value.tv_nsec) {
		uint64_t left = (uint64_t)its.it_value.tv_sec * 1000000000ULL +
				(uint64_t)its.it_value.tv_nsec;

		if (left <= wait)
			return false;
	}
	its = (struct itimerspec){ .it_value = { .tv_sec = (time_t)(wait / 1000000000ULL),
						 .tv_nsec = (long)(wait % 1000000000ULL) } };
	(void)timerfd_settime(n->rl_tfd, 0, &its, NULL);
	return false;
}

/*
 * Move frames from pair p's backend to its rx queue (v->lock held), at most NET_BUDGET.
 * Out of guest buffers: stop watching the fd (the frame in hand waits) until the guest
 * posts buffers and kicks; the tap keeps queueing meanwhile, or drops by its own policy.
 */
static void net_rx(struct virtio_net *n, struct net_pair *p)
{
	struct virtq *vq = &n->v.st.vq[2 * p->idx];
	bool delivered = false, stop = false;
	int r = 0;

	if (!(n->v.st.status & VIRTIO_STATUS_DRIVER_OK) || !vq->ready || vq->broken ||
	    p->idx >= n->pairs_in_use || n->throttled[NET_RX] || n->v.frozen) {
		/* a kick after DRIVER_OK (or VQ_PAIRS_SET, a thaw), or rl_tfd, brings it back */
		net_rx_arm(p, false);
		return;
	}
	net_sync_offloads(n);
	for (unsigned done = 0; done < NET_BUDGET; done++) {
		if (!p->pkt_len) {
			r = net_rx_read(n, p);
			/* A backend error (not EAGAIN) would wake us forever: wait for a kick. */
			stop = r < 0;
			if (r <= 0)
				break;
		}
		if (!p->pkt_paid) {
			if (!net_rl_take(n, NET_RX, p->pkt_len - TAP_VNET_HDR_LEN)) {
				stop = true; /* the frame waits for rl_tfd */
				break;
			}
			p->pkt_paid = true;
		}
		r = net_rx_deliver(n, vq, p);
		if (r <= 0) {
			stop = true; /* no room (the frame waits) or a broken ring */
			n->ctr.rx_stalls += r == 0;
			break;
		}
		delivered |= r == 1;
	}
	if (delivered)
		virtio_pci_notify(&n->v, 2 * p->idx);
	if (vq->broken)
		virtio_pci_device_error(&n->v);
	net_rx_arm(p, !stop);
}

/*
 * One frame from the guest to the backend: the header is copied first and checked, and that
 * copy (not the guest's memory, which it may change meanwhile) is what the tap reads.
 */
static void net_tx_one(struct virtio_net *n, struct net_pair *p, const struct virtq_elem *e)
{
	struct iovec iov[VIRTQ_MAX_CHAIN + 1];
	struct net_hdr h;
	size_t skip = sizeof(h), frame = 0;
	unsigned k = 1;
	ssize_t w;

	if (e->in_len < sizeof(h) + NET_ETH_HLEN || e->in_len > NET_PKT_MAX) {
		n->ctr.tx_dropped++;
		return;
	}
	frame = (size_t)e->in_len - sizeof(h);
	(void)virtq_elem_read(e, 0, &h, sizeof(h));
	if (!net_hdr_tx_ok(net_acked(n), &h, frame)) {
		n->ctr.tx_dropped++;
		n->ctr.tx_bad_hdr++;
		return;
	}
	h.num_buffers = 0;
	iov[0] = (struct iovec){ &h, sizeof(h) };
	for (unsigned i = 0; i < e->n_in; i++) {
		size_t l = e->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		iov[k++] = (struct iovec){ (uint8_t *)e->iov[i].iov_base + skip, l - skip };
		skip = 0;
	}
	do
		w = writev(p->fd, iov, (int)k);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		n->ctr.tx_dropped++; /* the tap is down or full: the frame is lost, as on a wire */
		return;
	}
	n->ctr.tx_packets++;
	n->ctr.tx_bytes += frame;
}

/* The guest's frames on pair p's tx queue to the backend (v->lock held), NET_BUDGET at most. */
static void net_tx(struct virtio_net *n, struct net_pair *p)
{
	unsigned q = 2 * p->idx + 1, done = 0;
	struct virtq *vq = &n->v.st.vq[q];
	struct virtq_elem e;
	int r = 0;

	if (n->throttled[NET_TX] || n->v.frozen)
		return; /* rl_tfd comes back; a thaw kicks the queue */
	net_sync_offloads(n);
	while (done < NET_BUDGET && (r = virtq_pop(vq, &e)) > 0) {
		if (!net_rl_take(n, NET_TX, e.in_len > sizeof(struct net_hdr)
						    ? e.in_len - sizeof(struct net_hdr) : 0)) {
			virtq_unpop(vq, 1); /* sent when rl_tfd fires */
			break;
		}
		net_tx_one(n, p, &e);
		(void)virtq_push(vq, e.head, 0);
		done++;
	}
	if (done)
		virtio_pci_notify(&n->v, q);
	if (r < 0)
		virtio_pci_device_error(&n->v);
	else if (done == NET_BUDGET && !n->throttled[NET_TX] && n->v.kick_fd[q] >= 0) {
		uint64_t one = 1;

		/* More may wait: come back after the loop's other work (the kick's eventfd). */
		(void)!write(n->v.kick_fd[q], &one, sizeof(one));
	}
}

/*
 * Use the first want pairs (v->lock held): the others' tap queues are detached, so that the
 * tap steers every flow to a queue the guest reads, and a frame held for them is dropped.
 */
static void net_set_pairs(struct virtio_net *n, unsigned want)
{
	for (unsigned i = 0; i < n->n_pairs; i++) {
		struct net_pair *p = &n->pair[i];
		bool on = i < want;

		if (i > 0 && n->n_pairs > 1)
			(void)tap_set_queue(p->fd, on); /* not a tap in unit tests */
		if (!on)
			p->pkt_len = 0;
		net_rx_arm(p, on);
	}
	n->pairs_in_use = want;
}

/* The control queue's index: after the pairs when MQ is on, else 2 (5.1.2). */
static unsigned net_ctrl_queue(const struct virtio_net *n)
{
	return (net_acked(n) & NET_F_MQ) ? 2 * n->n_pairs : 2;
}

/* VIRTIO_NET_CTRL_MAC_TABLE_SET's data: two tables (le32 entries, entries MACs) exactly. */
static bool net_mac_tables_ok(const struct virtq_elem *e, uint64_t len)
{
	uint64_t off = 2;

	for (unsigned t = 0; t < 2; t++) {
		uint32_t entries;

		if (len - off < 4 || virtq_elem_read(e, off, &entries, 4) != 4)
			return false;
		entries = le32toh(entries);
		off += 4;
		if (entries > (len - off) / 6)
			return false;
		off += 6ULL * entries;
	}
	return off == len;
}

/*
 * One control command (5.1.6.5): the ack. RX mode and MAC filters are accepted and not
 * applied (the tap hands over every frame; the guest's stack filters); the number of queue
 * pairs is applied; anything else, or a command the guest did not negotiate, is an error.
 */
static uint8_t net_ctrl_cmd(struct virtio_net *n, const struct virtq_elem *e)
{
	uint64_t f = net_acked(n), len = e->in_len;
	uint8_t hdr[2], on;
	uint16_t pairs;

	if (len < 2 || virtq_elem_read(e, 0, hdr, 2) != 2)
		return NET_ERR;
	switch (hdr[0]) {
	case NET_CTRL_RX:
		if (!(f & NET_F_CTRL_RX) || len != 3 ||
		    (hdr[1] != NET_CTRL_RX_PROMISC && hdr[1] != NET_CTRL_RX_ALLMULTI))
			return NET_ERR;
		(void)virtq_elem_read(e, 2, &on, 1);
		return on <= 1 ? NET_OK : NET_ERR;
	case NET_CTRL_MAC:
		if (!(f & NET_F_CTRL_RX) || hdr[1] != NET_CTRL_MAC_TABLE_SET)
			return NET_ERR;
		return net_mac_tables_ok(e, len) ? NET_OK : NET_ERR;
	case NET_CTRL_MQ:
		if (!(f & NET_F_MQ) || hdr[1] != NET_CTRL_MQ_VQ_PAIRS_SET || len != 4)
			return NET_ERR;
		(void)virtq_elem_read(e, 2, &pairs, 2);
		pairs = le16toh(pairs);
		if (pairs < 1 || pairs > n->n_pairs)
			return NET_ERR;
		net_set_pairs(n, pairs);
		return NET_OK;
	default:
		return NET_ERR;
	}
}

/* The control queue's commands, each acked in its first writable byte (v->lock held). */
static void net_ctrl(struct virtio_net *n, unsigned q)
{
	struct virtq *vq = &n->v.st.vq[q];
	struct virtq_elem e;
	unsigned done = 0;
	int r = 0;

	while (done < NET_BUDGET && (r = virtq_pop(vq, &e)) > 0) {
		uint8_t ack = net_ctrl_cmd(n, &e);
		uint32_t w = 0;

		if (e.n_out && e.iov[e.n_in].iov_len) {
			*(uint8_t *)e.iov[e.n_in].iov_base = ack;
			w = 1;
		}
		(void)virtq_push(vq, e.head, w);
		done++;
	}
	if (done)
		virtio_pci_notify(&n->v, q);
	if (r < 0)
		virtio_pci_device_error(&n->v);
}

static const struct net_datapath net_user_datapath = { .rx = net_rx, .tx = net_tx };

static void net_vhost_nothing(struct virtio_net *n, struct net_pair *p)
{
}

static const struct net_datapath net_vhost_datapath = {
	.rx = net_vhost_nothing, /* the kernel reads the tap when the guest has buffers */
	.tx = net_vhost_nothing,
};

/* Watch queue 2's kick fd for a control queue there (net_on_queue2_kick) or not. */
static void net_queue2_watch(struct virtio_net *n, bool on)
{
	if (n->n_pairs > 1 && n->v.io_loop && n->v.kick_fd[2] >= 0)
		(void)evloop_mod(n->v.io_loop, n->v.kick_fd[2], on ? EPOLLIN : 0);
}

/* DRIVER_OK with vhost-net (v->lock held): the tap's offloads, then the workers. */
static int net_activate(struct virtio_pci_dev *v)
{
	struct virtio_net *n = net_of(v);
	bool mq = net_acked(n) & NET_F_MQ;
	int taps[VM_NET_MAX_QUEUE_PAIRS];
	int r;

	for (unsigned i = 0; i < n->n_pairs; i++)
		taps[i] = n->pair[i].fd;
	net_sync_offloads(n);
	r = net_vhost_start(&n->nv, taps, mq);
	if (r == 0)
		net_queue2_watch(n, !mq && (net_acked(n) & NET_F_CTRL_VQ));
	return r;
}

static void net_deactivate(struct virtio_pci_dev *v)
{
	net_queue2_watch(net_of(v), false);
	net_vhost_stop(&net_of(v)->nv);
}

static void net_msix_changed(struct virtio_pci_dev *v)
{
	net_vhost_update_calls(&net_of(v)->nv);
}

/*
 * Queue 2's kick fd with vhost-net on more than one pair: pair 1's rx ring for a driver
 * with MQ, which the worker reads; the control queue for one without (5.1.2), which this
 * device serves then (net_activate watches it, a reset stops watching it).
 */
static void net_on_queue2_kick(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t k;

	if (read(fd, &k, sizeof(k)) != sizeof(k))
		return;
	pthread_mutex_lock(&n->v.lock);
	if (!(net_acked(n) & NET_F_MQ) && (n->v.st.status & VIRTIO_STATUS_DRIVER_OK) &&
	    n->v.st.vq[2].ready && !n->v.st.vq[2].broken)
		net_ctrl(n, 2);
	pthread_mutex_unlock(&n->v.lock);
}

static void net_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	struct virtio_net *n = net_of(v);
	struct net_pair *p = &n->pair[q / 2];

	if (q == net_ctrl_queue(n)) {
		net_ctrl(n, q);
		return;
	}
	if (q / 2 >= n->pairs_in_use) /* a pair not in use (or the idle control slot) */
		return;
	if (q % 2)
		n->dp->tx(n, p);
	else
		n->dp->rx(n, p); /* new buffers: deliver what waits, watch the tap again */
}

/* The backend has input for pair p (the I/O thread's loop). */
static void net_on_backend(void *opaque, int fd, uint32_t events)
{
	struct net_pair *p = opaque;

	pthread_mutex_lock(&p->n->v.lock);
	p->n->dp->rx(p->n, p);
	pthread_mutex_unlock(&p->n->v.lock);
}

/* Both directions look again at their limiters (v->lock held). */
static void net_rate_resume(struct virtio_net *n)
{
	n->throttled[NET_RX] = n->throttled[NET_TX] = false;
	for (unsigned i = 0; i < n->pairs_in_use; i++) {
		n->dp->tx(n, &n->pair[i]);
		n->dp->rx(n, &n->pair[i]);
	}
}

/* rl_tfd fired (the I/O thread's loop): what waited for tokens goes on. */
static void net_on_rate_timer(void *opaque, int fd, uint32_t events)
{
	struct virtio_net *n = opaque;
	uint64_t ticks;

	(void)!read(fd, &ticks, sizeof(ticks));
	pthread_mutex_lock(&n->v.lock);
	if (n->v.st.status & VIRTIO_STATUS_DRIVER_OK)
		net_rate_resume(n);
	pthread_mutex_unlock(&n->v.lock);
}

void virtio_net_set_rate_limit(struct virtio_pci_dev *v, const struct ratelimit_config *rx,
			       const struct ratelimit_config *tx)
{
	struct virtio_net *n = net_of(v);
	uint64_t now = vm_now_ns();

	pthread_mutex_lock(&v->lock);
	if (rx)
		ratelimit_init(&n->rl[NET_RX], rx, now);
	if (tx)
		ratelimit_init(&n->rl[NET_TX], tx, now);
	/* what waited for the old limits is looked at again at once */
	if ((n->throttled[NET_RX] || n->throttled[NET_TX]) &&
	    (v->st.status & VIRTIO_STATUS_DRIVER_OK))
		net_rate_resume(n);
	pthread_mutex_unlock(&v->lock);
}

void virtio_net_test_rate_timer(struct virtio_pci_dev *v)
{
	struct virtio_net *n = net_of(v);

	pthread_mutex_lock(&v->lock);
	net_rate_resume(n);
	pthread_mutex_unlock(&v->lock);
}

/* Device reset (v->lock held): a frame in hand was read for the old driver; watch again. */
static void net_reset(struct virtio_pci_dev *v)
{
	struct virtio_net *n = net_of(v);

	for (unsigned i = 0; i < n->n_pairs; i++)
		n->pair[i].pkt_len = 0;
	n->throttled[NET_RX] = n->throttled[NET_TX] = false;
	net_set_pairs(n, 1);
}

/* struct virtio_net_config (5.1.4): mac, status, max_virtqueue_pairs. */
static void net_config(struct virtio_net *n, const uint8_t mac[6])
{
	uint8_t *c = n->v.st.config;
	uint16_t v16;

	memcpy(c, mac, 6);
	v16 = htole16(NET_S_LINK_UP);
	memcpy(c + 6, &v16, 2);
	v16 = htole16((uint16_t)n->n_pairs);
	memcpy(c + 8, &v16, 2);
	n->v.st.config_len = NET_CONFIG_LEN;
}

static struct virtio_net *net_alloc(const uint8_t mac[6], const int *fds, unsigned n_pairs)
{
	struct virtio_net *n = xcalloc(1, sizeof(*n));

	n->dp = &net_user_datapath;
	net_vhost_init(&n->nv);
	n->rl_tfd = -1;
	n->n_pairs = n_pairs;
	n->pairs_in_use = n_pairs; /* net_reset (by virtio_pci_init) makes it 1 */
	n->offloads_for = ~0ULL; /* set at the first use */
	n->ops = (struct virtio_dev_ops){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.class_code = 0x020000, /* network controller, Ethernet */
		.features = NET_FEATURES | (n_pairs > 1 ? NET_F_MQ : 0),
		.num_queues = (uint16_t)(2 * n_pairs + 1), /* and the control queue */
		.queue_max = NET_QUEUE_SIZE,
		.io_thread = true, /* a flooded tap must not hold up the console or the API */
		.queue_notify = net_queue_notify,
		.reset = net_reset,
	};
	for (unsigned i = 0; i < VM_NET_MAX_QUEUE_PAIRS; i++)
		n->pair[i] = (struct net_pair){ .n = n, .idx = i, .fd = -1 };
	for (unsigned i = 0; i < n_pairs; i++) {
		n->pair[i].fd = fds[i];
		n->pair[i].pkt = xmalloc(NET_PKT_MAX);
		n->pair[i].rx_armed = true;
	}
	net_config(n, mac);
	return n;
}

/* Before virtio_pci_init: the pairs' kicks go to the kernel's workers. */
static void net_use_vhost(struct virtio_net *n)
{
	n->vhost = true;
	n->dp = &net_vhost_datapath;
	n->ops.vhost_queues = (1U << (2 * n->n_pairs)) - 1;
	n->ops.activate = net_activate;
	n->ops.deactivate = net_deactivate;
	n->ops.msix_changed = net_msix_changed;
}

/* After it: the workers, and queue 2's kick fd watched for a control queue there. */
static int net_vhost_create(struct virtio_net *n, const char *tap, int *fds,
			    struct hull_err *err)
{
	int r = net_vhost_attach(&n->nv, &n->v, fds, n->n_pairs, err);

	if (r < 0)
		return hull_err_prefix(err, "--net tap=%s,vhost", tap);
	/* the workers' rings: only what every one of them follows (vhost-net has both) */
	for (unsigned i = 0; i < n->n_pairs; i++)
		if (n->nv.vh[i].fd >= 0)
			n->v.features &= ~((VIRTQ_F_INDIRECT_DESC | VIRTQ_F_EVENT_IDX) &
					   ~n->nv.vh[i].features);
	if (n->n_pairs > 1 && n->v.io_loop && n->v.kick_fd[2] >= 0) {
		r = evloop_add(n->v.io_loop, n->v.kick_fd[2], 0, net_on_queue2_kick, n);
		if (r < 0)
			return hull_err_set(err, -r, "virtio-net: event loop");
	}
	return 0;
}

int virtio_net_create(struct vm *vm, const struct vm_net_config *c, struct virtio_net_backend *b,
		      struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct virtio_net *n;
	uint8_t mac[6];
	int r;

	memcpy(mac, c->mac, 6);
	if (!c->mac_set)
		net_random_mac(mac);
	n = net_alloc(mac, b->fd, b->n_pairs);
	n->mac_fixed = c->mac_set;
	memcpy(n->mac, mac, 6);
	for (unsigned i = 0; i < b->n_pairs; i++)
		b->fd[i] = -1;
	if (b->vhost)
		net_use_vhost(n);
	ratelimit_init(&n->rl[NET_RX], &c->rx_rate, vm_now_ns());
	ratelimit_init(&n->rl[NET_TX], &c->tx_rate, vm_now_ns());
	r = virtio_pci_init(&n->v, vm, &vm->mem, &n->ops, err);
	if (r == 0 && n->vhost)
		r = net_vhost_create(n, c->tap, b->vhost_fd, err);
	if (r == 0) {
		n->rl_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		r = n->rl_tfd < 0 ? -errno
				  : evloop_add(n->v.io_loop, n->rl_tfd, EPOLLIN, net_on_rate_timer, n);
		if (r < 0)
			(void)hull_err_set(err, -r, "virtio-net: rate limiter timer");
	}
	for (unsigned i = 0; r == 0 && !n->vhost && i < n->n_pairs; i++) {
		r = evloop_add(n->v.io_loop, n->pair[i].fd,
			       n->pair[i].rx_armed ? NET_RX_ON : NET_RX_OFF,
			       net_on_backend, &n->pair[i]);
		if (r < 0)
			(void)hull_err_set(err, -r, "virtio-net: event loop");
		n->pair[i].watched = r == 0;
	}
	if (r < 0) {
		virtio_net_free(&n->v);
		return r;
	}
	*ret = &n->v;
	return 0;
}

struct virtio_pci_dev *virtio_net_new_test(const struct guest_mem *mem, const uint8_t mac[6],
					   const int *fds, unsigned n_pairs)
{
	struct virtio_net *n = net_alloc(mac, fds, n_pairs);

	(void)virtio_pci_init(&n->v, NULL, mem, &n->ops, NULL);
	return &n->v;
}

void virtio_net_test_rx(struct virtio_pci_dev *v, unsigned pair)
{
	net_on_backend(&net_of(v)->pair[pair], net_of(v)->pair[pair].fd, EPOLLIN);
}

bool virtio_net_test_rx_armed(struct virtio_pci_dev *v, unsigned pair)
{
	bool on;

	pthread_mutex_lock(&v->lock);
	on = net_of(v)->pair[pair].rx_armed;
	pthread_mutex_unlock(&v->lock);
	return on;
}

uint32_t virtio_net_test_rx_events(struct virtio_pci_dev *v, unsigned pair)
{
	return virtio_net_test_rx_armed(v, pair) ? NET_RX_ON : NET_RX_OFF;
}

void virtio_net_free(struct virtio_pci_dev *v)
{
	struct virtio_net *n = net_of(v);

	if (!v)
		return;
	net_vhost_release(&n->nv); /* the workers first: they use the kick fds and the taps */
	virtio_pci_release(v); /* the I/O thread stops first: it may be using the fds */
	for (unsigned i = 0; i < VM_NET_MAX_QUEUE_PAIRS; i++) {
		if (n->pair[i].fd >= 0)
			(void)close(n->pair[i].fd);
		free(n->pair[i].pkt);
	}
	if (n->rl_tfd >= 0)
		(void)close(n->rl_tfd);
	free(n);
}

void virtio_net_save(struct virtio_pci_dev *v, struct state_writer *w)
{
	pthread_mutex_lock(&v->lock);
	state_put_u16(w, (uint16_t)net_of(v)->pairs_in_use);
	pthread_mutex_unlock(&v->lock);
	virtio_pci_save(v, w);
}

/*
 * The transport's part of a stream, looked at before it is loaded: its config space must
 * announce this device's pairs, and more than one pair in use needs MQ negotiated.
 */
static bool net_state_agrees(const struct virtio_net *n, struct state_reader r, uint16_t pairs)
{
	uint8_t config[VIRTIO_CONFIG_MAX];
	uint32_t len = 0, sel;
	uint64_t features = 0;
	uint16_t max;

	if (state_get_u32(&r, &len) < 0 || len != NET_CONFIG_LEN ||
	    state_get_bytes(&r, config, len) < 0 || state_get_u32(&r, &sel) < 0 ||
	    state_get_u32(&r, &sel) < 0 || state_get_u64(&r, &features) < 0)
		return false;
	memcpy(&max, config + 8, 2);
	return le16toh(max) == n->n_pairs && (pairs == 1 || (features & NET_F_MQ));
}

int virtio_net_load(struct virtio_pci_dev *v, struct state_reader *r)
{
	struct virtio_net *n = net_of(v);
	uint16_t pairs = 0;
	int e;

	if (state_get_u16(r, &pairs) < 0 || pairs < 1 || pairs > n->n_pairs ||
	    !net_state_agrees(n, *r, pairs))
		return -EBADMSG;
	e = virtio_pci_load(v, r);
	if (e < 0)
		return e;
	pthread_mutex_lock(&v->lock);
	for (unsigned i = 0; i < n->n_pairs; i++)
		n->pair[i].pkt_len = 0;
	n->offloads_for = ~0ULL; /* the tap's offloads follow the loaded features */
	if (n->mac_fixed) /* the guest reads it when its driver probes again (docs/vmm.md) */
		memcpy(n->v.st.config, n->mac, 6);
	net_set_pairs(n, pairs);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

bool virtio_net_is_vhost(struct virtio_pci_dev *v)
{
	return net_of(v)->vhost;
}

int virtio_net_tap_fd(struct virtio_pci_dev *v)
{
	return net_of(v)->pair[0].fd;
}

void virtio_net_get_counters(struct virtio_pci_dev *v, struct virtio_net_counters *ret)
{
	pthread_mutex_lock(&v->lock);
	*ret = net_of(v)->ctr;
	pthread_mutex_unlock(&v->lock);
}

int virtio_net_counters(struct vm *vm, unsigned nic, struct virtio_net_counters *ret)
{
	if (nic >= VM_MAX_NICS || !vm->nics[nic])
		return -ENOENT;
	virtio_net_get_counters(vm->nics[nic], ret);
	return 0;
}
