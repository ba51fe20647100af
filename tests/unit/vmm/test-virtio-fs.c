/*
 * virtio-fs (virtio/fs.c) and its vhost-user frontend (vhost-user.c) against a fake backend on
 * the other end of a socketpair (a thread), the device driven through BAR0 (virtio-driver.h):
 *
 * - the handshake: GET_FEATURES, GET/SET_PROTOCOL_FEATURES (only what hull speaks),
 *   GET_QUEUE_NUM, SET_OWNER; DRIVER_OK sends SET_FEATURES, SET_MEM_TABLE (the memfd, one
 *   region), and per ready ring NUM, BASE, ADDR (inside guest RAM), KICK (an fd), ENABLE,
 *   CALL; a reset sends GET_VRING_BASE and the queue continues where the backend said;
 * - the configuration space: device id 26, the tag, num_request_queues;
 * - a hostile backend: a reply of the wrong size, for another request, without the reply
 *   flag, a refusing ack, a closed socket, a bad GET_VRING_BASE: each one fails the request
 *   (setup fails with a message; at DRIVER_OK the device reports DEVICE_NEEDS_RESET) and
 *   nothing is read past the reply;
 * - rings outside guest RAM are never handed to the backend.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/vhost-user.h"
#include "vmm/virtio/fs.h"
#include "vmm/virtio/pci.h"
#include "vmm/vmm.h"

#include "virtio-driver.h"

enum hostile {
	H_NONE,
	H_WRONG_SIZE,  /* the reply to `on` has a payload of 4 bytes */
	H_WRONG_ID,    /* the reply to `on` names another request */
	H_NO_REPLY_FLAG,
	H_NACK,        /* a non-zero ack to `on` */
	H_CLOSE,       /* close the socket on `on` */
	H_HUGE_SIZE,   /* the reply to `on` claims 0xffffffff bytes */
	H_BAD_BASE,    /* GET_VRING_BASE answers another ring */
};

#define LOG_MAX 128

struct fake {
	int sock;
	uint64_t features, protocol_features, queue_num, base;
	enum hostile hostile;
	uint32_t on; /* the request the hostility applies to */
	/* what the frontend sent */
	unsigned n;
	uint32_t req[LOG_MAX];
	unsigned nfds[LOG_MAX];
	uint64_t u64[LOG_MAX];
	uint32_t state[LOG_MAX][2];
	struct vhost_user_mem mem;
	struct vhost_user_vring_addr addr[4];
	pthread_t tid;
};

/* A reply, or with the hostility for f->on the header lies; the bytes sent are the real ones. */
static void fake_reply(struct fake *f, uint32_t req, const void *p, uint32_t len)
{
	struct vhost_user_hdr h = { .request = req, .flags = 1 | VHOST_USER_FLAG_REPLY, .size = len };
	uint8_t buf[sizeof(h) + 8];

	if (req == f->on) {
		switch (f->hostile) {
		case H_WRONG_SIZE: h.size = 4; len = 4; break;
		case H_WRONG_ID: h.request = req + 1; break;
		case H_NO_REPLY_FLAG: h.flags = 1; break;
		case H_HUGE_SIZE: h.size = 0xffffffffU; break;
		case H_NONE: case H_NACK: case H_CLOSE: case H_BAD_BASE: break;
		}
	}
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), p, len);
	(void)!write(f->sock, buf, sizeof(h) + len);
}

/* Read one message: header, payload (bounded), fds. 0, or -1 at EOF. */
static int fake_recv(struct fake *f, struct vhost_user_hdr *h, uint8_t *p, size_t max,
		     unsigned *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
		struct cmsghdr align;
	} c;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof(*h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			      .msg_controllen = sizeof(c.buf) };
	ssize_t n = recvmsg(f->sock, &msg, MSG_WAITALL);

	if (n != sizeof(*h))
		return -1;
	*nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		for (unsigned i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
			(void)close(fd);
		}
		*nfds += k;
	}
	if (h->size > max)
		return -1;
	if (h->size && recv(f->sock, p, h->size, MSG_WAITALL) != (ssize_t)h->size)
		return -1;
	return 0;
}

static void fake_log(struct fake *f, const struct vhost_user_hdr *h, const uint8_t *p,
		     unsigned nfds)
{
	unsigned i = f->n < LOG_MAX ? f->n++ : LOG_MAX - 1;

	f->req[i] = h->request;
	f->nfds[i] = nfds;
	if (h->size >= 8)
		memcpy(&f->u64[i], p, 8);
	if (h->size >= 8)
		memcpy(f->state[i], p, 8);
	if (h->request == VHOST_USER_SET_MEM_TABLE)
		memcpy(&f->mem, p, h->size < sizeof(f->mem) ? h->size : sizeof(f->mem));
	if (h->request == VHOST_USER_SET_VRING_ADDR && h->size == sizeof(f->addr[0]) &&
	    f->state[i][0] < 4)
		memcpy(&f->addr[f->state[i][0]], p, sizeof(f->addr[0]));
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct vhost_user_hdr h;
	uint8_t p[512];
	unsigned nfds;

	while (fake_recv(f, &h, p, sizeof(p), &nfds) == 0) {
		uint32_t st[2];

		fake_log(f, &h, p, nfds);
		if (h.request == f->on && f->hostile == H_CLOSE)
			break;
		switch (h.request) {
		case VHOST_USER_GET_FEATURES:
			fake_reply(f, h.request, &f->features, 8);
			continue;
		case VHOST_USER_GET_PROTOCOL_FEATURES:
			fake_reply(f, h.request, &f->protocol_features, 8);
			continue;
		case VHOST_USER_GET_QUEUE_NUM:
			fake_reply(f, h.request, &f->queue_num, 8);
			continue;
		case VHOST_USER_GET_VRING_BASE:
			memcpy(st, p, 8);
			st[1] = (uint32_t)f->base;
			if (f->hostile == H_BAD_BASE)
				st[0] += 1;
			fake_reply(f, h.request, st, 8);
			continue;
		default:
			break;
		}
		if (h.flags & VHOST_USER_FLAG_NEED_REPLY) {
			uint64_t ack = f->hostile == H_NACK && h.request == f->on;

			fake_reply(f, h.request, &ack, 8);
		}
	}
	(void)close(f->sock);
	return NULL;
}

static int fake_start(struct fake *f, enum hostile hostile, uint32_t on)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->sock = sv[1];
	f->features = VIRTIO_F_VERSION_1 | VHOST_USER_F_PROTOCOL_FEATURES | VIRTQ_F_EVENT_IDX;
	f->protocol_features = (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
			       (1ULL << VHOST_USER_PROTOCOL_F_MQ) | (1ULL << 9) /* CONFIG */;
	f->queue_num = 2;
	f->base = 5;
	f->hostile = hostile;
	f->on = on;
	assert_int_equal(pthread_create(&f->tid, NULL, fake_main, f), 0);
	return sv[0];
}

static const struct vm_fs_config fs_cfg = { .tag = "share", .socket = "test.sock",
					    .queues = 1, .queue_size = 16 };

static unsigned log_find(const struct fake *f, uint32_t req, unsigned from)
{
	for (unsigned i = from; i < f->n; i++)
		if (f->req[i] == req)
			return i;
	fail_msg("request %u not sent", req);
	return 0;
}

static void test_handshake_and_start(void **state)
{
	struct guest_mem mem;
	struct virtio_pci_dev *v = NULL;
	struct hull_err err = { 0 };
	struct fake f;
	int sock;
	unsigned i;
	char tag[37] = { 0 };

	assert_int_equal(gmem_init_shared(&mem, 1U << 20, true), 0);
	assert_true(mem.fd >= 0);
	sock = fake_start(&f, H_NONE, 0);
	assert_int_equal(virtio_fs_new_test(&mem, &fs_cfg, sock, &v, &err), 0);
	/* the handshake, in order */
	const uint32_t hs[] = { VHOST_USER_GET_FEATURES, VHOST_USER_GET_PROTOCOL_FEATURES,
				VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_GET_QUEUE_NUM,
				VHOST_USER_SET_OWNER };
	for (i = 0; i < 5; i++)
		assert_int_equal(f.req[i], hs[i]);
	/* only REPLY_ACK and MQ: CONFIG is not spoken by hull */
	assert_int_equal(f.u64[2], (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |
					   (1ULL << VHOST_USER_PROTOCOL_F_MQ));
	/* PCI id 0x1040 + 26, the configuration space */
	assert_int_equal(v->pci.cfg[2] | v->pci.cfg[3] << 8, 0x1040 + 26);
	for (i = 0; i < 36; i++)
		tag[i] = (char)bar_r(v, VIRTIO_BAR_DEVICE + i, 1);
	assert_string_equal(tag, "share");
	assert_int_equal(bar_r(v, VIRTIO_BAR_DEVICE + 36, 4), 1);
	/* the driver: two queues, DRIVER_OK */
	drv_features(v);
	drv_queue(v, 0, 16, 1, DESC, AVAIL, USED);
	drv_queue(v, 1, 16, 2, DESC + 0x4000, AVAIL + 0x4000, USED + 0x4000);
	drv_ok(v);
	assert_false(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	i = log_find(&f, VHOST_USER_SET_FEATURES, 5);
	assert_true(f.u64[i] & VIRTIO_F_VERSION_1);
	assert_true(f.u64[i] & VHOST_USER_F_PROTOCOL_FEATURES);
	i = log_find(&f, VHOST_USER_SET_MEM_TABLE, i);
	assert_int_equal(f.nfds[i], 1);
	assert_int_equal(f.mem.nregions, 1);
	assert_int_equal(f.mem.r[0].size, 1U << 20);
	assert_int_equal(f.mem.r[0].uaddr, (uint64_t)(uintptr_t)mem.host);
	for (uint32_t q = 0; q < 2; q++) {
		i = log_find(&f, VHOST_USER_SET_VRING_NUM, i);
		assert_int_equal(f.state[i][0], q);
		assert_int_equal(f.state[i][1], 16);
		i = log_find(&f, VHOST_USER_SET_VRING_KICK, i);
		assert_int_equal(f.nfds[i], 1);
		assert_int_equal(f.u64[i], q);
		i = log_find(&f, VHOST_USER_SET_VRING_ENABLE, i);
		assert_int_equal(f.state[i][1], 1);
		assert_int_equal(f.addr[q].desc, (uint64_t)(uintptr_t)(mem.host + DESC + q * 0x4000));
	}
	/* the call fds: the fallback eventfd of each vector (no VM, no irqfd) */
	i = log_find(&f, VHOST_USER_SET_VRING_CALL, i);
	assert_int_equal(f.nfds[i], 1);
	/* a reset: the backend stops the rings and says where they were */
	bar_w(v, 0x14, 0, 1);
	i = log_find(&f, VHOST_USER_GET_VRING_BASE, i);
	virtio_fs_free(v);
	pthread_join(f.tid, NULL);
	gmem_release(&mem);
}

/* Each hostile reply during the handshake fails the setup with a message; nothing hangs. */
static void test_hostile_setup(void **state)
{
	static const struct {
		enum hostile h;
		uint32_t on;
	} cases[] = {
		{ H_WRONG_SIZE, VHOST_USER_GET_FEATURES },
		{ H_WRONG_ID, VHOST_USER_GET_FEATURES },
		{ H_NO_REPLY_FLAG, VHOST_USER_GET_PROTOCOL_FEATURES },
		{ H_HUGE_SIZE, VHOST_USER_GET_QUEUE_NUM },
		{ H_NACK, VHOST_USER_SET_OWNER },
		{ H_CLOSE, VHOST_USER_GET_FEATURES },
		{ H_CLOSE, VHOST_USER_SET_OWNER },
	};
	struct guest_mem mem;

	assert_int_equal(gmem_init_shared(&mem, 1U << 20, true), 0);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct virtio_pci_dev *v = NULL;
		struct hull_err err = { 0 };
		struct fake f;
		int sock = fake_start(&f, cases[c].h, cases[c].on);

		assert_true(virtio_fs_new_test(&mem, &fs_cfg, sock, &v, &err) < 0);
		assert_null(v);
		assert_true(strstr(err.msg, "test.sock") != NULL);
		pthread_join(f.tid, NULL);
	}
	gmem_release(&mem);
}

/* A backend without VIRTIO_F_VERSION_1, or with fewer queues than asked, is refused. */
static void test_backend_limits(void **state)
{
	struct vm_fs_config two = fs_cfg;
	struct guest_mem mem;
	struct virtio_pci_dev *v = NULL;
	struct hull_err err = { 0 };
	struct fake f;
	int sock;

	assert_int_equal(gmem_init_shared(&mem, 1U << 20, true), 0);
	two.queues = 2; /* the fake serves hiprio and one request queue */
	sock = fake_start(&f, H_NONE, 0);
	assert_true(virtio_fs_new_test(&mem, &two, sock, &v, &err) < 0);
	assert_true(strstr(err.msg, "queues=2") != NULL);
	pthread_join(f.tid, NULL);
	gmem_release(&mem);
}

/* Hostile replies once the driver is up: DEVICE_NEEDS_RESET, never a crash or a hang. */
static void test_hostile_start(void **state)
{
	static const struct {
		enum hostile h;
		uint32_t on;
	} cases[] = {
		{ H_NACK, VHOST_USER_SET_MEM_TABLE },
		{ H_WRONG_SIZE, VHOST_USER_SET_VRING_ADDR },
		{ H_WRONG_ID, VHOST_USER_SET_VRING_KICK },
		{ H_CLOSE, VHOST_USER_SET_FEATURES },
		{ H_CLOSE, VHOST_USER_SET_VRING_CALL },
	};
	struct guest_mem mem;

	assert_int_equal(gmem_init_shared(&mem, 1U << 20, true), 0);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct virtio_pci_dev *v = NULL;
		struct hull_err err = { 0 };
		struct fake f;
		int sock = fake_start(&f, cases[c].h, cases[c].on);

		assert_int_equal(virtio_fs_new_test(&mem, &fs_cfg, sock, &v, &err), 0);
		drv_features(v);
		drv_queue(v, 0, 16, 1, DESC, AVAIL, USED);
		drv_queue(v, 1, 16, 2, DESC + 0x4000, AVAIL + 0x4000, USED + 0x4000);
		drv_ok(v);
		assert_true(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
		bar_w(v, 0x14, 0, 1); /* a reset on a broken connection sends nothing more */
		virtio_fs_free(v);
		pthread_join(f.tid, NULL);
	}
	gmem_release(&mem);
}

/* GET_VRING_BASE about another ring is not taken: the queue keeps its own index. */
static void test_bad_vring_base(void **state)
{
	struct guest_mem mem;
	struct virtio_pci_dev *v = NULL;
	struct hull_err err = { 0 };
	struct fake f;
	int sock;

	assert_int_equal(gmem_init_shared(&mem, 1U << 20, true), 0);
	sock = fake_start(&f, H_BAD_BASE, 0);
	assert_int_equal(virtio_fs_new_test(&mem, &fs_cfg, sock, &v, &err), 0);
	drv_features(v);
	drv_queue(v, 0, 16, 1, DESC, AVAIL, USED);
	drv_ok(v);
	assert_false(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	pthread_mutex_lock(&v->lock);
	v->ops->deactivate(v);
	assert_int_equal(v->st.vq[0].last_avail, 0); /* not the fake's 5 */
	pthread_mutex_unlock(&v->lock);
	v->active = false;
	virtio_fs_free(v);
	pthread_join(f.tid, NULL);
	gmem_release(&mem);
}

/* A ring the driver put past the end of RAM never reaches the backend. */
static void test_ring_outside_ram(void **state)
{
	struct guest_mem mem;
	struct virtio_pci_dev *v = NULL;
	struct hull_err err = { 0 };
	struct fake f;
	int sock;

	assert_int_equal(gmem_init_shared(&mem, 1U << 20, true), 0);
	sock = fake_start(&f, H_NONE, 0);
	assert_int_equal(virtio_fs_new_test(&mem, &fs_cfg, sock, &v, &err), 0);
	drv_features(v);
	drv_queue(v, 0, 16, 1, (1U << 20) - 8, AVAIL, USED);
	drv_ok(v);
	assert_true(bar_r(v, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	for (unsigned i = 0; i < f.n; i++)
		assert_int_not_equal(f.req[i], VHOST_USER_SET_VRING_ADDR);
	virtio_fs_free(v);
	pthread_join(f.tid, NULL);
	gmem_release(&mem);
}

/* Anonymous guest RAM cannot be handed over: the table builder refuses it. */
static void test_mem_table_needs_fd(void **state)
{
	struct guest_mem m = { .size = 1U << 20, .low_size = 1U << 20, .fd = -1 };
	struct vhost_user_mem t;
	int fds[VHOST_USER_MAX_REGIONS];

	assert_int_equal(vhost_user_mem_table(&m, &t, fds), -EINVAL);
	m.fd = 7;
	m.size = GMEM_HOLE_START + (1ULL << 30);
	m.low_size = GMEM_HOLE_START;
	assert_int_equal(vhost_user_mem_table(&m, &t, fds), 2);
	assert_int_equal(t.r[1].gpa, GMEM_HIGH_START);
	assert_int_equal(t.r[1].mmap_offset, GMEM_HOLE_START);
	assert_int_equal(t.r[1].size, 1ULL << 30);
	m.hp_size = 1ULL << 30; /* a virtio-mem region: anonymous */
	assert_int_equal(vhost_user_mem_table(&m, &t, fds), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_start),
		cmocka_unit_test(test_hostile_setup),
		cmocka_unit_test(test_backend_limits),
		cmocka_unit_test(test_hostile_start),
		cmocka_unit_test(test_bad_vring_base),
		cmocka_unit_test(test_ring_outside_ram),
		cmocka_unit_test(test_mem_table_needs_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
