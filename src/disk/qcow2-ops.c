/* QCOW2 image-level operations for `hull img`: resize, backing-file change, emptying. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "disk/qcow2.h"

/* Unmap guest clusters [first, end) (make them unallocated). */
static int unmap_clusters(struct qcow2 *q, uint64_t first, uint64_t end)
{
	for (uint64_t ci = first; ci < end; ci++) {
		uint64_t l1i = ci >> q->l2_bits, e, l2off;
		uint8_t *t;
		int r;

		if (l1i >= q->l1_size)
			break;
		if ((q->l1[l1i] & QCOW2_L1_OFFSET_MASK) == 0) {
			ci |= q->l2_entries - 1; /* skip the whole table */
			continue;
		}
		r = qcow2_l2_entry(q, ci, &e);
		if (r < 0)
			return r;
		if (e == 0)
			continue;
		l2off = q->l1[l1i] & QCOW2_L1_OFFSET_MASK;
		if (!(q->l1[l1i] & QCOW2_OFLAG_COPIED)) {
			/* a table shared with a snapshot: go through the copy-on-write path */
			return -ENOTSUP;
		}
		r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
		if (r < 0)
			return r;
		((uint64_t *)(void *)t)[ci & (q->l2_entries - 1)] = 0;
		qcow2_cache_mark_dirty(&q->l2_cache, l2off);
		if (e & QCOW2_OFLAG_COMPRESSED) {
			uint64_t off, len;

			qcow2_compressed_range(q, e, &off, &len);
			for (uint64_t c = off >> q->cluster_bits;
			     c <= (off + len - 1) >> q->cluster_bits; c++)
				qcow2_free_later(q, c << q->cluster_bits);
		} else if (e & QCOW2_L2_OFFSET_MASK) {
			qcow2_free_later(q, e & QCOW2_L2_OFFSET_MASK);
		}
		if (q->nb_frees > 4096) {
			r = qcow2_process_frees(q);
			if (r < 0)
				return r;
		}
	}
	return qcow2_process_frees(q);
}

static int flush_all(struct qcow2 *q)
{
	int r = qcow2_process_frees(q);

	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r == 0)
		r = qcow2_sync(q);
	return r;
}

int qcow2_make_empty(struct qcow2 *q)
{
	int r = unmap_clusters(q, 0, (q->d.size + q->cluster_size - 1) >> q->cluster_bits);

	return r < 0 ? r : flush_all(q);
}

static int grow_l1(struct qcow2 *q, uint64_t need)
{
	uint64_t cs = q->cluster_size, n = (need * 8 + cs - 1) / cs, off;
	uint64_t old = q->l1_offset, old_n = (q->l1_alloc_entries * 8) / cs;
	uint64_t *t;
	int r;

	r = qcow2_alloc_clusters(q, n, &off);
	if (r < 0)
		return r;
	t = xcalloc(n * cs / 8, sizeof(*t));
	memcpy(t, q->l1, q->l1_size * sizeof(*t));
	free(q->l1);
	q->l1 = t;
	q->l1_alloc_entries = n * cs / 8;
	q->l1_offset = off;
	q->l1_size = (uint32_t)need;
	q->l1_dirty = true;
	r = flush_all(q); /* refcounts, then the new table */
	if (r < 0)
		return r;
	r = qcow2_header_write(q);
	if (r == 0)
		r = qcow2_sync(q);
	for (uint64_t i = 0; r == 0 && old && i < old_n; i++)
		r = qcow2_refcount_add(q, (old >> q->cluster_bits) + i, -1);
	return r;
}

/*
 * Growing an image whose backing file is longer than the old size would show the backing's
 * bytes in the new range: like QEMU's bdrv_co_truncate (BDRV_REQ_ZERO_WRITE), the new range
 * is made to read as zeroes, explicit zeroes for the partial cluster at the old end and zero
 * clusters after it. Version 2 has no zero clusters: refused (qemu-img refuses with "Failed
 * to zero out new clusters") before anything changes.
 */
static int resize_zero_check(struct qcow2 *q, uint64_t new_size, bool *ret_zero,
			     struct hull_err *err)
{
	uint64_t old = q->d.size, cs = q->cluster_size, zero_start = (old + cs - 1) & ~(cs - 1);

	*ret_zero = new_size > old && q->backing && disk_size(q->backing) > old;
	if (*ret_zero && q->version < 3 && new_size > zero_start)
		return hull_err_setx(err, ENOTSUP,
				     "%s: the backing file (%llu bytes) is longer than the image "
				     "(%llu bytes) and a compat=0.10 image cannot make the new "
				     "range read as zeroes (qemu-img refuses too): amend it to "
				     "compat=1.1 first", q->d.path,
				     (unsigned long long)disk_size(q->backing),
				     (unsigned long long)old);
	return 0;
}

int qcow2_resize(struct qcow2 *q, uint64_t new_size, struct hull_err *err)
{
	uint64_t cs = q->cluster_size, need, old = q->d.size;
	bool zero_new;
	int r;

	if (new_size % 512)
		return hull_err_setx(err, EINVAL, "%s: the new size %llu must be a multiple of 512",
				     q->d.path, (unsigned long long)new_size);
	need = (new_size + (cs << q->l2_bits) - 1) / (cs << q->l2_bits);
	if (need * 8 > QCOW2_MAX_L1_BYTES || new_size > (1ull << 55))
		return hull_err_setx(err, EFBIG, "%s: size %llu is too large", q->d.path,
				     (unsigned long long)new_size);
	if (q->nb_snapshots && new_size < q->d.size)
		return hull_err_setx(err, ENOTSUP, "%s: cannot shrink an image with snapshots",
				     q->d.path);
	r = resize_zero_check(q, new_size, &zero_new, err);
	if (r < 0)
		return r;
	if (new_size < q->d.size) {
		r = unmap_clusters(q, (new_size + cs - 1) >> q->cluster_bits,
				   (q->d.size + cs - 1) >> q->cluster_bits);
		if (r < 0)
			return hull_err_set(err, -r, "%s: unmap clusters past the new end",
					    q->d.path);
	}
	if (need > q->l1_size) {
		if (need <= q->l1_alloc_entries) {
			q->l1_size = (uint32_t)need;
			q->l1_dirty = true;
			r = flush_all(q);
		} else {
			r = grow_l1(q, need);
		}
		if (r < 0)
			return hull_err_set(err, -r, "%s: grow the L1 table", q->d.path);
	}
	if (zero_new) {
		/* zeroes first, durable, then the new size: a crash never shows backing data */
		q->d.size = new_size;
		r = disk_write_zeroes(&q->d, old, new_size - old, 0);
		if (r == 0)
			r = flush_all(q);
		q->d.size = old;
		if (r < 0)
			return hull_err_set(err, -r, "%s: zero the new range", q->d.path);
	}
	r = flush_all(q);
	q->d.size = new_size;
	if (r == 0)
		r = qcow2_header_write(q);
	if (r == 0)
		r = flush_all(q);
	if (r < 0)
		return hull_err_set(err, -r, "%s: write the header", q->d.path);
	return 0;
}

int qcow2_set_backing(struct qcow2 *q, const char *name, const char *format,
		      struct hull_err *err)
{
	int r;

	if (name && strlen(name) > QCOW2_BACKING_NAME_MAX)
		return hull_err_setx(err, ENAMETOOLONG, "%s: backing file name too long",
				     q->d.path);
	free(q->backing_name);
	free(q->backing_format);
	q->backing_name = name ? xstrdup(name) : NULL;
	q->backing_format = name && format ? xstrdup(format) : NULL;
	r = flush_all(q);
	if (r == 0)
		r = qcow2_header_write(q);
	if (r == 0)
		r = qcow2_sync(q);
	if (r == -ENOSPC)
		return hull_err_setx(err, ENOSPC, "%s: no room for the backing file name in the "
				     "header cluster", q->d.path);
	if (r < 0)
		return hull_err_set(err, -r, "%s: write the header", q->d.path);
	return 0;
}
