/* The vhost-user frontend (vhost-user.h). */
#include "vmm/vhost-user.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"

int vhost_user_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = VHOST_USER_TIMEOUT_S };
	cleanup_close int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a backend that stops answering must not hang a vCPU (activation runs on one) */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return steal_fd(&fd);
}

int vhost_user_send(int sock, const struct vhost_user_hdr *h, const void *payload,
		    const int *fds, unsigned nfds)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)h, .iov_len = sizeof(*h) },
		{ .iov_base = (void *)payload, .iov_len = h->size },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
		struct cmsghdr align;
	} c;
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = h->size ? 2 : 1 };
	size_t want = sizeof(*h) + h->size;
	ssize_t n;

	if (nfds > VHOST_USER_MAX_REGIONS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&c, 0, sizeof(c));
		msg.msg_control = c.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : errno == EPIPE ? -ECONNRESET : -errno;
	return (size_t)n == want ? 0 : -EPROTO; /* a stream socket sends all of a small message */
}

/* Exactly len bytes: 0, -ECONNRESET at EOF, -ETIMEDOUT, or -errno. */
static int recv_all(int sock, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(sock, (char *)buf + off, len - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

static int vu_fail(struct vhost_user *u, uint32_t req, int r)
{
	if (!u->broken)
		log_debug("vhost-user: request %u: %s", req, strerror(-r));
	u->broken = true;
	return r;
}

/*
 * The reply to req: its id, the reply flag, version 1 and exactly len bytes of payload. A
 * backend's reply carries no fds in this protocol subset: any it sends are dropped by recv.
 */
static int vu_reply(struct vhost_user *u, uint32_t req, void *payload, uint32_t len)
{
	struct vhost_user_hdr h;
	int r = recv_all(u->sock, &h, sizeof(h));

	if (r < 0)
		return r;
	if (h.request != req || !(h.flags & VHOST_USER_FLAG_REPLY) ||
	    (h.flags & 0x3) != VHOST_USER_VERSION || h.size != len)
		return -EPROTO;
	return recv_all(u->sock, payload, len);
}

/*
 * One request: send it (with fds), then read the reply into ret (ret_len bytes) when the
 * request has one, or the ack when REPLY_ACK was agreed and the request asks none back.
 */
static int vu_call(struct vhost_user *u, uint32_t req, const void *payload, uint32_t len,
		   const int *fds, unsigned nfds, void *ret, uint32_t ret_len)
{
	bool ack = !ret && (u->protocol_features & (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	struct vhost_user_hdr h = {
		.request = req,
		.flags = VHOST_USER_VERSION | (ack ? VHOST_USER_FLAG_NEED_REPLY : 0),
		.size = len,
	};
	uint64_t status = 0;
	int r;

	if (u->broken || u->sock < 0)
		return -ENOTCONN;
	r = vhost_user_send(u->sock, &h, payload, fds, nfds);
	if (r == 0 && ret)
		r = vu_reply(u, req, ret, ret_len);
	else if (r == 0 && ack)
		r = vu_reply(u, req, &status, sizeof(status));
	if (r == 0 && status)
		r = -EIO; /* the backend refused: it said so with a non-zero ack */
	return r < 0 ? vu_fail(u, req, r) : 0;
}

static int vu_get_u64(struct vhost_user *u, uint32_t req, uint64_t *ret)
{
	return vu_call(u, req, NULL, 0, NULL, 0, ret, sizeof(*ret));
}

int vhost_user_set_u64(struct vhost_user *u, uint32_t req, uint64_t val)
{
	return vu_call(u, req, &val, sizeof(val), NULL, 0, NULL, 0);
}

int vhost_user_set_state(struct vhost_user *u, uint32_t req, unsigned idx, unsigned num)
{
	uint32_t s[2] = { idx, num };

	return vu_call(u, req, s, sizeof(s), NULL, 0, NULL, 0);
}

int vhost_user_get_base(struct vhost_user *u, unsigned idx, unsigned *ret_base)
{
	uint32_t s[2] = { idx, 0 }, out[2];
	int r = vu_call(u, VHOST_USER_GET_VRING_BASE, s, sizeof(s), NULL, 0, out, sizeof(out));

	if (r < 0)
		return r;
	if (out[0] != idx || out[1] > UINT16_MAX)
		return vu_fail(u, VHOST_USER_GET_VRING_BASE, -EPROTO);
	*ret_base = out[1];
	return 0;
}

int vhost_user_set_addr(struct vhost_user *u, const struct vhost_user_vring_addr *a)
{
	return vu_call(u, VHOST_USER_SET_VRING_ADDR, a, sizeof(*a), NULL, 0, NULL, 0);
}

int vhost_user_set_fd(struct vhost_user *u, uint32_t req, unsigned idx, int fd)
{
	uint64_t v = idx | (fd < 0 ? VHOST_USER_VRING_NOFD : 0);

	return vu_call(u, req, &v, sizeof(v), fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1, NULL, 0);
}

int vhost_user_mem_table(const struct guest_mem *m, struct vhost_user_mem *t, int *fds)
{
	memset(t, 0, sizeof(*t));
	if (m->fd < 0 || m->hp_size)
		return -EINVAL; /* anonymous memory: the backend could not map it */
	if (m->low_size) {
		t->r[t->nregions] = (struct vhost_user_region){
			.gpa = 0, .size = m->low_size,
			.uaddr = (uint64_t)(uintptr_t)m->host, .mmap_offset = 0,
		};
		fds[t->nregions++] = m->fd;
	}
	if (gmem_high_size(m)) {
		t->r[t->nregions] = (struct vhost_user_region){
			.gpa = GMEM_HIGH_START, .size = gmem_high_size(m),
			.uaddr = (uint64_t)(uintptr_t)(m->host + m->low_size),
			.mmap_offset = m->low_size,
		};
		fds[t->nregions++] = m->fd;
	}
	return (int)t->nregions;
}

int vhost_user_set_mem(struct vhost_user *u, const struct guest_mem *m)
{
	struct vhost_user_mem t;
	int fds[VHOST_USER_MAX_REGIONS];
	int n = vhost_user_mem_table(m, &t, fds);

	if (n < 0)
		return n;
	/* the payload is the header and the regions sent, as QEMU sends it */
	return vu_call(u, VHOST_USER_SET_MEM_TABLE, &t,
		       (uint32_t)(offsetof(struct vhost_user_mem, r) +
				  (size_t)n * sizeof(struct vhost_user_region)),
		       fds, (unsigned)n, NULL, 0);
}

int vhost_user_setup(struct vhost_user *u, int sock, struct hull_err *err)
{
	uint64_t pf = 0;
	int r;

	*u = (struct vhost_user){ .sock = sock };
	r = vu_get_u64(u, VHOST_USER_GET_FEATURES, &u->features);
	if (r < 0)
		return hull_err_set(err, -r, "vhost-user GET_FEATURES");
	if (u->features & VHOST_USER_F_PROTOCOL_FEATURES) {
		r = vu_get_u64(u, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
		if (r < 0)
			return hull_err_set(err, -r, "vhost-user GET_PROTOCOL_FEATURES");
		pf &= (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) | (1ULL << VHOST_USER_PROTOCOL_F_MQ);
		r = vhost_user_set_u64(u, VHOST_USER_SET_PROTOCOL_FEATURES, pf);
		if (r < 0)
			return hull_err_set(err, -r, "vhost-user SET_PROTOCOL_FEATURES");
		u->protocol_features = pf; /* acks from here on */
	}
	if (pf & (1ULL << VHOST_USER_PROTOCOL_F_MQ)) {
		r = vu_get_u64(u, VHOST_USER_GET_QUEUE_NUM, &u->queue_num);
		if (r < 0)
			return hull_err_set(err, -r, "vhost-user GET_QUEUE_NUM");
	}
	r = vu_call(u, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	if (r < 0)
		return hull_err_set(err, -r, "vhost-user SET_OWNER");
	return 0;
}

void vhost_user_close(struct vhost_user *u)
{
	if (u->sock >= 0)
		(void)close(u->sock);
	u->sock = -1;
	u->broken = true;
}
