/*
 * QCOW2 metadata I/O: the cluster-sized write-back caches for L2 tables and refcount blocks,
 * and the ordered metadata flush (qcow2.h explains the order).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "disk/qcow2.h"

/*
 * Crash-test hook: when set, the Nth metadata write or sync (counting from 1) ends the
 * process instead, as a power cut at that ordering point would. Set by tests only.
 */
static long crash_countdown;

void qcow2_debug_crash_after(long n);
void qcow2_debug_crash_after(long n)
{
	crash_countdown = n;
}

static void crash_point(void)
{
	if (crash_countdown > 0 && --crash_countdown == 0)
		_exit(99);
}

int qcow2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(q->fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) { /* past EOF reads as zeroes, like a sparse file */
			memset((uint8_t *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int qcow2_pwrite_meta(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	crash_point();
	while (done < len) {
		ssize_t n = pwrite(q->fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	if (off + len > q->file_size)
		q->file_size = off + len;
	if (off + len > q->phys_size)
		q->phys_size = off + len;
	return 0;
}

int qcow2_sync(struct qcow2 *q)
{
	crash_point();
	if (q->d.no_sync)
		return 0;
	if (fdatasync(q->fd) < 0)
		return -errno;
	return 0;
}

void qcow2_cache_init(struct qcow2_cache *c, unsigned n, size_t cluster_size)
{
	c->n = n;
	c->tick = 0;
	c->last = 0;
	c->cluster_size = cluster_size;
	c->e = xcalloc(n, sizeof(*c->e));
	for (unsigned i = 0; i < n; i++)
		c->e[i].buf = xmalloc(cluster_size);
}

void qcow2_cache_fini(struct qcow2_cache *c)
{
	if (!c->e)
		return;
	for (unsigned i = 0; i < c->n; i++)
		free(c->e[i].buf);
	free(c->e);
	c->e = NULL;
}

static bool cache_has_dirty(const struct qcow2_cache *c)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].dirty)
			return true;
	return false;
}

/* Evicting a dirty L2 table needs the refcount blocks (and data) on disk first. */
static int cache_evict(struct qcow2 *q, struct qcow2_cache *c, struct qcow2_cache_entry *e)
{
	int r;

	if (!e->dirty)
		return 0;
	if (c == &q->l2_cache && cache_has_dirty(&q->rb_cache)) {
		r = qcow2_cache_write_dirty(q, &q->rb_cache);
		if (r < 0)
			return r;
		r = qcow2_sync(q);
		if (r < 0)
			return r;
	}
	r = qcow2_pwrite_meta(q, e->buf, c->cluster_size, e->offset);
	if (r < 0)
		return r;
	e->dirty = false;
	return 0;
}

int qcow2_cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t off, bool fresh,
		    uint8_t **ret)
{
	struct qcow2_cache_entry *victim = NULL;
	int r;

	if (c->last < c->n && c->e[c->last].offset == off && !fresh) {
		c->e[c->last].lru = ++c->tick;
		*ret = c->e[c->last].buf;
		return 0;
	}
	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];

		if (e->offset == off) {
			c->last = i;
			e->lru = ++c->tick;
			if (fresh)
				memset(e->buf, 0, c->cluster_size);
			*ret = e->buf;
			return 0;
		}
		if (!victim || e->lru < victim->lru)
			victim = e;
	}
	r = cache_evict(q, c, victim);
	if (r < 0)
		return r;
	victim->offset = 0;
	if (fresh) {
		memset(victim->buf, 0, c->cluster_size);
	} else {
		r = qcow2_pread(q, victim->buf, c->cluster_size, off);
		if (r < 0)
			return r;
	}
	victim->offset = off;
	victim->lru = ++c->tick;
	c->last = (unsigned)(victim - c->e);
	*ret = victim->buf;
	return 0;
}

void qcow2_cache_mark_dirty(struct qcow2_cache *c, uint64_t off)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->e[i].offset == off)
			c->e[i].dirty = true;
}

int qcow2_cache_write_dirty(struct qcow2 *q, struct qcow2_cache *c)
{
	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];
		int r;

		if (!e->dirty)
			continue;
		r = qcow2_pwrite_meta(q, e->buf, c->cluster_size, e->offset);
		if (r < 0)
			return r;
		e->dirty = false;
	}
	return 0;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off)
{
	for (unsigned i = 0; i < c->n; i++) {
		if (c->e[i].offset == off) {
			c->e[i].offset = 0;
			c->e[i].dirty = false;
			c->e[i].lru = 0;
		}
	}
}

static int write_be64_table(struct qcow2 *q, const uint64_t *t, uint64_t n, uint64_t off)
{
	uint64_t *be = xcalloc(n ? n : 1, sizeof(*be));
	int r;

	for (uint64_t i = 0; i < n; i++)
		be[i] = htobe64(t[i]);
	r = qcow2_pwrite_meta(q, be, n * sizeof(*be), off);
	free(be);
	return r;
}

int qcow2_meta_flush(struct qcow2 *q)
{
	bool rb = cache_has_dirty(&q->rb_cache) || q->reftable_dirty;
	bool l2 = cache_has_dirty(&q->l2_cache);
	int r;

	if (rb) {
		r = qcow2_cache_write_dirty(q, &q->rb_cache);
		if (r < 0)
			return r;
		if (q->reftable_dirty) {
			/* new refcount blocks must be on disk before the table points at them */
			r = qcow2_sync(q);
			if (r < 0)
				return r;
			r = write_be64_table(q, q->reftable, q->reftable_entries,
					     q->reftable_offset);
			if (r < 0)
				return r;
			q->reftable_dirty = false;
		}
	}
	if (rb && (l2 || q->l1_dirty)) {
		r = qcow2_sync(q);
		if (r < 0)
			return r;
	}
	if (l2) {
		r = qcow2_cache_write_dirty(q, &q->l2_cache);
		if (r < 0)
			return r;
		if (q->l1_dirty) {
			r = qcow2_sync(q);
			if (r < 0)
				return r;
		}
	}
	if (q->l1_dirty) {
		r = write_be64_table(q, q->l1, q->l1_size, q->l1_offset);
		if (r < 0)
			return r;
		q->l1_dirty = false;
	}
	return 0;
}
