#include "vmm/virtio/balloon.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/alloc.h"
#include "vmm/loop.h"
#include "vmm/state.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_BALLOON 5
#define BALLOON_F_STATS_VQ (1ULL << 1)
#define BALLOON_F_DEFLATE_ON_OOM (1ULL << 2)
#define BALLOON_F_REPORTING (1ULL << 5)
#define BALLOON_QUEUE_SIZE 128
#define BALLOON_NUM_QUEUES 4 /* inflateq, deflateq, statsq, reporting_vq (at most) */
#define BALLOON_CONFIG_LEN 16 /* num_pages, actual, free_page_hint_cmd_id, poison_val */
/*
 * Bounds on what one wake-up does, whatever the guest posts: requests per kick (the rest is
 * served after the other devices, by kicking again), PFNs per request (Linux sends at most
 * 256), statistics per buffer (Linux sends 10).
 */
#define BALLOON_MAX_REQS_PER_KICK 32
#define BALLOON_MAX_PFNS_PER_REQ 1024
#define BALLOON_PFN_BATCH 256
#define BALLOON_MAX_STATS 64
#define BALLOON_PAGE_SIZE (1ULL << BALLOON_PAGE_SHIFT)

enum balloon_queue { BQ_INFLATE, BQ_DEFLATE, BQ_STATS, BQ_REPORTING, BQ_NONE };

struct balloon_stat_le {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));
_Static_assert(sizeof(struct balloon_stat_le) == 10, "virtio_balloon_stat");

struct balloon {
	struct virtio_pci_dev v; /* first */
	struct virtio_dev_ops ops; /* features from the configuration */
	uint64_t ram_pages;
	struct balloon_info info; /* target in the config space too; actual from the driver */
	bool stats_held;          /* the statistics buffer the device keeps (5.5.6.3) */
	uint16_t stats_head;
	struct evloop *loop;      /* the statistics timer's loop, or NULL */
	int stats_tfd;
};

static const char *const stat_names[BALLOON_S_COUNT] = {
	[BALLOON_S_SWAP_IN] = "swap_in", [BALLOON_S_SWAP_OUT] = "swap_out",
	[BALLOON_S_MAJFLT] = "major_faults", [BALLOON_S_MINFLT] = "minor_faults",
	[BALLOON_S_MEMFREE] = "free_memory", [BALLOON_S_MEMTOT] = "total_memory",
	[BALLOON_S_AVAIL] = "available_memory", [BALLOON_S_CACHES] = "disk_caches",
	[BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
	[BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
};

const char *balloon_stat_name(enum balloon_stat s)
{
	return (unsigned)s < BALLOON_S_COUNT ? stat_names[s] : "unknown";
}

/*
 * Which role queue q has: inflateq and deflateq, then statsq and reporting_vq only when
 * negotiated, each taking the next index (5.5.2: a queue that does not exist takes none).
 */
static enum balloon_queue balloon_queue_role(const struct virtio_pci_dev *v, unsigned q)
{
	uint64_t f = v->st.driver_features;
	unsigned next = 2;

	if (q < 2)
		return q == 0 ? BQ_INFLATE : BQ_DEFLATE;
	if (f & BALLOON_F_STATS_VQ) {
		if (q == next)
			return BQ_STATS;
		next++;
	}
	if ((f & BALLOON_F_REPORTING) && q == next)
		return BQ_REPORTING;
	return BQ_NONE;
}

/*
 * Give [off, off + len) of the host mapping of guest RAM back to the host (off: from m->host),
 * or [p, p + len) of the virtio-mem region (gmem_discard tells them apart).
 */
static void balloon_release(const struct guest_mem *m, uint64_t off, uint64_t len)
{
	gmem_discard(m, m->host + off, len);
}

/* One inflate or deflate request: an array of le32 PFNs. */
static void balloon_pfns(struct balloon *b, const struct virtq_elem *e, bool inflate)
{
	const struct guest_mem *m = b->v.mem;
	uint64_t n = e->in_len / 4, run_off = 0, run_len = 0;
	uint32_t pfns[BALLOON_PFN_BATCH];

	if (n > BALLOON_MAX_PFNS_PER_REQ)
		n = BALLOON_MAX_PFNS_PER_REQ;
	for (uint64_t i = 0; i < n; i += BALLOON_PFN_BATCH) {
		size_t k = (size_t)(n - i < BALLOON_PFN_BATCH ? n - i : BALLOON_PFN_BATCH);

		(void)virtq_elem_read(e, i * 4, pfns, k * 4);
		for (size_t j = 0; j < k; j++) {
			uint64_t gpa = (uint64_t)le32toh(pfns[j]) << BALLOON_PAGE_SHIFT;
			uint8_t *p = gmem_ptr(m, gpa, BALLOON_PAGE_SIZE);
			uint64_t off;

			if (!p) {
				b->info.bad_pfns++;
				continue;
			}
			if (!inflate) {
				b->info.deflated++;
				continue;
			}
			b->info.inflated++;
			if (p < m->host || p >= m->host + m->size) {
				gmem_discard(m, p, BALLOON_PAGE_SIZE); /* hotplugged memory */
				continue;
			}
			off = (uint64_t)(p - m->host);
			if (run_len && off == run_off + run_len) {
				run_len += BALLOON_PAGE_SIZE;
				continue;
			}
			if (run_len)
				balloon_release(m, run_off, run_len);
			run_off = off;
			run_len = BALLOON_PAGE_SIZE;
		}
	}
	if (run_len)
		balloon_release(m, run_off, run_len);
}

/* Free page reporting (5.5.6.6): each buffer is a free range; whole pages of it are released. */
static void balloon_report(struct balloon *b, const struct virtq_elem *e)
{
	const struct guest_mem *m = b->v.mem;

	for (unsigned i = 0; i < e->n_in + e->n_out; i++) {
		/* page-aligned part of the buffer, in host addresses (RAM and the virtio-mem
		 * region are both mapped 2 MiB-aligned, so host and guest alignment agree) */
		uintptr_t a = (uintptr_t)e->iov[i].iov_base;
		uintptr_t start = (a + BALLOON_PAGE_SIZE - 1) & ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);
		uintptr_t end = (a + e->iov[i].iov_len) & ~(uintptr_t)(BALLOON_PAGE_SIZE - 1);

		/* iov is inside guest RAM or the virtio-mem region (virtq_pop checked it) */
		if (end > start) {
			gmem_discard(m, (void *)start, end - start);
			b->info.reported += end - start;
		}
	}
}

/* A statistics buffer: whole tag/value pairs from its readable part, unknown tags skipped. */
static void balloon_stats_parse(struct balloon *b, const struct virtq_elem *e)
{
	struct balloon_stat_le s[BALLOON_MAX_STATS];
	size_t n = virtq_elem_read(e, 0, s, sizeof(s)) / sizeof(s[0]);

	for (size_t i = 0; i < n; i++) {
		uint16_t tag = le16toh(s[i].tag);

		if (tag >= BALLOON_S_COUNT)
			continue;
		b->info.stat[tag] = le64toh(s[i].val);
		b->info.set |= 1U << tag;
	}
}

/* Serve one request of queue q (role r); false when it is to stay on the device (stats). */
static bool balloon_serve(struct balloon *b, struct virtq *vq, enum balloon_queue r,
			  const struct virtq_elem *e)
{
	switch (r) {
	case BQ_INFLATE:
	case BQ_DEFLATE:
		balloon_pfns(b, e, r == BQ_INFLATE);
		return true;
	case BQ_REPORTING:
		balloon_report(b, e);
		return true;
	case BQ_STATS:
		balloon_stats_parse(b, e);
		/* The device keeps one buffer; a second one sends the older back. */
		if (b->stats_held)
			(void)virtq_push(vq, b->stats_head, 0);
		b->stats_held = true;
		b->stats_head = e->head;
		return false;
	case BQ_NONE:
	default:
		return true;
	}
}

static void balloon_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	struct balloon *b = (struct balloon *)v;
	struct virtq *vq = &v->st.vq[q];
	enum balloon_queue role = balloon_queue_role(v, q);
	struct virtq_elem e;
	unsigned served = 0;
	int r = 0;

	while (served < BALLOON_MAX_REQS_PER_KICK && (r = virtq_pop(vq, &e)) > 0) {
		served++;
		if (balloon_serve(b, vq, role, &e))
			(void)virtq_push(vq, e.head, 0);
	}
	if (served)
		virtio_pci_notify(v, q);
	if (r < 0) {
		virtio_pci_device_error(v);
	} else if (served == BALLOON_MAX_REQS_PER_KICK && v->kick_fd[q] >= 0) {
		uint64_t one = 1;

		/* More may wait: come back after the other fds the loop has ready. */
		(void)!write(v->kick_fd[q], &one, sizeof(one));
	}
}

static void config_put32(struct virtio_pci_dev *v, uint32_t off, uint32_t val)
{
	val = htole32(val);
	memcpy(v->st.config + off, &val, 4);
}

/* The driver writes actual (5.5.4); the rest of the configuration is the device's. */
static void balloon_config_write(struct virtio_pci_dev *v, uint32_t off, uint64_t val,
				 uint32_t len)
{
	struct balloon *b = (struct balloon *)v;

	if (off != 4 || len != 4)
		return;
	b->info.actual_pages = (uint32_t)val;
	config_put32(v, 4, (uint32_t)val);
}

static void balloon_reset(struct virtio_pci_dev *v)
{
	struct balloon *b = (struct balloon *)v;

	/* The target stays (the next driver inflates to it); the guest's pages are its own again. */
	b->stats_held = false;
	b->info.actual_pages = 0;
	config_put32(v, 4, 0);
}

void virtio_balloon_stats_request(struct virtio_pci_dev *v)
{
	struct balloon *b = (struct balloon *)v;
	unsigned q = 2; /* statsq is the first after deflateq when negotiated */
	struct virtq *vq = &v->st.vq[q];

	pthread_mutex_lock(&v->lock);
	if (!(v->st.status & VIRTIO_STATUS_DRIVER_OK) || balloon_queue_role(v, q) != BQ_STATS ||
	    !vq->ready || vq->broken) {
		pthread_mutex_unlock(&v->lock);
		return;
	}
	if (b->stats_held) {
		b->stats_held = false;
		if (virtq_push(vq, b->stats_head, 0) == 0)
			virtio_pci_notify(v, q);
	} else {
		/*
		 * Linux posts its first statistics buffer and kicks before DRIVER_OK (init_vqs in
		 * virtio_balloon.c), a kick the transport drops: take that buffer now.
		 */
		balloon_queue_notify(v, q);
	}
	pthread_mutex_unlock(&v->lock);
}

static void balloon_on_timer(void *opaque, int fd, uint32_t events)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	virtio_balloon_stats_request(opaque);
}

int virtio_balloon_set_target(struct virtio_pci_dev *v, uint64_t pages)
{
	struct balloon *b = (struct balloon *)v;

	if (pages > b->ram_pages || pages > UINT32_MAX)
		return -ERANGE;
	pthread_mutex_lock(&v->lock);
	b->info.target_pages = (uint32_t)pages;
	config_put32(v, 0, (uint32_t)pages);
	virtio_pci_config_changed(v);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void virtio_balloon_info(struct virtio_pci_dev *v, struct balloon_info *ret)
{
	struct balloon *b = (struct balloon *)v;

	pthread_mutex_lock(&v->lock);
	*ret = b->info;
	pthread_mutex_unlock(&v->lock);
}

static struct balloon *balloon_alloc(const struct guest_mem *mem,
				     const struct vm_balloon_config *cfg)
{
	struct balloon *b = xcalloc(1, sizeof(*b));

	b->stats_tfd = -1;
	b->ops = (struct virtio_dev_ops){
		.name = "virtio-balloon",
		.device_id = VIRTIO_ID_BALLOON,
		.class_code = 0x050000, /* memory controller, as QEMU's */
		.features = (cfg->stats_s ? BALLOON_F_STATS_VQ : 0) |
			    (cfg->deflate_on_oom ? BALLOON_F_DEFLATE_ON_OOM : 0) |
			    (cfg->free_page_reporting ? BALLOON_F_REPORTING : 0),
		.num_queues = BALLOON_NUM_QUEUES,
		.queue_max = BALLOON_QUEUE_SIZE,
		.queue_notify = balloon_queue_notify,
		.reset = balloon_reset,
		.config_write = balloon_config_write,
	};
	b->ram_pages = mem->size >> BALLOON_PAGE_SHIFT;
	b->info.target_pages = (uint32_t)((uint64_t)cfg->amount_mib << (20 - BALLOON_PAGE_SHIFT));
	b->v.st.config_len = BALLOON_CONFIG_LEN;
	config_put32(&b->v, 0, b->info.target_pages);
	return b;
}

static int balloon_timer_start(struct balloon *b, struct evloop *loop, unsigned secs,
			       struct hull_err *err)
{
	struct itimerspec its = { .it_interval = { .tv_sec = (time_t)secs },
				  .it_value = { .tv_sec = (time_t)secs } };
	int r;

	b->stats_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->stats_tfd < 0 || timerfd_settime(b->stats_tfd, 0, &its, NULL) < 0)
		return hull_err_set(err, errno, "virtio-balloon: statistics timer");
	r = evloop_add(loop, b->stats_tfd, EPOLLIN, balloon_on_timer, b);
	if (r < 0)
		return hull_err_set(err, -r, "virtio-balloon: event loop");
	b->loop = loop;
	return 0;
}

int virtio_balloon_create(struct vm *vm, const struct vm_balloon_config *cfg,
			  struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct balloon *b = balloon_alloc(&vm->mem, cfg);
	int r;

	/* the validated configuration keeps the target within RAM (vm_validate) */
	r = virtio_pci_init(&b->v, vm, &vm->mem, &b->ops, err);
	if (r == 0 && cfg->stats_s)
		r = balloon_timer_start(b, vm->loop, cfg->stats_s, err);
	if (r < 0) {
		virtio_balloon_free(&b->v);
		return r;
	}
	*ret = &b->v;
	return 0;
}

struct virtio_pci_dev *virtio_balloon_new_test(const struct guest_mem *mem,
					       const struct vm_balloon_config *cfg)
{
	struct balloon *b = balloon_alloc(mem, cfg);

	(void)virtio_pci_init(&b->v, NULL, mem, &b->ops, NULL);
	return &b->v;
}

void virtio_balloon_free(struct virtio_pci_dev *v)
{
	struct balloon *b = (struct balloon *)v;

	if (!v)
		return;
	if (b->stats_tfd >= 0) {
		if (b->loop)
			(void)evloop_del(b->loop, b->stats_tfd);
		(void)close(b->stats_tfd);
	}
	virtio_pci_release(v);
	free(b);
}

/* The held statistics buffer, then the transport's state (which must end the section). */
void virtio_balloon_save(struct virtio_pci_dev *v, struct state_writer *w)
{
	struct balloon *b = (struct balloon *)v;

	pthread_mutex_lock(&v->lock);
	state_put_u32(w, b->info.actual_pages);
	state_put_u8(w, b->stats_held);
	state_put_u16(w, b->stats_head);
	pthread_mutex_unlock(&v->lock);
	virtio_pci_save(v, w);
}

int virtio_balloon_load(struct virtio_pci_dev *v, struct state_reader *r)
{
	struct balloon *b = (struct balloon *)v;
	uint32_t actual = 0, target;
	uint16_t head = 0;
	bool held = false;
	int e = 0;

	e |= state_get_u32(r, &actual);
	e |= state_get_bool(r, &held);
	e |= state_get_u16(r, &head);
	if (e || head >= BALLOON_QUEUE_SIZE)
		return -EBADMSG;
	e = virtio_pci_load(v, r);
	if (e < 0)
		return e;
	pthread_mutex_lock(&v->lock);
	memcpy(&target, v->st.config, 4);
	/* a stream's target beyond this VM's RAM is cut to it */
	b->info.target_pages = (uint32_t)(le32toh(target) > b->ram_pages ? b->ram_pages
									    : le32toh(target));
	config_put32(v, 0, b->info.target_pages);
	b->info.actual_pages = actual;
	b->stats_held = held;
	b->stats_head = head;
	pthread_mutex_unlock(&v->lock);
	return 0;
}
