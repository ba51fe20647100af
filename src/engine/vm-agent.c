/*
 * The host side of the guest agent (vm-agent.h): a vsock connection per session, one poll
 * loop relaying stdin to the guest and its output back, and the frames of
 * guest/agent/proto.h checked as strictly as the agent checks ours (a guest is untrusted).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../../guest/agent/proto.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "engine/vm-agent.h"

_Static_assert(VM_AGENT_PORT == HULL_AGENT_PORT, "one port");

#define HDR sizeof(struct hull_agent_hdr)
#define OUT_HIGH (2 * HULL_AGENT_MAX_PAYLOAD) /* stop reading stdin above this */

/* A record on the caller's control pipe (vm_agent_ctl_*): small enough for one atomic write. */
struct ctl_rec {
	uint16_t type; /* HULL_AGENT_WINSIZE or HULL_AGENT_SIGNAL */
	uint16_t a, b;
	uint16_t pad;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int strv_len_checked(char *const *v, size_t max, size_t *ret)
{
	size_t n = 0;

	for (; v && v[n]; n++)
		if (n >= max)
			return -EINVAL;
	*ret = n;
	return 0;
}

/* Append s with its NUL at *pos; -EINVAL when it does not fit. */
static int put_string(uint8_t *buf, size_t cap, size_t *pos, const char *s)
{
	size_t len = strlen(s) + 1;

	if (len > cap - *pos)
		return -EINVAL;
	memcpy(buf + *pos, s, len);
	*pos += len;
	return 0;
}

int vm_agent_proc_encode(const struct vm_agent_proc *p, uint8_t *buf, size_t cap)
{
	const char *tail[4] = { p->cwd ? p->cwd : "", p->hostname ? p->hostname : "",
				p->etc_hosts ? p->etc_hosts : "", p->resolv ? p->resolv : "" };
	uint32_t flags = (p->tty ? HULL_AGENT_PROC_TTY : 0) |
			 (p->hostname ? HULL_AGENT_PROC_HOSTNAME : 0) |
			 (p->etc_hosts ? HULL_AGENT_PROC_HOSTS : 0) |
			 (p->resolv ? HULL_AGENT_PROC_RESOLV : 0);
	size_t n_args, n_env, pos = sizeof(struct hull_agent_proc_wire);

	if (cap > HULL_AGENT_MAX_PAYLOAD)
		cap = HULL_AGENT_MAX_PAYLOAD;
	if (strv_len_checked(p->args, HULL_AGENT_MAX_ARGS, &n_args) < 0 || n_args < 1 ||
	    !p->args[0][0] || strv_len_checked(p->env, HULL_AGENT_MAX_ENV, &n_env) < 0 ||
	    p->n_gids > HULL_AGENT_MAX_GIDS || (p->n_gids && !p->gids) ||
	    strlen(tail[1]) > HULL_AGENT_HOSTNAME_MAX || (tail[0][0] && tail[0][0] != '/') ||
	    cap < pos + 4 * p->n_gids)
		return -EINVAL;
	for (size_t i = 0; i < n_env; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
			return -EINVAL;
	hull_agent_put32(buf, p->uid);
	hull_agent_put32(buf + 4, p->gid);
	hull_agent_put32(buf + 8, flags);
	hull_agent_put16(buf + 12, p->tty ? p->rows : 0);
	hull_agent_put16(buf + 14, p->tty ? p->cols : 0);
	hull_agent_put16(buf + 16, (uint16_t)n_args);
	hull_agent_put16(buf + 18, (uint16_t)n_env);
	hull_agent_put16(buf + 20, (uint16_t)p->n_gids);
	hull_agent_put16(buf + 22, 0);
	for (size_t i = 0; i < p->n_gids; i++, pos += 4)
		hull_agent_put32(buf + pos, p->gids[i]);
	for (size_t i = 0; i < n_args; i++)
		if (put_string(buf, cap, &pos, p->args[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < n_env; i++)
		if (put_string(buf, cap, &pos, p->env[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < 4; i++)
		if (put_string(buf, cap, &pos, tail[i]) < 0)
			return -EINVAL;
	return (int)pos;
}

/* Wait until fd is ready for events or the deadline (ms, monotonic) passed: 0 or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Read exactly len bytes before the deadline: 0, -ECONNRESET at EOF, or -errno. */
static int read_exact(int fd, void *buf, size_t len, long long deadline)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		int r;

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One whole frame of the expected type with a payload of exactly len bytes. */
static int read_fixed_frame(int fd, uint16_t want, void *payload, uint32_t want_len,
			    long long deadline, struct hull_err *err)
{
	uint8_t hdr[HDR];
	uint16_t type = 0;
	uint32_t len = 0;
	int r;

	r = read_exact(fd, hdr, HDR, deadline);
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent");
	if (hull_agent_hdr_get(hdr, &type, &len) < 0 || type != want || len != want_len)
		return hull_err_setx(err, EPROTO, "the guest agent sent a frame of type %u and "
				     "%u bytes where %u was due", type, len, want);
	r = read_exact(fd, payload, len, deadline);
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent");
	return 0;
}

int vm_agent_read_frame(int fd, int timeout_ms, uint16_t *ret_type, uint8_t *payload,
			uint32_t *ret_len, struct hull_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	uint8_t hdr[HDR];
	int r;

	r = read_exact(fd, hdr, HDR, deadline);
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent");
	if (hull_agent_hdr_get(hdr, ret_type, ret_len) < 0 || hull_agent_from_host(*ret_type) ||
	    !hull_agent_shape_ok(*ret_type, *ret_len))
		return hull_err_setx(err, EPROTO, "the guest agent sent a malformed frame");
	r = read_exact(fd, payload, *ret_len, deadline);
	return r < 0 ? hull_err_set(err, -r, "the guest agent") : 0;
}

int vm_agent_hello(int fd, int timeout_ms, struct vm_agent_hello *ret_hello, struct hull_err *err)
{
	struct vm_agent_hello h;
	uint8_t pl[8];
	int r;

	r = read_fixed_frame(fd, HULL_AGENT_HELLO, pl, sizeof(pl), now_ms() + timeout_ms, err);
	if (r < 0)
		return hull_err_prefix(err, "HELLO");
	h.version = hull_agent_get32(pl);
	h.state = hull_agent_get32(pl + 4);
	if (h.version != HULL_AGENT_VERSION || h.state > HULL_AGENT_STATE_EXITED)
		return hull_err_setx(err, EPROTO, "the guest agent speaks protocol %u (state %u), "
				     "hull speaks %u", h.version, h.state, HULL_AGENT_VERSION);
	if (ret_hello)
		*ret_hello = h;
	return 0;
}

/* One connect attempt to cid with a bound wait: the socket or -errno. */
static int vsock_try(uint32_t cid, long long deadline)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = cid,
				    .svm_port = VM_AGENT_PORT };
	long long left = deadline - now_ms();
	struct timeval tv = { .tv_sec = left > 1000 ? 1 : 0,
			      .tv_usec = left > 1000 ? 0 : (left > 0 ? left * 1000 : 1000) };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int unix_try(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	(void)snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Retry connects until the deadline (the guest is booting), then HELLO. */
static int connect_retry(uint32_t cid, const char *path, int timeout_ms, int *ret_fd,
			 struct vm_agent_hello *ret_hello, struct hull_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	cleanup_close int fd = -1;
	int r;

	for (;;) {
		fd = path ? unix_try(path) : vsock_try(cid, deadline);
		if (fd >= 0)
			break;
		if (fd == -EAFNOSUPPORT || fd == -EINVAL)
			return hull_err_set(err, -fd, "vsock: connect to cid %u", cid);
		if (now_ms() >= deadline)
			return hull_err_setx(err, ETIMEDOUT, "the guest agent (%s%s%u port %u) did "
					     "not answer within %d ms (last: %s)",
					     path ? path : "", path ? ", " : "cid ", cid,
					     VM_AGENT_PORT, timeout_ms, strerror(-fd));
		(void)nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	r = vm_agent_hello(fd, (int)(deadline - now_ms() > 1000 ? deadline - now_ms() : 1000),
			   ret_hello, err);
	if (r < 0)
		return r;
	*ret_fd = steal_fd(&fd);
	return 0;
}

int vm_agent_connect(uint32_t cid, int timeout_ms, int *ret_fd, struct vm_agent_hello *ret_hello,
		     struct hull_err *err)
{
	return connect_retry(cid, NULL, timeout_ms, ret_fd, ret_hello, err);
}

int vm_agent_connect_unix(const char *path, int timeout_ms, int *ret_fd,
			  struct vm_agent_hello *ret_hello, struct hull_err *err)
{
	return connect_retry(0, path, timeout_ms, ret_fd, ret_hello, err);
}

int vm_agent_ctl_winsize(int ctl_wfd, uint16_t rows, uint16_t cols)
{
	struct ctl_rec rec = { .type = HULL_AGENT_WINSIZE, .a = rows, .b = cols };

	return write(ctl_wfd, &rec, sizeof(rec)) == sizeof(rec) ? 0 : -EIO;
}

int vm_agent_ctl_signal(int ctl_wfd, int sig)
{
	struct ctl_rec rec = { .type = HULL_AGENT_SIGNAL, .a = (uint16_t)sig };

	if (sig < 1 || sig > 64)
		return -EINVAL;
	return write(ctl_wfd, &rec, sizeof(rec)) == sizeof(rec) ? 0 : -EIO;
}

int vm_agent_clock(int fd, struct hull_err *err)
{
	uint8_t frame[HDR + 12];
	struct timespec ts;
	int r;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	hull_agent_hdr_put(frame, HULL_AGENT_CLOCK, 12);
	hull_agent_put32(frame + HDR, (uint32_t)(uint64_t)ts.tv_sec);
	hull_agent_put32(frame + HDR + 4, (uint32_t)((uint64_t)ts.tv_sec >> 32));
	hull_agent_put32(frame + HDR + 8, (uint32_t)ts.tv_nsec);
	r = fd_write_all(fd, frame, sizeof(frame));
	return r < 0 ? hull_err_set(err, -r, "the guest agent: CLOCK") : 0;
}

int vm_agent_entropy_encode(const uint8_t *rnd, size_t n, uint8_t *out, size_t cap)
{
	if (n < HULL_AGENT_ENTROPY_MIN || n > HULL_AGENT_ENTROPY_MAX || cap < HDR + n)
		return -EINVAL;
	hull_agent_hdr_put(out, HULL_AGENT_ENTROPY, (uint32_t)n);
	memcpy(out + HDR, rnd, n);
	return (int)(HDR + n);
}

int vm_agent_entropy(int fd, struct hull_err *err)
{
	uint8_t rnd[HULL_AGENT_ENTROPY_SEND], frame[HDR + HULL_AGENT_ENTROPY_SEND];
	ssize_t n = getrandom(rnd, sizeof(rnd), 0);
	int r;

	if (n != (ssize_t)sizeof(rnd))
		return hull_err_set(err, n < 0 ? errno : EIO, "getrandom");
	r = vm_agent_entropy_encode(rnd, sizeof(rnd), frame, sizeof(frame));
	if (r > 0)
		r = fd_write_all(fd, frame, (size_t)r);
	explicit_bzero(rnd, sizeof(rnd));
	explicit_bzero(frame, sizeof(frame));
	return r < 0 ? hull_err_set(err, -r, "the guest agent: ENTROPY") : 0;
}

int vm_agent_signal(uint32_t cid, int sig, int timeout_ms, struct hull_err *err)
{
	cleanup_close int fd = -1;
	uint8_t frame[HDR + 4], ack[4];
	int32_t res;
	int r;

	if (sig < 1 || sig > 64)
		return hull_err_setx(err, EINVAL, "signal %d: out of range", sig);
	r = vm_agent_connect(cid, timeout_ms, &fd, NULL, err);
	if (r < 0)
		return r;
	hull_agent_hdr_put(frame, HULL_AGENT_SIGNAL, 4);
	hull_agent_put32(frame + HDR, (uint32_t)sig);
	r = fd_write_all(fd, frame, sizeof(frame));
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent: SIGNAL");
	r = read_fixed_frame(fd, HULL_AGENT_ACK, ack, sizeof(ack), now_ms() + timeout_ms, err);
	if (r < 0)
		return hull_err_prefix(err, "SIGNAL");
	res = (int32_t)hull_agent_get32(ack);
	if (res == -ESRCH)
		return hull_err_setx(err, ESRCH, "the guest has no running container process");
	if (res < 0)
		return hull_err_set(err, res < -4095 ? EPROTO : -res, "the guest agent: kill");
	return 0;
}

int vm_agent_mount(uint32_t cid, const char *tag, const char *target, bool ro, int timeout_ms,
		   struct hull_err *err)
{
	size_t tl = strlen(tag), pl = strlen(target);
	uint32_t len = (uint32_t)(4 + tl + 1 + pl + 1);
	cleanup_free uint8_t *frame = NULL;
	cleanup_close int fd = -1;
	uint8_t ack[4];
	int32_t res;
	int r;

	if (!tl || tl > HULL_AGENT_MOUNT_TAG_MAX || pl > HULL_AGENT_MOUNT_PATH_MAX)
		return hull_err_setx(err, EINVAL, "mount %s on %s: too long", tag, target);
	frame = xcalloc(1, HDR + len);
	hull_agent_hdr_put(frame, HULL_AGENT_MOUNT, len);
	hull_agent_put32(frame + HDR, ro ? HULL_AGENT_MOUNT_RO : 0);
	memcpy(frame + HDR + 4, tag, tl + 1);
	memcpy(frame + HDR + 4 + tl + 1, target, pl + 1);
	r = vm_agent_connect(cid, timeout_ms, &fd, NULL, err);
	if (r < 0)
		return r;
	r = fd_write_all(fd, frame, HDR + len);
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent: MOUNT");
	r = read_fixed_frame(fd, HULL_AGENT_ACK, ack, sizeof(ack), now_ms() + timeout_ms, err);
	if (r < 0)
		return hull_err_prefix(err, "MOUNT %s", target);
	res = (int32_t)hull_agent_get32(ack);
	if (res < 0)
		return hull_err_set(err, res < -4095 ? EPROTO : -res, "mounting the share on %s in "
				    "the guest", target);
	return 0;
}

/* Frames for the agent, written in order. */
struct txq {
	uint8_t *buf;
	size_t len, off;
};

/* A session in progress (vm_agent_session). */
struct sess {
	int fd, in, out, errout, ctl;
	/*
	 * Two queues: a WINSIZE or SIGNAL goes ahead of stdin data, at the next frame boundary,
	 * so that a signal reaches a process that does not read its stdin. cur is the queue
	 * whose frame is half written (NULL at a boundary), cur_end where that frame ends.
	 */
	struct txq data, ctlq;
	struct txq *cur;
	size_t cur_end;
	uint8_t rx[HDR + HULL_AGENT_MAX_PAYLOAD];
	size_t rx_have;
	size_t unacked; /* STDIN bytes sent without a STDIN_ACK yet: <= HULL_AGENT_STDIN_WINDOW */
	bool in_done;
	int code; /* -1 until EXIT */
	struct hull_err *err;
};

static void queue_frame(struct txq *q, uint16_t type, const void *data, uint32_t len)
{
	if (q->off && q->off == q->len)
		q->len = q->off = 0;
	q->buf = xrealloc(q->buf, q->len + HDR + len);
	hull_agent_hdr_put(q->buf + q->len, type, len);
	if (len)
		memcpy(q->buf + q->len + HDR, data, len);
	q->len += HDR + len;
}

static bool txq_pending(const struct txq *q)
{
	return q->len > q->off;
}

/* All of data to a caller's fd, waiting out EAGAIN; a closed reader makes it a sink (-1). */
static void out_write(int *fd, const uint8_t *data, size_t len)
{
	size_t off = 0;

	while (*fd >= 0 && off < len) {
		ssize_t n = write(*fd, data + off, len - off);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno == EAGAIN)
			(void)wait_fd(*fd, POLLOUT, now_ms() + 3600 * 1000);
		else if (n < 0 && errno == EINTR)
			continue;
		else
			*fd = -1;
	}
}

/* The agent's error text, made printable for one line in err. */
static int agent_error(struct sess *s, const uint8_t *pl, uint32_t len)
{
	char msg[512];
	size_t n = len < sizeof(msg) - 1 ? len : sizeof(msg) - 1;

	for (size_t i = 0; i < n; i++)
		msg[i] = pl[i] >= 0x20 && pl[i] < 0x7f ? (char)pl[i] : '?';
	msg[n] = '\0';
	return hull_err_setx(s->err, EPROTO, "the guest agent refused: %s", msg);
}

int vm_agent_netconf(int fd, const uint8_t *payload, uint32_t len, int timeout_ms,
		     struct hull_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	uint8_t hdr[HDR], pl[512];
	uint16_t type = 0;
	uint32_t n = 0;
	int r;

	if (len > HULL_AGENT_MAX_PAYLOAD)
		return hull_err_setx(err, EINVAL, "NETCONF: %u bytes: too long", len);
	hull_agent_hdr_put(hdr, HULL_AGENT_NETCONF, len);
	r = fd_write_all(fd, hdr, sizeof(hdr));
	if (r == 0)
		r = fd_write_all(fd, payload, len);
	if (r == 0)
		r = read_exact(fd, hdr, HDR, deadline);
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent: NETCONF");
	if (hull_agent_hdr_get(hdr, &type, &n) < 0 ||
	    (type != HULL_AGENT_ACK && type != HULL_AGENT_ERROR) ||
	    (type == HULL_AGENT_ACK && n != 4) || n > sizeof(pl))
		return hull_err_setx(err, EPROTO, "NETCONF: the guest agent answered a frame of "
				     "type %u and %u bytes", type, n);
	r = read_exact(fd, pl, n, deadline);
	if (r < 0)
		return hull_err_set(err, -r, "the guest agent: NETCONF");
	if (type == HULL_AGENT_ERROR) {
		struct sess s = { .err = err };

		return agent_error(&s, pl, n);
	}
	if (hull_agent_get32(pl) != 0)
		return hull_err_setx(err, EPROTO, "NETCONF: the guest agent answered %d",
				     (int)hull_agent_get32(pl));
	return 0;
}

/* A whole frame from the agent: 0 to go on, or -errno to end the session. */
static int handle_frame(struct sess *s, uint16_t type, const uint8_t *pl, uint32_t len)
{
	switch ((enum hull_agent_type)type) {
	case HULL_AGENT_STDOUT:
		out_write(&s->out, pl, len);
		return 0;
	case HULL_AGENT_STDERR:
		out_write(&s->errout, pl, len);
		return 0;
	case HULL_AGENT_EXIT:
		s->code = (int)hull_agent_get32(pl);
		if (s->code < 0 || s->code > 255 + 128)
			return hull_err_setx(s->err, EPROTO, "the guest agent sent exit code %d",
					     s->code);
		return 0;
	case HULL_AGENT_ERROR:
		return agent_error(s, pl, len);
	case HULL_AGENT_STDIN_ACK:
		if (hull_agent_get32(pl) > s->unacked)
			return hull_err_setx(s->err, EPROTO, "the guest agent acknowledged %u stdin "
					     "bytes of %zu sent", hull_agent_get32(pl), s->unacked);
		s->unacked -= hull_agent_get32(pl);
		return 0;
	case HULL_AGENT_HELLO:
	case HULL_AGENT_ACK:
	case HULL_AGENT_RUN:
	case HULL_AGENT_EXEC:
	case HULL_AGENT_STDIN:
	case HULL_AGENT_STDIN_EOF:
	case HULL_AGENT_WINSIZE:
	case HULL_AGENT_SIGNAL:
	case HULL_AGENT_MOUNT:
	case HULL_AGENT_NETCONF:
	case HULL_AGENT_CLOCK:
	case HULL_AGENT_ENTROPY:
	case HULL_AGENT_TOP:
	case HULL_AGENT_TOP_REPLY:
	case HULL_AGENT_TYPE_COUNT:
		break;
	}
	return hull_err_setx(s->err, EPROTO, "the guest agent sent an unexpected frame (type %u)",
			     type);
}

/* Read what the current frame lacks; a whole frame goes to handle_frame. */
static int sess_read(struct sess *s)
{
	size_t want = s->rx_have < HDR ? HDR - s->rx_have
				       : HDR + hull_agent_get32(s->rx) - s->rx_have;
	ssize_t n = read(s->fd, s->rx + s->rx_have, want);
	uint16_t type;
	uint32_t len;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0)
		return hull_err_set(s->err, errno, "the guest agent");
	if (n == 0)
		return hull_err_setx(s->err, ECONNRESET, "the guest agent closed the session before "
				     "the process's exit status (the guest stopped?)");
	s->rx_have += (size_t)n;
	if (s->rx_have < HDR)
		return 0;
	if (hull_agent_hdr_get(s->rx, &type, &len) < 0 || hull_agent_from_host(type) ||
	    !hull_agent_shape_ok(type, len))
		return hull_err_setx(s->err, EPROTO, "the guest agent sent a malformed frame "
				     "(type %u, %u bytes)", hull_agent_get16(s->rx + 4),
				     hull_agent_get32(s->rx));
	if (s->rx_have < HDR + len)
		return 0;
	s->rx_have = 0;
	return handle_frame(s, type, s->rx + HDR, len);
}

static int sess_write(struct sess *s)
{
	struct txq *q;
	ssize_t n;

	if (!s->cur) { /* at a frame boundary: control first */
		s->cur = txq_pending(&s->ctlq) ? &s->ctlq : &s->data;
		s->cur_end = s->cur->off + HDR + hull_agent_get32(s->cur->buf + s->cur->off);
	}
	q = s->cur;
	n = send(s->fd, q->buf + q->off, s->cur_end - q->off, MSG_NOSIGNAL);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 && errno == EPIPE)
		return 0; /* the agent closed: its last frames (EXIT, ERROR) are still to read */
	if (n < 0)
		return hull_err_set(s->err, errno, "the guest agent");
	q->off += (size_t)n;
	if (q->off == s->cur_end)
		s->cur = NULL;
	return 0;
}

static void sess_stdin(struct sess *s)
{
	static uint8_t buf[HULL_AGENT_MAX_PAYLOAD];
	size_t room = HULL_AGENT_STDIN_WINDOW - s->unacked;
	ssize_t n = read(s->in, buf, room < sizeof(buf) ? room : sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		queue_frame(&s->data, HULL_AGENT_STDIN, buf, (uint32_t)n);
		s->unacked += (size_t)n;
		return;
	}
	/* EOF, or an error (a hung-up terminal: EIO) that ends stdin all the same */
	queue_frame(&s->data, HULL_AGENT_STDIN_EOF, NULL, 0);
	s->in_done = true;
}

static void sess_ctl(struct sess *s)
{
	struct ctl_rec rec;
	uint8_t pl[4];
	ssize_t n = read(s->ctl, &rec, sizeof(rec));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != sizeof(rec)) {
		s->ctl = -1; /* closed (or not ours): no more forwarding */
		return;
	}
	if (rec.type == HULL_AGENT_WINSIZE) {
		hull_agent_put16(pl, rec.a);
		hull_agent_put16(pl + 2, rec.b);
	} else if (rec.type == HULL_AGENT_SIGNAL && rec.a >= 1 && rec.a <= 64) {
		hull_agent_put32(pl, rec.a);
	} else {
		return;
	}
	queue_frame(&s->ctlq, rec.type, pl, 4);
}

static int sess_loop(struct sess *s)
{
	while (s->code < 0) {
		bool room = s->data.len - s->data.off < OUT_HIGH;
		bool out = txq_pending(&s->data) || txq_pending(&s->ctlq);
		struct pollfd pfd[3] = {
			{ .fd = s->fd, .events = POLLIN | (out ? POLLOUT : 0) },
			{ .fd = !s->in_done && room && s->unacked < HULL_AGENT_STDIN_WINDOW ? s->in : -1,
			  .events = POLLIN },
			{ .fd = s->ctlq.len - s->ctlq.off < OUT_HIGH ? s->ctl : -1, .events = POLLIN },
		};
		int r;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return hull_err_set(s->err, errno, "poll");
		}
		if (pfd[0].revents & POLLOUT) {
			r = sess_write(s);
			if (r < 0)
				return r;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = sess_read(s);
			if (r < 0)
				return r;
		}
		if (pfd[1].revents)
			sess_stdin(s);
		if (pfd[2].revents)
			sess_ctl(s);
	}
	return s->code;
}

int vm_agent_session(int fd, bool exec, const struct vm_agent_proc *p, const int stdio[3],
		     int ctl_fd, struct hull_err *err)
{
	cleanup_free uint8_t *pl = xmalloc(HULL_AGENT_MAX_PAYLOAD);
	cleanup_free struct sess *s = xcalloc(1, sizeof(*s));
	int len, flags, r;

	len = vm_agent_proc_encode(p, pl, HULL_AGENT_MAX_PAYLOAD);
	if (len < 0)
		return hull_err_setx(err, EINVAL, "the process does not fit the agent's protocol "
				     "(over %u arguments or environment entries, %u groups, "
				     "%u bytes in all, a hostname over %u bytes or a relative "
				     "working directory)", HULL_AGENT_MAX_ARGS,
				     HULL_AGENT_MAX_GIDS, HULL_AGENT_MAX_PAYLOAD,
				     HULL_AGENT_HOSTNAME_MAX);
	*s = (struct sess){ .fd = fd, .in = stdio[0], .out = stdio[1],
			    .errout = p->tty ? stdio[1] : stdio[2], .ctl = ctl_fd, .code = -1,
			    .err = err };
	/* on the control queue: RUN/EXEC is first, before any WINSIZE or SIGNAL behind it */
	queue_frame(&s->ctlq, exec ? HULL_AGENT_EXEC : HULL_AGENT_RUN, pl, (uint32_t)len);
	if (s->in < 0) {
		queue_frame(&s->data, HULL_AGENT_STDIN_EOF, NULL, 0);
		s->in_done = true;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		r = hull_err_set(err, errno, "the guest agent's socket");
	else
		r = sess_loop(s);
	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags);
	free(s->data.buf);
	free(s->ctlq.buf);
	return r;
}

int vm_agent_binary(char *buf, size_t size)
{
	static const char *const rel[] = { "hull-agent", "../../guest/agent/hull-agent",
					   "../libexec/hull/hull-agent", "../lib/hull/hull-agent" };
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		int len = snprintf(buf, size, "%s/%s", self, rel[i]);

		if (len > 0 && (size_t)len < size && access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}
