#include "vmm/virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/disk.h"
#include "vmm/loop.h"
#include "vmm/ratelimit.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_F_SEG_MAX (1ULL << 2)
#define BLK_F_RO (1ULL << 5)
#define BLK_F_BLK_SIZE (1ULL << 6)
#define BLK_F_FLUSH (1ULL << 9)
#define BLK_F_DISCARD (1ULL << 13)
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_DISCARD 11
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define BLK_ID_BYTES 20
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX (VIRTQ_MAX_CHAIN - 2)
#define BLK_MAX_DISCARD_SEG 16

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
} __attribute__((packed));
_Static_assert(sizeof(struct blk_req_hdr) == 16, "virtio_blk_outhdr");

struct blk_discard {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct blk_discard) == 16, "virtio_blk_discard_write_zeroes");

struct blk {
	struct virtio_pci_dev v; /* first */
	struct disk *disk; /* NULL on a migration's destination until the stop-and-copy */
	bool detached;     /* a migration's stop-and-copy: flushed, unlocked, requests wait */
	bool readonly;
	char serial[BLK_ID_BYTES + 1];
	void (*test_delay)(void *opaque); /* unit tests: called before each request is served */
	void *test_opaque;
	/* GET /metrics: added by the serving thread, read by the API's (relaxed). */
	atomic_uint_fast64_t n_requests, n_errors, n_read_bytes, n_write_bytes;
	/* --disk bps=, iops= (docs/vmm.md "Rate limits"); under v.lock */
	struct ratelimit rl;
	bool throttled; /* the limiter said wait: kicks wait for rl_tfd */
	int rl_tfd;     /* timerfd on the I/O thread's loop: resumes the queue */
};

/*
 * Slice [off, off + len) of buffers [first, first + n) of e into iov; returns the count or
 * -EINVAL when the range does not fit.
 */
static int elem_slice(const struct virtq_elem *e, unsigned first, unsigned n, uint64_t off,
		      uint64_t len, struct iovec *iov)
{
	int cnt = 0;

	for (unsigned i = first; i < first + n && len; i++) {
		uint64_t l = e->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		iov[cnt++] = (struct iovec){ (uint8_t *)e->iov[i].iov_base + off, (size_t)l };
		len -= l;
		off = 0;
	}
	return len ? -EINVAL : cnt;
}

static uint8_t blk_discard(struct blk *b, const struct virtq_elem *e)
{
	uint64_t n = (e->in_len - sizeof(struct blk_req_hdr)) / sizeof(struct blk_discard);

	if (n == 0 || n > BLK_MAX_DISCARD_SEG)
		return BLK_S_IOERR;
	for (uint64_t i = 0; i < n; i++) {
		struct blk_discard s;
		uint64_t sector, count;

		(void)virtq_elem_read(e, sizeof(struct blk_req_hdr) + i * sizeof(s), &s, sizeof(s));
		sector = le64toh(s.sector);
		count = le32toh(s.num_sectors);
		if (sector > (UINT64_MAX >> 9) || disk_discard(b->disk, sector << 9, count << 9) < 0)
			return BLK_S_IOERR;
	}
	return BLK_S_OK;
}

/* Serve one request; returns the status byte and the bytes written to the guest. */
static uint8_t blk_request(struct blk *b, const struct virtq_elem *e, uint32_t *ret_written)
{
	struct iovec iov[VIRTQ_MAX_CHAIN];
	struct blk_req_hdr h;
	uint64_t off, len;
	int n;

	*ret_written = 0;
	if (virtq_elem_read(e, 0, &h, sizeof(h)) != sizeof(h))
		return BLK_S_IOERR;
	if (le64toh(h.sector) > (UINT64_MAX >> 9))
		return BLK_S_IOERR;
	off = le64toh(h.sector) << 9;
	switch (le32toh(h.type)) {
	case BLK_T_IN:
		len = e->out_len - 1;
		n = elem_slice(e, e->n_in, e->n_out, 0, len, iov);
		if (n < 0 || (len & 511) || disk_readv(b->disk, off, iov, n) < 0)
			return BLK_S_IOERR;
		*ret_written = (uint32_t)len;
		atomic_fetch_add_explicit(&b->n_read_bytes, len, memory_order_relaxed);
		return BLK_S_OK;
	case BLK_T_OUT:
		if (b->readonly)
			return BLK_S_IOERR;
		len = e->in_len - sizeof(h);
		n = elem_slice(e, 0, e->n_in, sizeof(h), len, iov);
		if (n < 0 || (len & 511) || disk_writev(b->disk, off, iov, n) < 0)
			return BLK_S_IOERR;
		atomic_fetch_add_explicit(&b->n_write_bytes, len, memory_order_relaxed);
		return BLK_S_OK;
	case BLK_T_FLUSH:
		return disk_flush(b->disk) < 0 ? BLK_S_IOERR : BLK_S_OK;
	case BLK_T_GET_ID: {
		char id[BLK_ID_BYTES] = { 0 };

		memcpy(id, b->serial, strnlen(b->serial, BLK_ID_BYTES));
		len = e->out_len - 1 < BLK_ID_BYTES ? e->out_len - 1 : BLK_ID_BYTES;
		virtq_elem_write(e, 0, id, (size_t)len);
		*ret_written = (uint32_t)len;
		return BLK_S_OK;
	}
	case BLK_T_DISCARD:
		if (b->readonly)
			return BLK_S_IOERR;
		return blk_discard(b, e);
	default:
		return BLK_S_UNSUPP;
	}
}

/*
 * The rate limiter's say on a popped request: true to serve it now. When the buckets are
 * short, the request goes back on the ring (virtq_unpop: nothing is dropped), the queue stops
 * taking requests and the timer wakes it when the tokens are there (no polling). The cost is
 * the data bytes and one operation; a malformed request costs one operation.
 */
static bool blk_admit(struct blk *b, struct virtq *vq, const struct virtq_elem *e)
{
	uint64_t bytes = 0, now, wait;
	struct blk_req_hdr h;
	struct itimerspec its = { 0 };

	if (!ratelimit_active(&b->rl))
		return true;
	if (e->out_len >= 1 && e->in_len >= sizeof(h) &&
	    virtq_elem_read(e, 0, &h, sizeof(h)) == sizeof(h)) {
		if (le32toh(h.type) == BLK_T_IN)
			bytes = e->out_len - 1;
		else if (le32toh(h.type) == BLK_T_OUT)
			bytes = e->in_len - sizeof(h);
	}
	now = vm_now_ns();
	if (ratelimit_consume(&b->rl, bytes, 1, now))
		return true;
	virtq_unpop(vq, 1);
	wait = ratelimit_wait_ns(&b->rl, bytes, 1, now);
	its.it_value.tv_sec = (time_t)(wait / 1000000000ULL);
	its.it_value.tv_nsec = (long)(wait % 1000000000ULL);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	/* no timer (a unit test without a VM): the next kick retries */
	b->throttled = b->rl_tfd >= 0 && timerfd_settime(b->rl_tfd, 0, &its, NULL) == 0;
	return false;
}

static void blk_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	struct blk *b = (struct blk *)v;
	struct virtq *vq = &v->st.vq[q];
	struct virtq_elem e;
	bool done = false;
	int r;

	if (b->throttled || !b->disk || b->detached)
		return; /* rl_tfd resumes the queue; a migration's detach: virtio_blk_attach */
	while ((r = virtq_pop(vq, &e)) > 0) {
		uint32_t written;
		uint8_t status;

		if (!blk_admit(b, vq, &e))
			break;

		/* Every request ends with a writable status byte (5.2.6). */
		if (e.out_len < 1 || e.in_len < sizeof(struct blk_req_hdr)) {
			status = BLK_S_IOERR;
			written = 0;
		} else {
			if (b->test_delay)
				b->test_delay(b->test_opaque);
			status = blk_request(b, &e, &written);
		}
		atomic_fetch_add_explicit(&b->n_requests, 1, memory_order_relaxed);
		if (status != BLK_S_OK)
			atomic_fetch_add_explicit(&b->n_errors, 1, memory_order_relaxed);
		if (e.out_len >= 1)
			virtq_elem_write(&e, e.out_len - 1, &status, 1);
		(void)virtq_push(vq, e.head, written + (e.out_len >= 1 ? 1 : 0));
		done = true;
	}
	if (done)
		virtio_pci_notify(v, q);
	if (r < 0)
		virtio_pci_device_error(v);
}

static const struct virtio_dev_ops blk_ops_rw = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000,
	.features = BLK_F_SEG_MAX | BLK_F_BLK_SIZE | BLK_F_FLUSH | BLK_F_DISCARD |
		    VIRTQ_F_EVENT_IDX, /* the notifications follow the rings' events (queue.h) */
	.num_queues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.io_thread = true, /* a slow disk must not hold up the console and the API */
	.queue_notify = blk_queue_notify,
};

static const struct virtio_dev_ops blk_ops_ro = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000,
	.features = BLK_F_SEG_MAX | BLK_F_BLK_SIZE | BLK_F_FLUSH | BLK_F_RO |
		    VIRTQ_F_EVENT_IDX, /* the notifications follow the rings' events (queue.h) */
	.num_queues = 1,
	.queue_max = BLK_QUEUE_SIZE,
	.io_thread = true, /* a slow disk must not hold up the console and the API */
	.queue_notify = blk_queue_notify,
};

/* struct virtio_blk_config (5.2.4), the fields hull offers. */
static void blk_config(struct blk *b)
{
	uint8_t *c = b->v.st.config;
	/* no disk yet (a migration's destination): the loaded state brings the capacity */
	uint64_t cap = htole64(b->disk ? disk_size(b->disk) >> 9 : 0);
	uint32_t v32;

	memcpy(c + 0, &cap, 8);
	v32 = htole32(BLK_SEG_MAX);
	memcpy(c + 12, &v32, 4); /* seg_max */
	v32 = htole32(512);
	memcpy(c + 20, &v32, 4); /* blk_size */
	v32 = htole32(UINT32_MAX >> 9);
	memcpy(c + 36, &v32, 4); /* max_discard_sectors */
	v32 = htole32(BLK_MAX_DISCARD_SEG);
	memcpy(c + 40, &v32, 4); /* max_discard_seg */
	v32 = htole32(1);
	memcpy(c + 44, &v32, 4); /* discard_sector_alignment */
	b->v.st.config_len = 60;
}

/* rl_tfd fired (I/O thread): serve what waited, if the queue is still there to serve. */
static void blk_on_rate_timer(void *opaque, int fd, uint32_t events)
{
	struct blk *b = opaque;
	struct virtq *vq = &b->v.st.vq[0];
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&b->v.lock);
	b->throttled = false;
	if (vq->ready && !vq->broken && (b->v.st.status & VIRTIO_STATUS_DRIVER_OK))
		blk_queue_notify(&b->v, 0);
	pthread_mutex_unlock(&b->v.lock);
}

void virtio_blk_set_rate_limit(struct virtio_pci_dev *v, const struct ratelimit_config *c)
{
	struct blk *b = (struct blk *)v;
	struct itimerspec now = { .it_value = { .tv_nsec = 1 } };

	pthread_mutex_lock(&v->lock);
	ratelimit_init(&b->rl, c, vm_now_ns());
	/* what waited goes through the new limits at once */
	if (b->throttled && timerfd_settime(b->rl_tfd, 0, &now, NULL) < 0)
		b->throttled = false;
	pthread_mutex_unlock(&v->lock);
}

static struct blk *blk_alloc(struct disk *d, bool ro, const char *serial)
{
	struct blk *b = xcalloc(1, sizeof(*b));

	b->rl_tfd = -1;

	b->disk = d;
	b->readonly = ro;
	if (serial) /* at most 20 bytes (vm_validate); a longer one is cut, never overrun */
		memcpy(b->serial, serial, strnlen(serial, BLK_ID_BYTES));
	blk_config(b);
	return b;
}

int virtio_blk_open_disk(const struct vm_disk_config *cfg, struct disk **ret,
			 struct hull_err *err)
{
	struct disk *d = NULL;
	int r;

	/*
	 * The format is the user's (raw by default), never probed: probing a guest-writable raw
	 * image would let a guest that wrote QCOW2 magic into it pick host files as its backing.
	 * A QCOW2 image opens its backing chain read-only (src/disk). The format (raw or qcow2,
	 * never AUTO), the file's type and mode were checked with the other arguments
	 * (vm_validate).
	 */
	r = disk_open(cfg->path, cfg->format, cfg->readonly ? DISK_OPEN_RDONLY : 0, &d, err);
	if (r < 0)
		return hull_err_prefix(err, "--disk %s", cfg->path);
	if (disk_size(d) < 512) {
		disk_close(d);
		return hull_err_setx(err, EINVAL, "--disk %s: smaller than one sector", cfg->path);
	}
	*ret = d;
	return 0;
}

/* The limiter and its timer, on the I/O thread's loop (always: the API may set limits later). */
static int blk_rate_limit_setup(struct blk *b, const struct vm_disk_config *cfg,
				struct hull_err *err)
{
	int r;

	if (ratelimit_config_check(&cfg->rate) < 0)
		return hull_err_setx(err, EINVAL, "--disk %s: rate limit out of range", cfg->path);
	ratelimit_init(&b->rl, &cfg->rate, vm_now_ns());
	if (!b->v.io_loop)
		return 0;
	b->rl_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->rl_tfd < 0)
		return hull_err_set(err, errno, "--disk %s: rate limiter timer", cfg->path);
	r = evloop_add(b->v.io_loop, b->rl_tfd, EPOLLIN, blk_on_rate_timer, b);
	if (r < 0)
		return hull_err_set(err, -r, "--disk %s: rate limiter timer", cfg->path);
	return 0;
}

int virtio_blk_create(struct vm *vm, const struct vm_disk_config *cfg, struct disk **disk,
		      struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct blk *b = blk_alloc(steal_ptr(disk), cfg->readonly, cfg->serial);
	int r;

	r = virtio_pci_init(&b->v, vm, &vm->mem, cfg->readonly ? &blk_ops_ro : &blk_ops_rw, err);
	if (r == 0)
		r = blk_rate_limit_setup(b, cfg, err);
	if (r < 0) {
		virtio_blk_free(&b->v);
		return r;
	}
	*ret = &b->v;
	return 0;
}

struct virtio_pci_dev *virtio_blk_new_test(const struct guest_mem *mem, struct disk *d,
					   const char *serial)
{
	struct blk *b = blk_alloc(d, disk_is_read_only(d), serial);

	(void)virtio_pci_init(&b->v, NULL, mem, disk_is_read_only(d) ? &blk_ops_ro : &blk_ops_rw,
			      NULL);
	return &b->v;
}

void virtio_blk_free(struct virtio_pci_dev *v)
{
	struct blk *b = (struct blk *)v;

	if (!v)
		return;
	virtio_pci_release(v); /* joins the I/O thread, frees its loop */
	if (b->rl_tfd >= 0)
		(void)close(b->rl_tfd);
	disk_close(b->disk);
	free(b);
}

void virtio_blk_metrics(struct virtio_pci_dev *v,
			void (*put)(void *ctx, const char *name, uint64_t value), void *ctx)
{
	struct blk *b = (struct blk *)v;

	put(ctx, "requests", atomic_load_explicit(&b->n_requests, memory_order_relaxed));
	put(ctx, "errors", atomic_load_explicit(&b->n_errors, memory_order_relaxed));
	put(ctx, "read_bytes", atomic_load_explicit(&b->n_read_bytes, memory_order_relaxed));
	put(ctx, "write_bytes", atomic_load_explicit(&b->n_write_bytes, memory_order_relaxed));
}

int virtio_blk_rescan(struct virtio_pci_dev *v, uint64_t *ret_size)
{
	struct blk *b = (struct blk *)v;
	uint64_t cap, old;
	int r = b->disk ? disk_refresh_size(b->disk) : -ENODEV;

	if (r < 0)
		return r;
	*ret_size = disk_size(b->disk);
	cap = htole64(*ret_size >> 9);
	pthread_mutex_lock(&v->lock);
	memcpy(&old, v->st.config, 8);
	/* capacity (5.2.4); the driver re-reads it on the config interrupt (virtblk_config_changed) */
	if (old != cap) {
		memcpy(v->st.config, &cap, 8);
		virtio_pci_config_changed(v);
	}
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int virtio_blk_grow(struct virtio_pci_dev *v, uint64_t new_size, struct hull_err *err)
{
	struct blk *b = (struct blk *)v;
	uint64_t cap;
	int r;

	if (!b->disk)
		return hull_err_setx(err, ENODEV, "the disk is detached (a migration)");
	if (b->readonly)
		return hull_err_setx(err, EROFS, "%s: the guest's disk is read-only",
				     disk_path(b->disk));
	/* v->lock: the I/O thread serves requests under it, so none runs while the disk grows */
	pthread_mutex_lock(&v->lock);
	r = disk_grow(b->disk, new_size, err);
	if (r == 0) {
		cap = htole64(disk_size(b->disk) >> 9);
		if (memcmp(v->st.config, &cap, 8) != 0) {
			memcpy(v->st.config, &cap, 8);
			virtio_pci_config_changed(v);
		}
	}
	pthread_mutex_unlock(&v->lock);
	return r;
}

void virtio_blk_set_test_delay(struct virtio_pci_dev *v, void (*fn)(void *), void *opaque)
{
	struct blk *b = (struct blk *)v;

	pthread_mutex_lock(&v->lock);
	b->test_delay = fn;
	b->test_opaque = opaque;
	pthread_mutex_unlock(&v->lock);
}

int virtio_blk_detach(struct virtio_pci_dev *v, struct hull_err *err)
{
	struct blk *b = (struct blk *)v;
	int r = 0;

	/* v->lock: a request in service on the I/O thread ends before it is taken */
	pthread_mutex_lock(&v->lock);
	if (b->disk && !b->readonly)
		r = disk_flush(b->disk);
	if (r < 0)
		hull_err_set(err, -r, "%s: flushing the disk", disk_path(b->disk));
	else if (b->disk)
		(void)disk_unlock(b->disk); /* the file stays open: a failure takes it back */
	b->detached = r == 0;
	pthread_mutex_unlock(&v->lock);
	return r;
}

bool virtio_blk_attached(const struct virtio_pci_dev *v)
{
	const struct blk *b = (const struct blk *)v;

	return b->disk && !b->detached;
}

/* The destination's disk, opened from its --disk: the size the guest's driver saw. */
static int blk_take(struct blk *b, struct disk **disk, struct hull_err *err)
{
	uint64_t cap = htole64(disk_size(*disk) >> 9), want;

	memcpy(&want, b->v.st.config, 8);
	if (want && want != cap)
		return hull_err_setx(err, EINVAL, "%s: %" PRIu64 " sectors, the guest's disk had %"
				     PRIu64, disk_path(*disk), le64toh(cap), le64toh(want));
	b->disk = steal_ptr(disk);
	memcpy(b->v.st.config, &cap, 8);
	return 0;
}

int virtio_blk_attach(struct virtio_pci_dev *v, struct disk **disk, struct hull_err *err)
{
	struct blk *b = (struct blk *)v;
	struct virtq *vq = &v->st.vq[0];
	int r;

	pthread_mutex_lock(&v->lock);
	if (b->disk) /* the source's own, after a failed migration: its lock again */
		r = disk_relock(b->disk, err);
	else
		r = disk ? blk_take(b, disk, err) : hull_err_setx(err, ENODEV, "no disk to attach");
	if (r == 0) {
		b->detached = false;
		/* what the guest queued while no disk was there */
		if (vq->ready && !vq->broken && (v->st.status & VIRTIO_STATUS_DRIVER_OK))
			blk_queue_notify(v, 0);
	}
	pthread_mutex_unlock(&v->lock);
	return r;
}
