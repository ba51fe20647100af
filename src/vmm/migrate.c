/* Live migration, both sides (migrate.h; the stream: migrate-stream.h). */
#include "vmm/migrate.h"
#include "vmm/hotplug-net.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "vmm/devices.h"
#include "vmm/dirty.h"
#include "vmm/migrate-stream.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"
#include "vmm/virtio/net.h"
#include "vmm/vm.h"
#include "vmm/x86/arch.h"

#define OUT_BUF (256U << 10)
#define INCOMING_RECV_TIMEOUT_S 300

/* ---- addresses ---- */

/* "tcp:HOST:PORT" (HOST may be [v6]) or "unix:PATH" into a socket address. */
static int addr_parse(const char *spec, struct sockaddr_storage *sa, socklen_t *len,
		      struct hull_err *err)
{
	memset(sa, 0, sizeof(*sa));
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)sa;
		size_t n = strlen(spec + 5);

		if (n == 0 || n >= sizeof(un->sun_path))
			return hull_err_setx(err, EINVAL, "%s: a unix socket path of 1 to %zu bytes",
					     spec, sizeof(un->sun_path) - 1);
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, spec + 5, n + 1);
		*len = (socklen_t)sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4) == 0) {
		cleanup_free char *host = xstrdup(spec + 4);
		char *port = strrchr(host, ':'), *h = host;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
		struct addrinfo *ai = NULL;
		int r;

		if (!port || port == host || !port[1])
			return hull_err_setx(err, EINVAL, "%s: expected tcp:HOST:PORT", spec);
		*port++ = '\0';
		if (h[0] == '[' && h[strlen(h) - 1] == ']') {
			h[strlen(h) - 1] = '\0';
			h++;
		}
		r = getaddrinfo(h, port, &hints, &ai);
		if (r != 0 || !ai)
			return hull_err_setx(err, EINVAL, "%s: %s", spec, gai_strerror(r));
		memcpy(sa, ai->ai_addr, ai->ai_addrlen);
		*len = ai->ai_addrlen;
		freeaddrinfo(ai);
		return 0;
	}
	return hull_err_setx(err, EINVAL, "%s: expected tcp:HOST:PORT or unix:PATH", spec);
}

int migrate_addr_check(const char *spec, struct hull_err *err)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;

	return addr_parse(spec, &sa, &len, err);
}

static void set_timeouts(int fd, unsigned secs)
{
	struct timeval tv = { .tv_sec = secs };

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int vmm_migrate_connect(const char *spec, unsigned timeout_s, struct hull_err *err)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	cleanup_close int fd = -1;
	int r = addr_parse(spec, &sa, &len, err);

	if (r < 0)
		return r;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hull_err_set(err, errno, "%s: socket", spec);
	set_timeouts(fd, timeout_s);
	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		return hull_err_set(err, errno, "%s", spec);
	return steal_fd(&fd);
}

/* ---- the source ---- */

struct mig_out {
	int fd;
	uint8_t *buf;
	size_t len;
	uint32_t crc;
	uint64_t sent;       /* bytes sent since t0 (for the bandwidth limit) */
	uint64_t t0;         /* when this limited stretch began */
	uint64_t max_bw;     /* 0: no limit (the stop-and-copy) */
	uint64_t deadline;   /* CLOCK_MONOTONIC ns */
	int err;             /* sticky -errno */
	uint64_t rtt;        /* the header's answer: a round trip and the destination's check */
};

static void out_put(struct mig_out *o, const void *p, size_t len);

static int out_flush(struct mig_out *o)
{
	size_t off = 0;

	while (!o->err && off < o->len) {
		ssize_t n = send(o->fd, o->buf + off, o->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = n < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : -EPIPE;
		else
			off += (size_t)n;
	}
	o->sent += o->len;
	o->len = 0;
	if (!o->err && o->max_bw) {
		/* sleep until the bytes sent fit the limit */
		uint64_t due = o->t0 + (uint64_t)((double)o->sent * 1e9 / (double)o->max_bw);
		uint64_t now = vm_now_ns();

		if (due > o->deadline)
			due = o->deadline;
		if (due > now) {
			struct timespec ts = { .tv_sec = (time_t)((due - now) / 1000000000ULL),
					       .tv_nsec = (long)((due - now) % 1000000000ULL) };

			(void)nanosleep(&ts, NULL);
		}
	}
	if (!o->err && vm_now_ns() > o->deadline)
		o->err = -ETIMEDOUT;
	return o->err;
}

static void out_put(struct mig_out *o, const void *p, size_t len)
{
	while (len && !o->err) {
		size_t n = len < OUT_BUF - o->len ? len : OUT_BUF - o->len;

		memcpy(o->buf + o->len, p, n);
		/*
		 * The CRC of the copy, not of p: a page of a running guest changes under us, and
		 * a CRC taken before the copy would not be that of the bytes sent.
		 */
		o->crc = (uint32_t)crc32(o->crc, o->buf + o->len, (uInt)n);
		o->len += n;
		p = (const uint8_t *)p + n;
		len -= n;
		if (o->len == OUT_BUF)
			(void)out_flush(o);
	}
}

static void out_u32(struct mig_out *o, uint32_t v)
{
	v = htole32(v);
	out_put(o, &v, 4);
}

static void out_u64(struct mig_out *o, uint64_t v)
{
	v = htole64(v);
	out_put(o, &v, 8);
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t z[8];

	return memcmp(p, z, 8) == 0 && memcmp(p, p + 8, MIG_PAGE - 8) == 0;
}

/*
 * The pages of set (all of them when zeros is false: zero pages are skipped, the
 * destination's RAM starts zeroed), in PAGES records and, when zeros, ZERO records.
 */
static int send_pages(struct vm *vm, struct mig_out *o, const struct dirty_bitmap *set,
		      bool zeros, uint64_t *ret_pages)
{
	uint64_t pg = 0, zbuf[MIG_ZERO_MAX], pbuf[MIG_PAGES_MAX];
	unsigned nz = 0, np = 0;

	*ret_pages = 0;
	for (;;) {
		bool more = dirty_bitmap_next(set, &pg);
		bool zero = more && page_is_zero(vm->mem.host + pg * MIG_PAGE);

		if (more && zero && zeros)
			zbuf[nz++] = pg;
		else if (more && !zero)
			pbuf[np++] = pg;
		if (np == MIG_PAGES_MAX || (!more && np)) {
			out_u32(o, MIG_REC_PAGES);
			out_u32(o, np);
			for (unsigned i = 0; i < np; i++) {
				out_u64(o, pbuf[i]);
				out_put(o, vm->mem.host + pbuf[i] * MIG_PAGE, MIG_PAGE);
			}
			*ret_pages += np;
			np = 0;
		}
		if (nz == MIG_ZERO_MAX || (!more && nz)) {
			out_u32(o, MIG_REC_ZERO);
			out_u32(o, nz);
			for (unsigned i = 0; i < nz; i++)
				out_u64(o, zbuf[i]);
			nz = 0;
		}
		if (!more || o->err)
			break;
		pg++;
	}
	return o->err;
}

/* iov (n entries, consumed) in full, its bytes into the CRC first: 0 or the sticky -errno. */
static int out_sendv(struct mig_out *o, struct iovec *iov, int n)
{
	for (int i = 0; i < n; i++) {
		o->crc = (uint32_t)crc32(o->crc, iov[i].iov_base, (uInt)iov[i].iov_len);
		o->sent += iov[i].iov_len;
	}
	while (!o->err && n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t k = sendmsg(o->fd, &m, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			o->err = k < 0 ? (errno == EAGAIN ? -ETIMEDOUT : -errno) : -EPIPE;
			break;
		}
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return o->err;
}

/*
 * The stop-and-copy's pages, as send_pages's records, but sent from guest RAM itself: the
 * vCPUs are parked and the devices run on this (blocked) thread, so nothing changes the
 * pages under us and the copy into the buffer (and its second pass over each page) is not
 * needed. One sendmsg per PAGES record; ZERO records go through the buffer, flushed first.
 */
static int send_pages_paused(struct vm *vm, struct mig_out *o, const struct dirty_bitmap *set,
			     uint64_t *ret_pages)
{
	uint64_t pg = 0, zbuf[MIG_ZERO_MAX], pn[MIG_PAGES_MAX];
	struct iovec iov[1 + 2 * MIG_PAGES_MAX];
	uint32_t hdr[2];
	unsigned nz = 0, np = 0;

	*ret_pages = 0;
	for (;;) {
		bool more = dirty_bitmap_next(set, &pg);
		uint8_t *page = more ? vm->mem.host + pg * MIG_PAGE : NULL;

		if (more && page_is_zero(page)) {
			zbuf[nz++] = htole64(pg);
		} else if (more) {
			pn[np] = htole64(pg);
			iov[1 + 2 * np] = (struct iovec){ .iov_base = &pn[np], .iov_len = 8 };
			iov[2 + 2 * np] = (struct iovec){ .iov_base = page, .iov_len = MIG_PAGE };
			np++;
		}
		if (nz == MIG_ZERO_MAX || (!more && nz)) {
			out_u32(o, MIG_REC_ZERO);
			out_u32(o, nz);
			out_put(o, zbuf, nz * 8U);
			nz = 0;
		}
		if (np == MIG_PAGES_MAX || (!more && np)) {
			hdr[0] = htole32(MIG_REC_PAGES);
			hdr[1] = htole32(np);
			iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = 8 };
			if (out_flush(o) == 0)
				(void)out_sendv(o, iov, 1 + 2 * (int)np);
			*ret_pages += np;
			np = 0;
		}
		if (!more || o->err)
			break;
		pg++;
	}
	return o->err;
}

/* One reply line from the destination: 0 (OK) or -errno with err. */
static int read_reply(int fd, const char *when, struct hull_err *err)
{
	char line[MIG_REPLY_MAX];
	size_t len = 0;

	while (len < sizeof(line)) {
		ssize_t n = recv(fd, line + len, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hull_err_set(err, errno == EAGAIN ? ETIMEDOUT : errno,
					    "waiting for the destination's answer to the %s", when);
		if (n == 0)
			return hull_err_setx(err, ECONNRESET, "the destination closed the connection "
					     "before answering the %s", when);
		if (line[len] == '\n')
			return mig_reply_parse(line, len, err);
		len++;
	}
	return hull_err_setx(err, EBADMSG, "the destination's answer to the %s is too long", when);
}

static int send_header(struct vm *vm, struct mig_out *o, const struct migrate_params *p,
		       struct hull_err *err)
{
	cleanup_free struct mig_cpuid *ids = xcalloc(MIG_CPUID_MAX, sizeof(*ids));
	unsigned n = 0;
	int r = arch_cpuid_entries(vm, ids, MIG_CPUID_MAX, &n, err);

	if (r < 0)
		return r;
	if (p->test_fake_cpuid)
		for (unsigned i = 0; i < n; i++)
			if (ids[i].function == 0x80000001)
				ids[i].ecx |= 1U << 31; /* reserved: no CPU offers it */
	out_put(o, MIG_MAGIC, 8);
	out_u32(o, MIG_VERSION);
	out_u64(o, vm->mem.size);
	out_u32(o, vm->ncpus);
	out_u32(o, n);
	for (unsigned i = 0; i < n; i++) {
		out_u32(o, ids[i].function);
		out_u32(o, ids[i].index);
		out_u32(o, ids[i].eax);
		out_u32(o, ids[i].ebx);
		out_u32(o, ids[i].ecx);
		out_u32(o, ids[i].edx);
	}
	if (out_flush(o) < 0)
		return hull_err_set(err, -o->err, "sending the header");
	o->rtt = vm_now_ns();
	r = read_reply(o->fd, "header", err);
	o->rtt = vm_now_ns() - o->rtt;
	return r;
}

static int fail_io(struct mig_out *o, const char *what, struct hull_err *err)
{
	if (o->err == -ETIMEDOUT)
		return hull_err_setx(err, ETIMEDOUT, "timed out %s", what);
	return hull_err_set(err, -o->err, "%s (the connection to the destination)", what);
}

/*
 * Pre-copy: round 1 sends every non-zero page, each later round the pages dirtied during
 * the one before, until the stop-and-copy's estimate fits the downtime, or
 * MIGRATE_MAX_ROUNDS. The estimate is what the paused steps will cost: the dirty set at
 * the bandwidth measured in the last round, plus the last sync (as long as this round's)
 * and a round trip for the ack (the header's). Leaves the set still to send in set.
 */
static int precopy(struct vm *vm, struct mig_out *o, struct dirty_log *d, struct dirty_bitmap *set,
		   const struct migrate_params *p, struct migrate_stats *st, struct hull_err *err)
{
	for (unsigned round = 1;; round++) {
		uint64_t t = vm_now_ns(), s0 = o->sent + o->len, pages, left, bw, dt, ts;
		double est;
		int r;

		if (send_pages(vm, o, set, round > 1, &pages) < 0)
			return fail_io(o, round == 1 ? "sending RAM" : "sending dirty pages", err);
		/*
		 * The round's end, answered once the destination has read it: the rate is then
		 * the rate the destination takes the bytes at, not the rate the kernel buffers
		 * them at, and the stop-and-copy's bytes do not queue behind megabytes of this
		 * round in the two sockets' buffers while the guest is paused.
		 */
		out_u32(o, MIG_REC_SYNC);
		if (out_flush(o) < 0)
			return fail_io(o, "sending the end of a round", err);
		r = read_reply(o->fd, "end of a round", err);
		if (r < 0)
			return r;
		st->rounds = round;
		st->pages += pages;
		dt = vm_now_ns() - t;
		bw = (uint64_t)((double)(o->sent - s0) * 1e9 / (double)(dt ? dt : 1));
		if (bw == 0)
			bw = 1;
		dirty_bitmap_clear(set);
		ts = vm_now_ns();
		r = dirty_log_sync(vm, d, set, false, err);
		if (r < 0)
			return r;
		ts = vm_now_ns() - ts;
		left = dirty_bitmap_count(set) * MIG_PAGE;
		est = (double)left * 1e9 / (double)bw + (double)ts + (double)o->rtt;
		st->estimate_ns = (uint64_t)est;
		log_debug("migration round %u: %" PRIu64 " pages, %" PRIu64 " B/s, %" PRIu64
			  " bytes dirty, sync %.1f ms, downtime estimate %.1f ms", round, pages, bw,
			  left, (double)ts / 1e6, est / 1e6);
		if (est <= (double)p->downtime_ns || round >= MIGRATE_MAX_ROUNDS)
			return 0;
		if (vm_now_ns() > o->deadline)
			return hull_err_setx(err, ETIMEDOUT, "timed out: the guest dirties its memory "
					     "faster than it can be sent (round %u)", round);
	}
}

/* ns since *t, and *t now */
static uint64_t lap(uint64_t *t)
{
	uint64_t now = vm_now_ns(), d = now - *t;

	*t = now;
	return d;
}

/*
 * Paused (since t0): the last dirty pages, the state, the end marker; then the destination's
 * ack. Each step's time into st.
 */
static int stop_and_copy(struct vm *vm, struct mig_out *o, struct dirty_log *d,
			 struct dirty_bitmap *set, uint64_t t0, struct migrate_stats *st,
			 struct hull_err *err)
{
	struct state_writer w;
	uint64_t pages, t = vm_now_ns();
	uint32_t crc;
	int r;

	o->max_bw = 0; /* the downtime: as fast as the link goes */
	r = dirty_log_sync(vm, d, set, true, err);
	st->sync_ns = lap(&t);
	if (r < 0)
		return r;
	if (send_pages_paused(vm, o, set, &pages) < 0)
		return fail_io(o, "sending the last dirty pages", err);
	st->pages_ns = lap(&t);
	st->last_pages = pages;
	st->pages += pages;
	r = snapshot_state_build(vm, &w, err);
	vm_devices_thaw(vm); /* the pages went before the state (virtio_pci_thaw) */
	if (r < 0)
		return r;
	out_u32(o, MIG_REC_STATE);
	out_u32(o, (uint32_t)w.len);
	out_put(o, w.buf, w.len);
	state_writer_release(&w);
	out_u32(o, MIG_REC_END);
	crc = htole32(o->crc);
	out_put(o, &crc, 4);
	st->state_ns = lap(&t);
	if (out_flush(o) < 0)
		return fail_io(o, "sending the state", err);
	st->flush_ns = lap(&t);
	st->sent_ns = t - t0;
	r = read_reply(o->fd, "state", err);
	st->ack_ns = lap(&t);
	return r;
}

int vm_migrate(struct vm *vm, int fd, const struct migrate_params *p, struct migrate_stats *st,
	       struct hull_err *err)
{
	cleanup_close int sock = fd;
	struct mig_out o = { .fd = fd, .max_bw = p->max_bw };
	struct dirty_log d = { 0 };
	struct dirty_bitmap set = { 0 };
	struct hull_err e2 = { 0 };
	bool paused = false, released = false;
	int r;

	/* the destination builds its devices from the command line: no hot-plugged NIC there */
	if (vm_net_hotplug_count(vm))
		return hull_err_setx(err, EOPNOTSUPP, "a VM with a hot-plugged NIC cannot migrate "
				     "yet (DELETE it first)");
	if (vm->vsock_cid)
		return hull_err_setx(err, EOPNOTSUPP, "a VM with --vsock cannot migrate yet "
				     "(vhost writes guest memory past the dirty log)");
	for (unsigned i = 0; i < VM_MAX_NICS; i++)
		if (vm->nics[i] && virtio_net_is_vhost(vm->nics[i]))
			return hull_err_setx(err, EOPNOTSUPP, "a VM with a vhost-net NIC cannot "
					     "migrate yet (vhost writes guest memory past the dirty "
					     "log): --net ...,vhost=off");
	/* the stream carries RAM only, as the snapshot's memory file (snapshot.c) */
	if (vm->mem.hp_size)
		return hull_err_setx(err, EOPNOTSUPP, "a VM with --memory-hotplug cannot migrate "
				     "yet (the stream carries RAM only)");
	if (vm->cfg->n_fs)
		return hull_err_setx(err, EOPNOTSUPP, "a VM with --fs cannot migrate (its "
				     "filesystem state lives in virtiofsd)");
	if (atomic_load(&vm->stop))
		return hull_err_setx(err, ESRCH, "the VM is stopping");
	memset(st, 0, sizeof(*st));
	/*
	 * One user of KVM's dirty log at a time: each sync clears it. A diff after this would
	 * miss what the migration's rounds took, so the snapshot chain ends here.
	 */
	snapshot_chain_free(vm);
	o.buf = xmalloc(OUT_BUF);
	o.t0 = vm_now_ns();
	o.deadline = o.t0 + p->timeout_ns;
	r = send_header(vm, &o, p, err);
	if (r == 0)
		r = dirty_log_start(vm, &d, err);
	if (r == 0 && dirty_bitmap_init(&set, vm->mem.size / MIG_PAGE) < 0)
		r = hull_err_setx(err, EINVAL, "guest RAM of %" PRIu64 " bytes", vm->mem.size);
	if (r == 0) {
		dirty_bitmap_set_range(&set, 0, set.npages); /* round 1: every page */
		r = precopy(vm, &o, &d, &set, p, st, err);
	}
	if (r == 0) {
		uint64_t t0 = vm_now_ns(), t = t0;

		vm_pause(vm);
		paused = true;
		st->pause_ns = lap(&t);
		r = atomic_load(&vm->stop) ? hull_err_setx(err, ESRCH, "the VM is stopping")
					   : migrate_disks_release(vm, err);
		released = r == 0;
		st->disks_ns = lap(&t);
		if (r == 0)
			r = stop_and_copy(vm, &o, &d, &set, t0, st, err);
		st->downtime_ns = vm_now_ns() - t0;
		log_debug("migration downtime %.1f ms: pause %.1f, disks %.1f, sync %.1f, "
			  "%" PRIu64 " pages %.1f, state %.1f, send %.1f, ack %.1f; sent after %.1f, "
			  "estimated %.1f", (double)st->downtime_ns / 1e6, (double)st->pause_ns / 1e6,
			  (double)st->disks_ns / 1e6, (double)st->sync_ns / 1e6, st->last_pages,
			  (double)st->pages_ns / 1e6, (double)st->state_ns / 1e6,
			  (double)st->flush_ns / 1e6, (double)st->ack_ns / 1e6,
			  (double)st->sent_ns / 1e6, (double)st->estimate_ns / 1e6);
	}
	st->total_ns = vm_now_ns() - o.t0;
	dirty_log_stop(vm, &d);
	dirty_bitmap_free(&set);
	free(o.buf);
	if (r == 0) {
		/* the destination runs the guest now: never again here */
		vm_request_stop(vm, VM_STOP_MIGRATED, "migrated");
		return 0;
	}
	if (released && migrate_disks_take_back(vm, &e2) < 0) {
		/* another process holds a disk now: the guest must not write it under them */
		log_error("migration failed and the disks cannot be taken back: %s", e2.msg);
		vm_request_stop(vm, VM_STOP_ERROR, "the disks could not be taken back");
	}
	if (paused)
		vm_resume(vm);
	return hull_err_prefix(err, "migration failed, the VM goes on here");
}

/* ---- the destination ---- */

static int fd_read_exact(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void reply(int fd, bool ok, const char *why)
{
	char line[MIG_REPLY_MAX];
	size_t n = mig_reply_format(line, ok, why);

	(void)send(fd, line, n, MSG_NOSIGNAL);
}

/* A round's end (MIG_REC_SYNC): its pages are in RAM, say so. */
static int fd_sync(void *ctx)
{
	int fd = *(int *)ctx;

	return send(fd, "OK\n", 3, MSG_NOSIGNAL) == 3 ? 0 : (errno ? -errno : -EPIPE);
}

/* Listen on the --incoming address and take one connection; the listener is gone after. */
static int incoming_accept(const char *spec, struct hull_err *err)
{
	struct sockaddr_storage sa;
	socklen_t len = 0;
	cleanup_close int lfd = -1;
	int one = 1, fd, r = addr_parse(spec, &sa, &len, err);

	if (r < 0)
		return hull_err_prefix(err, "--incoming");
	lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return hull_err_set(err, errno, "--incoming %s: socket", spec);
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, len) < 0 || listen(lfd, 1) < 0)
		return hull_err_set(err, errno, "--incoming %s", spec);
	log_debug("waiting for a migration on %s", spec);
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (sa.ss_family == AF_UNIX)
		(void)unlink(((struct sockaddr_un *)&sa)->sun_path);
	if (fd < 0)
		return hull_err_set(err, errno, "--incoming %s: accept", spec);
	set_timeouts(fd, INCOMING_RECV_TIMEOUT_S);
	return fd;
}

/* The header against this VM: its RAM size, vCPUs, CPU features. */
static int incoming_check(struct vm *vm, const struct mig_header *h, struct hull_err *err)
{
	cleanup_free struct mig_cpuid *ids = xcalloc(MIG_CPUID_MAX, sizeof(*ids));
	unsigned n = 0;
	int r;

	if (h->mem_size != vm->mem.size)
		return hull_err_setx(err, EINVAL, "the source's guest has %" PRIu64 " MiB of RAM, "
				     "this one %" PRIu64 " (--memory must match)",
				     h->mem_size >> 20, vm->mem.size >> 20);
	if (h->ncpus != vm->ncpus)
		return hull_err_setx(err, EINVAL, "the source's guest has %" PRIu32 " vCPUs, this "
				     "one %u (--cpus must match)", h->ncpus, vm->ncpus);
	r = arch_cpuid_entries(vm, ids, MIG_CPUID_MAX, &n, err);
	if (r < 0)
		return r;
	return mig_cpuid_check(h, ids, n, err);
}

static int incoming_stream(struct vm *vm, int fd, struct hull_err *err)
{
	struct mig_in in = { .read = fd_read_exact, .sync = fd_sync, .ctx = &fd };
	cleanup_free struct mig_header *h = xcalloc(1, sizeof(*h));
	cleanup_free uint8_t *state = NULL;
	size_t len = 0, slen = 0;
	uint64_t t, t_load;
	int r;

	r = mig_recv_header(&in, h, err);
	if (r == 0)
		r = incoming_check(vm, h, err);
	reply(fd, r == 0, err->msg);
	if (r < 0)
		return r;
	r = mig_recv_body(&in, vm->mem.host, vm->mem.size, &state, &len, err);
	t = vm_now_ns();
	if (r == 0)
		r = snapshot_state_verify(state, len, "the state record", &slen, err);
	if (r == 0)
		r = snapshot_state_load_buf(vm, state, slen, "the state record", err);
	t_load = vm_now_ns();
	if (r == 0)
		r = migrate_disks_open(vm, err); /* after the source's last write (migrate-disks.c) */
	reply(fd, r == 0, err->msg);
	/* the source's "ack" step, less the round trip and the stream's tail still in flight */
	log_debug("incoming migration: state loaded in %.1f ms, disks opened in %.1f ms",
		  (double)(t_load - t) / 1e6, (double)(vm_now_ns() - t_load) / 1e6);
	return r;
}

int migrate_incoming(struct vm *vm, struct hull_err *err)
{
	cleanup_close int fd = incoming_accept(vm->cfg->incoming, err);
	int r;

	if (fd < 0)
		return fd;
	r = incoming_stream(vm, fd, err);
	if (r < 0)
		return hull_err_prefix(err, "incoming migration on %s", vm->cfg->incoming);
	migrate_net_announce(vm);
	return 0;
}
