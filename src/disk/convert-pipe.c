/*
 * convert's copy with several reads in flight (qemu-img convert's -m and -W).
 *
 * One request at a time leaves a cold source's device idle between requests: qemu-img keeps
 * 8 coroutines reading (-m), and so does this. Each worker thread owns a buffer and its own
 * read-only handle on the source chain (a struct disk serialises its calls, so readers that
 * shared one would read one at a time). A worker takes the next extent under the pipe's
 * mutex (the plan: block status on s, which no worker reads through), reads it, waits for
 * its turn (extents are numbered in offset order; with -W it does not wait) and writes it,
 * then takes the next. The target sees the same writes in the same order as a serial copy,
 * so with in-order writes its allocation is what the serial copy made.
 *
 * The first error stops every worker; the caller removes the half-made target. The target's
 * dirty pages are sent to the device as the copy goes (disk_start_writeback), so the flush
 * that makes it durable before the rename waits for little.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/img-internal.h"
#include "disk/qcow2.h"

#define PIPE_CHUNK (2u << 20)      /* the longest extent: one worker's buffer */
#define PIPE_PREFETCH (16u << 20)  /* how far the plan prefetches ahead of itself */
#define PIPE_WRITEBACK (32u << 20) /* bytes written between two disk_start_writeback */
#define PIPE_STACK (1u << 20)      /* the workers' stacks: reads need little */
#define PIPE_DEFAULT 8             /* qemu-img convert's default -m */
#define PIPE_HANDLES (192u << 20)  /* what the readers' handles on the chain may take */

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t turn;
	struct disk *s, *d;
	uint64_t size, next;      /* next: where the next extent starts */
	uint64_t seq, written;    /* extents handed out; extents written (in order) */
	uint64_t done, fetched;   /* bytes copied or skipped; prefetched up to */
	uint64_t since_wb;        /* bytes written since the last disk_start_writeback */
	bool in_order;
	bool prefetch;            /* fewer readers than PIPE_PREFETCH keeps in flight */
	int r;                    /* the first error, 0 while none */
	char detail[512];         /* "FILE: table and entry" when metadata caused it */
	const struct img_progress *progress;
};

struct worker {
	struct pipe *p;
	struct disk *src;
	uint8_t *buf;
	pthread_t tid;
	bool running;
};

/* Record the first error (with the failing disk's detail, taken now, while it is still the
 * detail of this failure) and wake every waiter. Called with p->mu held. */
static void fail_locked(struct pipe *p, int r, struct disk *d)
{
	if (p->r)
		return;
	p->r = r;
	d = img_detail_disk(d);
	if (d)
		snprintf(p->detail, sizeof(p->detail), "%s: %s", disk_path(d),
			 disk_error_detail(d));
	(void)pthread_cond_broadcast(&p->turn);
}

static void fail(struct pipe *p, int r, struct disk *d)
{
	(void)pthread_mutex_lock(&p->mu);
	fail_locked(p, r, d);
	(void)pthread_mutex_unlock(&p->mu);
}

static void report_locked(struct pipe *p)
{
	const struct img_progress *pr = p->progress;

	if (pr)
		pr->fn(pr->opaque, p->size ? 100.0 * (double)p->done / (double)p->size : 100.0);
}

/*
 * The extent from off: a range that reads as zeroes, or a range with data of any layer of
 * the chain, merged up to PIPE_CHUNK (a copy does not care which layer holds the data; a
 * chain with scattered writes in the top would otherwise be read and written in pieces).
 */
static int next_extent(struct disk *s, uint64_t off, uint64_t *ret_n, bool *ret_zero)
{
	uint64_t size = disk_size(s), n = 0;
	uint64_t max = size - off < PIPE_CHUNK ? size - off : PIPE_CHUNK;
	bool zero = false;

	while (n < max) {
		uint64_t len, host;
		unsigned flags, depth;
		int r = disk_block_status(s, off + n, max - n, &len, &flags, &host, &depth);
		bool z = !(flags & DISK_STATUS_DATA) && (flags & DISK_STATUS_ZERO);

		if (r < 0)
			return r;
		if (n && z != zero)
			break;
		zero = z;
		n += len;
	}
	*ret_n = n;
	*ret_zero = zero;
	return 0;
}

/*
 * Keep the source prefetched PIPE_PREFETCH past off (disk_prefetch), when the readers keep
 * less than that in flight themselves (-m below 8): more readers would only wait on the
 * mutex while the prefetch submits what they are about to read anyway. p->mu held.
 */
static void prefetch_locked(struct pipe *p, uint64_t off)
{
	if (!p->prefetch)
		return;
	if (p->fetched < off)
		p->fetched = off;
	if (p->fetched >= off + PIPE_PREFETCH / 2)
		return;
	disk_prefetch(p->s, p->fetched, off + PIPE_PREFETCH - p->fetched);
	p->fetched = off + PIPE_PREFETCH;
}

/*
 * Hand out the next extent with data: [*ret_off, +*ret_n), number *ret_seq. Ranges that
 * read as zeroes are skipped here (the fresh target reads as zeroes already). Returns 1, or
 * 0 when the copy is over or has failed.
 */
static int take_extent(struct pipe *p, uint64_t *ret_off, uint64_t *ret_n, uint64_t *ret_seq)
{
	int got = 0;

	(void)pthread_mutex_lock(&p->mu);
	while (!p->r && p->next < p->size) {
		uint64_t n;
		bool zero;
		int r = next_extent(p->s, p->next, &n, &zero);

		if (r < 0) {
			fail_locked(p, r, p->s);
			break;
		}
		prefetch_locked(p, p->next);
		*ret_off = p->next;
		p->next += n;
		if (zero) {
			p->done += n;
			report_locked(p);
			continue;
		}
		*ret_n = n;
		*ret_seq = p->seq++;
		got = 1;
		break;
	}
	(void)pthread_mutex_unlock(&p->mu);
	return got;
}

/* In-order writes: wait until the extents before seq are written. false: the copy failed. */
static bool wait_turn(struct pipe *p, uint64_t seq)
{
	bool ok;

	(void)pthread_mutex_lock(&p->mu);
	while (p->in_order && !p->r && p->written != seq)
		(void)pthread_cond_wait(&p->turn, &p->mu);
	ok = !p->r;
	(void)pthread_mutex_unlock(&p->mu);
	return ok;
}

/* An extent is written: pass the turn on; true when the target's writeback is due. */
static bool extent_done(struct pipe *p, uint64_t n)
{
	bool wb;

	(void)pthread_mutex_lock(&p->mu);
	p->written++;
	p->done += n;
	p->since_wb += n;
	wb = p->since_wb >= PIPE_WRITEBACK;
	if (wb)
		p->since_wb = 0;
	report_locked(p);
	(void)pthread_cond_broadcast(&p->turn);
	(void)pthread_mutex_unlock(&p->mu);
	return wb;
}

/* Write buf (n bytes at off) to d but for its zero runs, in 4 KiB steps, to keep d sparse. */
static int write_nonzero(struct disk *d, uint64_t off, const uint8_t *buf, uint64_t n)
{
	for (uint64_t p = 0; p < n;) {
		uint64_t l = n - p < 4096 ? n - p : 4096, q = p;
		int r;

		if (img_is_zero(buf + p, (size_t)l)) {
			p += l;
			continue;
		}
		while (q < n && !img_is_zero(buf + q, (size_t)(n - q < 4096 ? n - q : 4096)))
			q += n - q < 4096 ? n - q : 4096;
		r = disk_write(d, off + p, buf + p, (size_t)(q - p));
		if (r < 0)
			return r;
		p = q;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pipe *p = w->p;
	uint64_t off, n, seq;

	while (take_extent(p, &off, &n, &seq)) {
		int r = disk_read(w->src, off, w->buf, (size_t)n);

		if (r < 0) {
			fail(p, r, w->src);
			break;
		}
		if (!wait_turn(p, seq))
			break;
		r = write_nonzero(p->d, off, w->buf, n);
		if (r < 0) {
			fail(p, r, p->d);
			break;
		}
		if (extent_done(p, n))
			disk_start_writeback(p->d);
	}
	return NULL;
}

static void workers_free(struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		disk_close(w[i].src);
		free(w[i].buf);
	}
	free(w);
}

/*
 * A worker's buffer: 2 MiB-aligned and, where the kernel has transparent huge pages on
 * request, one huge page, so the kernel's copies into and out of it (most of convert's CPU
 * time) do not miss the TLB every 4 KiB.
 */
static uint8_t *buf_alloc(void)
{
	void *b = NULL;

	if (posix_memalign(&b, PIPE_CHUNK, PIPE_CHUNK) != 0)
		return xmalloc(PIPE_CHUNK);
	(void)madvise(b, PIPE_CHUNK, MADV_HUGEPAGE);
	return b;
}

/*
 * How many readers the handles' memory allows: each handle on the chain costs what s's
 * layers cost (a QCOW2 layer's caches and buffers are a few clusters each: 40 MiB with
 * 2 MiB clusters), and -m 16 on a deep chain of big clusters must not take gigabytes.
 */
static unsigned readers_for_memory(struct disk *s, unsigned n)
{
	uint64_t per = PIPE_CHUNK;

	for (struct disk *d = s; d;
	     d = disk_get_format(d) == DISK_FORMAT_QCOW2 ? to_qcow2(d)->backing : NULL) {
		struct qcow2 *q;

		if (disk_get_format(d) != DISK_FORMAT_QCOW2)
			continue;
		q = to_qcow2(d);
		per += ((uint64_t)q->l2_cache.n + q->rb_cache.n + 4) * q->cluster_size;
	}
	if ((uint64_t)n * per <= PIPE_HANDLES)
		return n;
	return PIPE_HANDLES / per > 0 ? (unsigned)(PIPE_HANDLES / per) : 1;
}

/*
 * Open the workers' handles on the source before any thread starts (errors name the file).
 * When the process runs out of file descriptors (a deep chain times 16 readers), the copy
 * goes on with the readers it has. Returns how many, or -errno.
 */
static int workers_open(struct worker *w, unsigned n, struct pipe *p, struct hull_err *err)
{
	for (unsigned i = 0; i < n; i++) {
		int r = disk_open(disk_path(p->s), disk_get_format(p->s), img_ro_flags(),
				  &w[i].src, err);

		if (r < 0 && i > 0 && (r == -EMFILE || r == -ENFILE)) {
			hull_err_clear(err);
			return (int)i;
		}
		if (r < 0)
			return r;
		w[i].p = p;
		w[i].buf = buf_alloc();
	}
	return (int)n;
}

/* Start n workers and wait for them all; a thread that cannot start fails the copy. */
static void workers_run(struct worker *w, unsigned n, struct pipe *p)
{
	pthread_attr_t attr;

	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, PIPE_STACK);
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&w[i].tid, &attr, worker_main, &w[i]);

		if (r) {
			fail(p, -r, p->d);
			break;
		}
		w[i].running = true;
	}
	(void)pthread_attr_destroy(&attr);
	for (unsigned i = 0; i < n; i++)
		if (w[i].running)
			(void)pthread_join(w[i].tid, NULL);
}

int img_convert_copy(struct disk *s, struct disk *d, const struct img_convert_opts *co,
		     const char *what, struct hull_err *err)
{
	unsigned n = co->parallel ? co->parallel : PIPE_DEFAULT;
	struct pipe p = { .s = s, .d = d, .size = disk_size(s), .in_order = !co->out_of_order,
			  .progress = co->progress };
	struct worker *w;
	int r;

	if (n > IMG_CONVERT_MAX_PARALLEL)
		return hull_err_setx(err, EINVAL, "-m %u: between 1 and %d", n,
				     IMG_CONVERT_MAX_PARALLEL);
	n = readers_for_memory(s, n);
	w = xcalloc(n, sizeof(*w));
	r = workers_open(w, n, &p, err);
	if (r < 0) {
		workers_free(w, n);
		return r;
	}
	n = (unsigned)r;
	p.prefetch = (uint64_t)n * PIPE_CHUNK < PIPE_PREFETCH;
	(void)pthread_mutex_init(&p.mu, NULL);
	(void)pthread_cond_init(&p.turn, NULL);
	workers_run(w, n, &p);
	(void)pthread_cond_destroy(&p.turn);
	(void)pthread_mutex_destroy(&p.mu);
	workers_free(w, n);
	if (p.r == 0)
		return 0;
	if (p.detail[0])
		return hull_err_set(err, -p.r, "%s: %s", what, p.detail);
	return hull_err_set(err, -p.r, "%s", what);
}
