/*
 * QCOW2 refcounts (qcow2.txt "Host cluster management"): lookups and updates in refcount
 * blocks of any width (refcount_order 0..6), refcount-block and table growth, cluster
 * allocation, and deferred frees.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/qcow2.h"

static uint64_t rb_read(const struct qcow2 *q, const uint8_t *b, uint64_t idx)
{
	switch (q->refcount_bits) {
	case 8:
		return b[idx];
	case 16:
		return be16toh(*(const uint16_t *)(const void *)(b + idx * 2));
	case 32:
		return be32toh(*(const uint32_t *)(const void *)(b + idx * 4));
	case 64:
		return be64toh(*(const uint64_t *)(const void *)(b + idx * 8));
	default: {
		/* 1, 2 or 4 bits: bit 0 is the least significant bit of the byte (qcow2.txt) */
		uint64_t bit = idx * q->refcount_bits;

		return (uint64_t)(b[bit / 8] >> (bit % 8)) & q->refcount_max;
	}
	}
}

static void rb_write(const struct qcow2 *q, uint8_t *b, uint64_t idx, uint64_t v)
{
	switch (q->refcount_bits) {
	case 8:
		b[idx] = (uint8_t)v;
		break;
	case 16:
		*(uint16_t *)(void *)(b + idx * 2) = htobe16((uint16_t)v);
		break;
	case 32:
		*(uint32_t *)(void *)(b + idx * 4) = htobe32((uint32_t)v);
		break;
	case 64:
		*(uint64_t *)(void *)(b + idx * 8) = htobe64(v);
		break;
	default: {
		uint64_t bit = idx * q->refcount_bits;
		unsigned shift = (unsigned)(bit % 8);
		uint8_t mask = (uint8_t)(q->refcount_max << shift);

		b[bit / 8] = (uint8_t)((b[bit / 8] & ~mask) | ((v << shift) & mask));
		break;
	}
	}
}

int qcow2_refcount_get(struct qcow2 *q, uint64_t cluster, uint64_t *ret)
{
	uint64_t ri = cluster / q->refblock_entries;
	uint8_t *b;
	int r;

	*ret = 0;
	if (ri >= q->reftable_entries || (q->reftable[ri] & QCOW2_REFT_OFFSET_MASK) == 0)
		return 0;
	r = qcow2_cache_get(q, &q->rb_cache, q->reftable[ri] & QCOW2_REFT_OFFSET_MASK, false, &b);
	if (r < 0)
		return r;
	*ret = rb_read(q, b, cluster % q->refblock_entries);
	return 0;
}

static bool in_use_elsewhere(const struct qcow2 *q, uint64_t c)
{
	uint64_t rt = q->reftable_offset >> q->cluster_bits;

	if (c >= q->resv_start && c < q->resv_end)
		return true;
	if (c >= rt && c < rt + q->reftable_clusters)
		return true;
	if (q->repair_refs && c < q->repair_nclusters && q->repair_refs[c])
		return true;
	return false;
}

static int grow_reftable(struct qcow2 *q, uint64_t need_entries);

/*
 * During a repair, a cluster the repair itself allocated (a refcount block, the moved table,
 * an L2 copy) is referenced: record it in the computed refcounts, growing them past the old
 * end of the file, so that the comparison does not take it for a leak and free it.
 */
void qcow2_repair_note(struct qcow2 *q, uint64_t c)
{
	if (!q->repair_refs)
		return;
	if (c >= q->repair_nclusters) {
		uint64_t n = c + 1 > 2 * q->repair_nclusters ? c + 1 : 2 * q->repair_nclusters;

		q->repair_refs = xreallocarray(q->repair_refs, n, sizeof(*q->repair_refs));
		memset(q->repair_refs + q->repair_nclusters, 0,
		       (n - q->repair_nclusters) * sizeof(*q->repair_refs));
		q->repair_nclusters = n;
	}
	q->repair_refs[c] = 1;
}

/* Create the refcount block for table index ri, placed inside the range it covers. */
static int refblock_create(struct qcow2 *q, uint64_t ri, uint64_t avoid)
{
	uint64_t first = ri * q->refblock_entries, c;
	uint8_t *b;
	int r;

	for (c = first; c < first + q->refblock_entries; c++)
		if (c != avoid && !in_use_elsewhere(q, c))
			break;
	if (c == first + q->refblock_entries)
		return -ENOSPC;
	/* every cluster of a range without a refcount block reads as free: in a damaged image
	 * that includes live tables (the header, for range 0), which it must not overwrite */
	if (qcow2_hits_metadata(q, c << q->cluster_bits, q->cluster_size))
		return -EIO;
	r = qcow2_cache_get(q, &q->rb_cache, c << q->cluster_bits, true, &b);
	if (r < 0)
		return r;
	rb_write(q, b, c - first, 1);
	qcow2_cache_mark_dirty(&q->rb_cache, c << q->cluster_bits);
	q->reftable[ri] = c << q->cluster_bits;
	q->reftable_dirty = true;
	if (ri >= q->reftable_used)
		q->reftable_used = ri + 1;
	if ((c + 1) << q->cluster_bits > q->file_size)
		q->file_size = (c + 1) << q->cluster_bits;
	qcow2_repair_note(q, c);
	return 0;
}

int qcow2_refcount_set(struct qcow2 *q, uint64_t cluster, uint64_t value)
{
	uint64_t ri = cluster / q->refblock_entries;
	uint8_t *b;
	int r;

	if (value > q->refcount_max)
		return -ERANGE;
	if (ri >= q->reftable_entries) {
		if (value == 0)
			return 0;
		r = grow_reftable(q, ri + 1);
		if (r < 0)
			return r;
	}
	if ((q->reftable[ri] & QCOW2_REFT_RESERVED_MASK) ||
	    (q->reftable[ri] & (q->cluster_size - 1)))
		return qcow2_bad(q, "refcount table at 0x%" PRIx64 ", entry %" PRIu64 ": %s",
				 q->reftable_offset, ri,
				 (q->reftable[ri] & QCOW2_REFT_RESERVED_MASK)
					 ? "reserved bits set"
					 : "refcount block offset is not cluster-aligned");
	if (q->reftable[ri] == 0) {
		if (value == 0)
			return 0;
		r = refblock_create(q, ri, cluster);
		if (r < 0)
			return r;
	}
	r = qcow2_cache_get(q, &q->rb_cache, q->reftable[ri], false, &b);
	if (r < 0)
		return r;
	rb_write(q, b, cluster % q->refblock_entries, value);
	qcow2_cache_mark_dirty(&q->rb_cache, q->reftable[ri]);
	if (value == 0 && cluster < q->free_hint)
		q->free_hint = cluster;
	return 0;
}

int qcow2_refcount_add(struct qcow2 *q, uint64_t cluster, int64_t delta)
{
	uint64_t v;
	int r = qcow2_refcount_get(q, cluster, &v);

	if (r < 0)
		return r;
	if (delta < 0 && v < (uint64_t)-delta)
		return -EIO; /* would go below zero: the metadata is inconsistent */
	if (delta > 0 && q->refcount_max - v < (uint64_t)delta)
		return -ERANGE;
	return qcow2_refcount_set(q, cluster, v + (uint64_t)delta);
}

/*
 * Grow the refcount table to at least need_entries, moving it to the end of the file:
 * refcount blocks for the new area, then the new table, then the header, then the old table
 * is freed (each step synced), so a crash leaves the old table in charge.
 */
static int grow_reftable(struct qcow2 *q, uint64_t need_entries)
{
	uint64_t cs = q->cluster_size, per = cs / 8;
	uint64_t end = (q->file_size + cs - 1) >> q->cluster_bits;
	uint64_t entries = q->reftable_entries * 2, nclusters, old_off = q->reftable_offset;
	uint32_t old_clusters = q->reftable_clusters;
	uint64_t *t;
	struct {
		uint64_t off;
		uint32_t clusters;
	} __attribute__((packed)) hdr;
	int r;

	if (q->repair_refs && q->repair_nclusters > end)
		end = q->repair_nclusters;
	if (q->resv_end > end) /* clusters being allocated right now */
		end = q->resv_end;
	if (entries < need_entries)
		entries = need_entries;
	/* cover the file end plus the new table and its blocks, with room to spare */
	for (int i = 0; i < 4; i++) {
		nclusters = (entries + per - 1) / per;
		if ((end + nclusters + entries) / q->refblock_entries + 1 > entries)
			entries = (end + nclusters + entries) / q->refblock_entries + 1;
	}
	nclusters = (entries + per - 1) / per;
	if (nclusters * cs > QCOW2_MAX_REFTABLE_BYTES * 8ull)
		return -EFBIG;
	entries = nclusters * per;
	t = xcalloc(entries, sizeof(*t));
	memcpy(t, q->reftable, q->reftable_entries * sizeof(*t));
	free(q->reftable);
	q->reftable = t;
	q->reftable_entries = entries;
	q->reftable_offset = end << q->cluster_bits;
	q->reftable_clusters = (uint32_t)nclusters;
	if ((end + nclusters) << q->cluster_bits > q->file_size)
		q->file_size = (end + nclusters) << q->cluster_bits;
	for (uint64_t c = end; c < end + nclusters; c++) {
		qcow2_repair_note(q, c);
		r = qcow2_refcount_set(q, c, 1);
		if (r < 0)
			return r;
	}
	q->reftable_dirty = true;
	r = qcow2_meta_flush(q);
	if (r < 0)
		return r;
	r = qcow2_sync(q);
	if (r < 0)
		return r;
	hdr.off = htobe64(q->reftable_offset);
	hdr.clusters = htobe32(q->reftable_clusters);
	r = qcow2_pwrite_meta(q, &hdr, sizeof(hdr), 48);
	if (r < 0)
		return r;
	r = qcow2_sync(q);
	if (r < 0)
		return r;
	for (uint64_t i = 0; i < old_clusters; i++) {
		r = qcow2_refcount_add(q, (old_off >> q->cluster_bits) + i, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Would data written at host [off, off+len) land on metadata: the header
 * cluster, the active or a snapshot's L1 table, the refcount table, a refcount block or an
 * active L2 table? A hostile or damaged image can point a COPIED data cluster at its own
 * tables; like QEMU's default overlap check ("cached"), such writes are refused (-EIO)
 * rather than let the guest rewrite the image's metadata. Costs O(L1 + used reftable).
 */
bool qcow2_hits_metadata(const struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t cs = q->cluster_size;

	if (qcow2_overlaps(off, len, 0, cs) ||
	    qcow2_overlaps(off, len, q->l1_offset, (uint64_t)q->l1_size * 8) ||
	    qcow2_overlaps(off, len, q->reftable_offset, (uint64_t)q->reftable_clusters * cs))
		return true;
	for (uint32_t i = 0; i < q->l1_size; i++)
		if (qcow2_overlaps(off, len, q->l1[i] & QCOW2_L1_OFFSET_MASK,
				   q->l1[i] & QCOW2_L1_OFFSET_MASK ? cs : 0))
			return true;
	for (uint64_t i = 0; i < q->reftable_used && i < q->reftable_entries; i++)
		if (qcow2_overlaps(off, len, q->reftable[i] & QCOW2_REFT_OFFSET_MASK,
				   q->reftable[i] & QCOW2_REFT_OFFSET_MASK ? cs : 0))
			return true;
	for (uint32_t i = 0; q->snapshots && i < q->nb_snapshots; i++)
		if (qcow2_overlaps(off, len, q->snapshots[i].l1_offset,
				   (uint64_t)q->snapshots[i].l1_size * 8))
			return true;
	return false;
}

int qcow2_alloc_clusters(struct qcow2 *q, uint64_t n, uint64_t *ret)
{
	uint64_t start = q->free_hint, run = 0, v;
	bool from_hint = true;
	int r = 0;

	while (run < n) {
		uint64_t c = start + run;

		r = qcow2_refcount_get(q, c, &v);
		if (r < 0)
			return r;
		if (v != 0 || in_use_elsewhere(q, c) || c == 0) {
			if (from_hint && run == 0)
				q->free_hint = c + 1;
			else
				from_hint = false;
			start = c + 1;
			run = 0;
			continue;
		}
		run++;
	}
	if (from_hint)
		q->free_hint = start + n;
	/* a cluster inside the file with refcount 0 may still be live metadata (a damaged
	 * refcount): handing it out would overwrite that table */
	if (start < q->file_size >> q->cluster_bits &&
	    qcow2_hits_metadata(q, start << q->cluster_bits, n << q->cluster_bits))
		return -EIO;
	q->resv_start = start;
	q->resv_end = start + n;
	for (uint64_t i = 0; i < n; i++) {
		r = qcow2_refcount_set(q, start + i, 1);
		if (r < 0)
			break;
		qcow2_repair_note(q, start + i);
	}
	q->resv_start = q->resv_end = 0;
	if (r < 0)
		return r;
	if ((start + n) << q->cluster_bits > q->file_size)
		q->file_size = (start + n) << q->cluster_bits;
	*ret = start << q->cluster_bits;
	return 0;
}

void qcow2_free_later(struct qcow2 *q, uint64_t off)
{
	if (q->nb_frees == q->cap_frees) {
		q->cap_frees = q->cap_frees ? q->cap_frees * 2 : 16;
		q->frees = xreallocarray(q->frees, q->cap_frees, sizeof(*q->frees));
	}
	q->frees[q->nb_frees++].offset = off;
}

int qcow2_process_frees(struct qcow2 *q)
{
	int r;

	if (q->nb_frees == 0)
		return 0;
	r = qcow2_meta_flush(q);
	if (r < 0)
		return r;
	r = qcow2_sync(q);
	if (r < 0)
		return r;
	for (size_t i = 0; i < q->nb_frees; i++) {
		uint64_t c = q->frees[i].offset >> q->cluster_bits, v;

		r = qcow2_refcount_add(q, c, -1);
		if (r < 0)
			return r;
		r = qcow2_refcount_get(q, c, &v);
		if (r < 0)
			return r;
		if (v == 0) {
			qcow2_cache_drop(&q->l2_cache, c << q->cluster_bits);
			if (q->dcache_entry)
				q->dcache_entry = 0;
			if (q->compress_next >> q->cluster_bits == c)
				q->compress_next = 0;
		}
	}
	q->nb_frees = 0;
	return 0;
}

/*
 * Write fresh refcount blocks and a fresh refcount table after the end of the file, holding
 * refs[0..n) (the references counted from the header, L1/L2 and snapshot tables, without the
 * old refcount structures) and 1 for the new structures themselves; then point the header
 * at them. The old table and blocks are left untouched until the header moves (each step
 * synced), so a crash leaves the image as it was; afterwards they are free clusters.
 * Like QEMU's rebuild_refcount_structure, used when the refcount table cannot be trusted.
 */
int qcow2_refcount_rebuild(struct qcow2 *q, const uint32_t *refs, uint64_t n)
{
	uint64_t cs = q->cluster_size, rbe = q->refblock_entries, per = cs / 8;
	uint64_t nrb = 0, nrt = 1, total, end = n ? n : 1;
	cleanup_free uint8_t *b = xmalloc(cs);
	cleanup_free uint64_t *t = NULL;
	struct {
		uint64_t off;
		uint32_t clusters;
	} __attribute__((packed)) hdr;
	int r;

	/* the blocks must also count themselves and the table: iterate to the fixed point */
	for (;;) {
		uint64_t nrb2, nrt2;

		total = end + nrb + nrt;
		nrb2 = (total + rbe - 1) / rbe;
		nrt2 = (nrb2 * 8 + cs - 1) / cs;
		if (nrb2 == nrb && nrt2 == nrt)
			break;
		nrb = nrb2;
		nrt = nrt2;
	}
	if (nrt * cs > QCOW2_MAX_REFTABLE_BYTES)
		return -EFBIG;
	for (uint64_t i = 0; i < nrb; i++) {
		memset(b, 0, cs);
		for (uint64_t j = 0; j < rbe; j++) {
			uint64_t k = i * rbe + j, v = k < n ? refs[k] : k >= end && k < total;

			if (v)
				rb_write(q, b, j, v > q->refcount_max ? q->refcount_max : v);
		}
		r = qcow2_pwrite_meta(q, b, cs, (end + i) * cs);
		if (r < 0)
			return r;
	}
	t = xcalloc(nrt * per, sizeof(*t));
	for (uint64_t i = 0; i < nrb; i++)
		t[i] = htobe64((end + i) * cs);
	r = qcow2_pwrite_meta(q, t, nrt * cs, (end + nrb) * cs);
	if (r == 0)
		r = qcow2_sync(q);
	if (r < 0)
		return r;
	hdr.off = htobe64((end + nrb) * cs);
	hdr.clusters = htobe32((uint32_t)nrt);
	r = qcow2_pwrite_meta(q, &hdr, sizeof(hdr), 48);
	if (r == 0)
		r = qcow2_sync(q);
	if (r < 0)
		return r;
	/* the cache holds blocks of the old structure (none dirty: the caller flushed) */
	qcow2_cache_fini(&q->rb_cache);
	qcow2_cache_init(&q->rb_cache, 8, cs);
	for (uint64_t i = 0; i < nrt * per; i++)
		t[i] = be64toh(t[i]);
	free(q->reftable);
	q->reftable = steal_ptr(&t);
	q->reftable_entries = nrt * per;
	q->reftable_used = nrb;
	q->reftable_offset = (end + nrb) * cs;
	q->reftable_clusters = (uint32_t)nrt;
	q->reftable_dirty = false;
	q->file_size = q->phys_size = total * cs;
	q->free_hint = 1;
	return 0;
}
