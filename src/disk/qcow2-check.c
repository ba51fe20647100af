/*
 * QCOW2 consistency check and refcount repair: recount every reference (header, L1 tables,
 * L2 tables, data and compressed clusters, snapshot table, refcount structures), compare
 * with the stored refcounts, and optionally rewrite them (used for `hull img check -r` and
 * to repair an image whose dirty bit is set).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "disk/qcow2.h"

/* refcount arrays bigger than this (1 GiB of file per 16384 64K clusters...) are refused */
#define CHECK_MAX_CLUSTERS (1ull << 28)

struct counter {
	struct qcow2 *q;
	uint32_t *refs;
	uint64_t n;
	uint64_t next_contiguous; /* host offset that would continue the last data cluster */
	uint64_t used_end; /* 1 + the last cluster of the file in use or counted (qemu-img's
			    * image-end-offset, in clusters) */
	struct qcow2_check_result *res;
	bool rebuild; /* the refcount table points at something other than its own blocks */
};

static void __attribute__((format(printf, 2, 3))) note(struct counter *c, const char *fmt, ...)
{
	va_list ap;

	c->res->corruptions++;
	if (c->res->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->res->first_error, sizeof(c->res->first_error), fmt, ap);
	va_end(ap);
}

static void inc(struct counter *c, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	for (uint64_t k = off >> c->q->cluster_bits; k <= (off + len - 1) >> c->q->cluster_bits;
	     k++) {
		if (k >= c->n) {
			note(c, "reference to 0x%llx (cluster %llu) past the end of the file",
			     (unsigned long long)off, (unsigned long long)k);
			return;
		}
		if (c->refs[k] != UINT32_MAX)
			c->refs[k]++;
	}
}

static int walk_l2(struct counter *c, uint64_t l2off, bool active)
{
	struct qcow2 *q = c->q;
	uint64_t cs = q->cluster_size, k = l2off >> q->cluster_bits;
	uint64_t *t;
	int r;

	/*
	 * Every L1 table counts its own references, through shared L2 tables too: that is
	 * how snapshots keep refcounts (qcow2.txt "Snapshots").
	 */
	inc(c, l2off, cs);
	if (k >= c->n)
		return 0;
	t = xmalloc(cs);
	c->next_contiguous = 0; /* qemu-img counts fragmentation within each L2 table */
	r = qcow2_pread(q, t, cs, l2off);
	for (uint64_t i = 0; r == 0 && i < q->l2_entries; i++) {
		uint64_t e = be64toh(t[i]), off = e & QCOW2_L2_OFFSET_MASK, len;

		if (e & QCOW2_OFLAG_COMPRESSED) {
			qcow2_compressed_range(q, e, &off, &len);
			inc(c, off, len);
			if (active) {
				/* compressed clusters count as fragmented (qemu-img check does) */
				c->res->compressed_clusters++;
				c->res->allocated_clusters++;
				c->res->fragmented_clusters++;
			}
			continue;
		}
		if (off == 0)
			continue;
		if ((e & QCOW2_L2_RESERVED_MASK) || (off & (cs - 1))) {
			note(c, "L2 entry 0x%llx at 0x%llx is invalid", (unsigned long long)e,
			     (unsigned long long)l2off);
			continue;
		}
		inc(c, off, cs);
		if (active) {
			/* fragmented: not right after the previous allocated cluster */
			c->res->allocated_clusters++;
			if (c->next_contiguous && off != c->next_contiguous)
				c->res->fragmented_clusters++;
			c->next_contiguous = off + cs;
		}
	}
	free(t);
	return r;
}

static int walk_l1(struct counter *c, const uint64_t *l1, uint64_t l1_size, bool active)
{
	uint64_t cs = c->q->cluster_size;

	for (uint64_t i = 0; i < l1_size; i++) {
		uint64_t off = l1[i] & QCOW2_L1_OFFSET_MASK;
		int r;

		if (off == 0)
			continue;
		if (off & (cs - 1)) {
			note(c, "L1 entry %llu (0x%llx) is unaligned", (unsigned long long)i,
			     (unsigned long long)l1[i]);
			continue;
		}
		r = walk_l2(c, off, active);
		if (r < 0)
			return r;
	}
	return 0;
}

static void check_refblocks(struct counter *c);

static int count_refs(struct counter *c)
{
	struct qcow2 *q = c->q;
	uint64_t cs = q->cluster_size;
	int r;

	inc(c, 0, cs);
	inc(c, q->l1_offset, (uint64_t)q->l1_size * 8);
	r = walk_l1(c, q->l1, q->l1_size, true);
	if (r < 0)
		return r;
	for (uint32_t s = 0; s < q->nb_snapshots; s++) {
		const struct qcow2_snapshot *sn = &q->snapshots[s];
		uint64_t *l1 = xcalloc(sn->l1_size ? sn->l1_size : 1, 8);

		inc(c, sn->l1_offset, (uint64_t)sn->l1_size * 8);
		r = qcow2_pread(q, l1, (size_t)sn->l1_size * 8, sn->l1_offset);
		for (uint32_t i = 0; i < sn->l1_size; i++)
			l1[i] = be64toh(l1[i]);
		if (r == 0)
			r = walk_l1(c, l1, sn->l1_size, false);
		free(l1);
		if (r < 0)
			return r;
	}
	if (q->nb_snapshots)
		inc(c, q->snapshots_offset, q->snapshots_size);
	inc(c, q->reftable_offset, (uint64_t)q->reftable_clusters * cs);
	check_refblocks(c);
	return 0;
}

/* The cluster index of refcount block ri, or UINT64_MAX when it is unaligned or past EOF. */
static uint64_t refblock_cluster(const struct counter *c, uint64_t ri)
{
	uint64_t off = c->q->reftable[ri] & QCOW2_REFT_OFFSET_MASK;

	if (off & (c->q->cluster_size - 1) || off >> c->q->cluster_bits >= c->n ||
	    (c->q->reftable[ri] & QCOW2_REFT_RESERVED_MASK) || off == 0)
		return UINT64_MAX;
	return off >> c->q->cluster_bits;
}

/*
 * Like qemu-img's check_refblocks: every refcount block must be cluster aligned, inside the
 * file, and referenced once (not shared with an L2 table, data, another block...). When one
 * is not, its refcounts cannot be trusted nor written: the structure is rebuilt.
 */
static void check_refblocks(struct counter *c)
{
	struct qcow2 *q = c->q;

	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t off = q->reftable[i] & QCOW2_REFT_OFFSET_MASK, k;

		if (q->reftable[i] & QCOW2_REFT_RESERVED_MASK) {
			note(c, "refcount table entry %llu (0x%llx) has reserved bits set",
			     (unsigned long long)i, (unsigned long long)q->reftable[i]);
			c->rebuild = true;
			continue;
		}
		if (off == 0)
			continue;
		k = refblock_cluster(c, i);
		if (k == UINT64_MAX) {
			note(c, "refcount block %llu at 0x%llx is unaligned or past the end of the "
			     "file", (unsigned long long)i, (unsigned long long)off);
			c->rebuild = true;
		} else if (c->refs[k] != UINT32_MAX) {
			c->refs[k]++;
		}
	}
	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t k = q->reftable[i] ? refblock_cluster(c, i) : UINT64_MAX;

		if (k != UINT64_MAX && c->refs[k] != 1) {
			note(c, "refcount block %llu at 0x%llx is also used by other metadata, data "
			     "or another refcount table entry (%u references)",
			     (unsigned long long)i, (unsigned long long)(k << q->cluster_bits),
			     c->refs[k]);
			c->rebuild = true;
		}
	}
}

/* Take back what count_refs counted for the old refcount table and blocks. */
static void uncount_refcount_structures(struct counter *c)
{
	struct qcow2 *q = c->q;
	uint64_t first = q->reftable_offset >> q->cluster_bits;

	for (uint64_t k = first; k < first + q->reftable_clusters && k < c->n; k++)
		if (c->refs[k] && c->refs[k] != UINT32_MAX)
			c->refs[k]--;
	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t k = q->reftable[i] ? refblock_cluster(c, i) : UINT64_MAX;

		if (k != UINT64_MAX && c->refs[k] && c->refs[k] != UINT32_MAX)
			c->refs[k]--;
	}
}

/* While repairing, the allocator must not hand out clusters that are referenced. */
static void q_repair_begin(struct counter *c)
{
	c->q->repair_refs = c->refs;
	c->q->repair_nclusters = c->n;
	c->q->free_hint = 1;
}

/* The computed refcounts, as the repair may have grown them (qcow2_repair_note). */
static void q_repair_sync(struct counter *c)
{
	if (c->q->repair_refs) {
		c->refs = c->q->repair_refs;
		c->n = c->q->repair_nclusters;
	}
}

static void q_repair_end(struct counter *c)
{
	q_repair_sync(c);
	c->q->repair_refs = NULL;
	c->q->repair_nclusters = 0;
}

static int compare(struct counter *c, unsigned repair)
{
	struct qcow2 *q = c->q;
	struct qcow2_check_result *res = c->res;
	uint64_t end = c->n;
	int r;

	/*
	 * Past the end of the file, only the ranges of sound blocks (each a distinct cluster of
	 * the file) are looked at: the work stays bounded by the file's size even when every
	 * table entry names the same block.
	 */
	for (uint64_t ri = 0; !c->rebuild && ri < q->reftable_entries; ri++)
		if (q->reftable[ri] && (ri + 1) * q->refblock_entries > end)
			end = (ri + 1) * q->refblock_entries;
	c->used_end = 0;
	for (uint64_t k = 0; k < end; k++) {
		uint64_t on, want = k < c->n ? c->refs[k] : 0;
		bool fix;

		if (k % q->refblock_entries == 0 && k >= c->n) {
			uint64_t ri = k / q->refblock_entries;

			/* no block here: all zero, and nothing past the file to count */
			if (ri >= q->reftable_entries || !q->reftable[ri]) {
				k += q->refblock_entries - 1;
				continue;
			}
		}
		r = qcow2_refcount_get(q, k, &on);
		if (r < 0)
			return r;
		if (k < c->n && (on || want))
			c->used_end = k + 1;
		if (on == want)
			continue;
		if (on < want) {
			res->corruptions++;
			if (!res->first_error[0])
				snprintf(res->first_error, sizeof(res->first_error),
					 "cluster %llu has refcount %llu but %llu references",
					 (unsigned long long)k, (unsigned long long)on,
					 (unsigned long long)want);
			fix = repair & QCOW2_REPAIR_ERRORS;
		} else {
			res->leaks++;
			fix = repair & QCOW2_REPAIR_LEAKS;
		}
		if (!fix)
			continue;
		if (want > q->refcount_max) {
			/* more references than the width can count: raised to the maximum, but
			 * still a corruption (never reported as repaired) */
			r = on < q->refcount_max ? qcow2_refcount_set(q, k, q->refcount_max) : 0;
			q_repair_sync(c);
			if (r < 0)
				return r;
			continue;
		}
		r = qcow2_refcount_set(q, k, want);
		q_repair_sync(c);
		if (r < 0)
			return r;
		if (on < want) {
			res->corruptions--;
			res->corruptions_fixed++;
		} else {
			res->leaks--;
			res->leaks_fixed++;
		}
	}
	return 0;
}

/*
 * The COPIED flag (bit 63) of active L1 and L2 entries must say whether the refcount is
 * exactly one (qcow2.txt "Cluster mapping"); qemu-img counts a mismatch as a corruption.
 */
static int check_copied_l2(struct qcow2 *q, uint64_t l2off, bool fix,
			   struct qcow2_check_result *res)
{
	uint8_t *t;
	int r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);

	for (uint64_t i = 0; r == 0 && i < q->l2_entries; i++) {
		uint64_t *p = (uint64_t *)(void *)t + i, e = be64toh(*p), rc;
		bool want;

		if ((e & QCOW2_OFLAG_COMPRESSED) || (e & QCOW2_L2_OFFSET_MASK) == 0)
			continue;
		r = qcow2_refcount_get(q, (e & QCOW2_L2_OFFSET_MASK) >> q->cluster_bits, &rc);
		if (r < 0)
			break;
		want = rc == 1;
		if (want == !!(e & QCOW2_OFLAG_COPIED))
			continue;
		if (!fix) {
			res->corruptions++;
			if (!res->first_error[0])
				snprintf(res->first_error, sizeof(res->first_error),
					 "OFLAG_COPIED data cluster: l2_entry=%llx refcount=%llu",
					 (unsigned long long)e, (unsigned long long)rc);
			continue;
		}
		/* the cache entry may move while refcounts load: fetch it again */
		r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
		if (r < 0)
			break;
		p = (uint64_t *)(void *)t + i;
		*p = htobe64(want ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED);
		qcow2_cache_mark_dirty(&q->l2_cache, l2off);
		res->corruptions_fixed++;
		r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
	}
	return r;
}

static int check_copied(struct qcow2 *q, bool fix, struct qcow2_check_result *res)
{
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l2off = q->l1[i] & QCOW2_L1_OFFSET_MASK, rc;
		int r;

		if (l2off == 0 || (l2off & (q->cluster_size - 1)) || l2off >= q->file_size)
			continue;
		r = qcow2_refcount_get(q, l2off >> q->cluster_bits, &rc);
		if (r < 0)
			return r;
		if ((rc == 1) != !!(q->l1[i] & QCOW2_OFLAG_COPIED)) {
			if (fix) {
				q->l1[i] ^= QCOW2_OFLAG_COPIED;
				q->l1_dirty = true;
				res->corruptions_fixed++;
			} else {
				res->corruptions++;
				if (!res->first_error[0])
					snprintf(res->first_error, sizeof(res->first_error),
						 "OFLAG_COPIED L2 cluster: l1_index=%u "
						 "l1_entry=%llx refcount=%llu", i,
						 (unsigned long long)q->l1[i],
						 (unsigned long long)rc);
			}
		}
		r = check_copied_l2(q, l2off, fix, res);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Count every reference into a fresh c->refs; 0 or -errno. */
static int count_all(struct counter *c)
{
	struct qcow2 *q = c->q;

	c->n = (q->file_size + q->cluster_size - 1) >> q->cluster_bits;
	if (c->n > CHECK_MAX_CLUSTERS)
		return -EFBIG;
	free(c->refs);
	c->refs = xcalloc(c->n ? c->n : 1, sizeof(*c->refs));
	c->rebuild = false;
	return count_refs(c);
}

/*
 * Rebuild the refcount structures (qemu-img check -r all does the same), then check again
 * from scratch: what the second pass still finds is reported as not repaired.
 */
static int rebuild(struct counter *c, unsigned repair)
{
	struct qcow2_check_result first;
	struct qcow2_check_result *res = c->res;
	int r = compare(c, 0); /* read only: how many refcounts were wrong */

	if (r < 0)
		return r;
	first = *res;
	uncount_refcount_structures(c);
	r = qcow2_refcount_rebuild(c->q, c->refs, c->n);
	if (r < 0)
		return r;
	memset(res, 0, sizeof(*res));
	r = count_all(c);
	if (r < 0)
		return r;
	if (c->rebuild) /* cannot happen with the blocks just written */
		return -EIO;
	q_repair_begin(c);
	r = compare(c, repair);
	q_repair_end(c);
	if (r < 0)
		return r;
	res->corruptions_fixed += first.corruptions > res->corruptions
					  ? first.corruptions - res->corruptions : 0;
	res->leaks_fixed += first.leaks;
	if (!res->first_error[0] || res->corruptions == 0)
		memcpy(res->first_error, first.first_error, sizeof(res->first_error));
	return 0;
}

int qcow2_check(struct qcow2 *q, unsigned repair, struct qcow2_check_result *res)
{
	struct counter c = { .q = q, .res = res };
	int r;

	memset(res, 0, sizeof(*res));
	r = qcow2_process_frees(q);
	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r == 0)
		r = count_all(&c);
	if (r == 0 && c.rebuild && (repair & QCOW2_REPAIR_ERRORS)) {
		r = rebuild(&c, repair);
	} else if (r == 0) {
		/* never write into blocks that are not sound (-r leaks on such an image) */
		unsigned fix = c.rebuild ? 0 : repair;

		if (fix)
			q_repair_begin(&c);
		r = compare(&c, fix);
		q_repair_end(&c);
	}
	if (r == 0 && res->corruptions == 0)
		r = check_copied(q, repair & QCOW2_REPAIR_ERRORS, res);
	if (r == 0 && repair) {
		r = qcow2_meta_flush(q);
		if (r == 0)
			r = qcow2_sync(q);
	}
	res->total_clusters = (q->d.size + q->cluster_size - 1) >> q->cluster_bits;
	/* qemu-img: the end of the last cluster inside the file that is referenced or has a
	 * refcount, not the file's size */
	res->image_end_offset = c.used_end << q->cluster_bits;
	free(c.refs);
	return r;
}
