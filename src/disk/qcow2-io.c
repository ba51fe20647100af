/*
 * QCOW2 data path (qcow2.txt "Cluster mapping"): reads through L1/L2 with runs of contiguous
 * clusters coalesced into one preadv, compressed clusters (zlib or zstd), zero clusters and
 * the backing chain; writes with cluster allocation and copy-on-write; discard, zeroes, flush
 * and block status. Every function returns 0 or -errno and never logs (STYLE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/qcow2.h"

void qcow2_release(struct disk *d);

enum cluster_kind qcow2_classify(const struct qcow2 *q, uint64_t e)
{
	if (e & QCOW2_OFLAG_COMPRESSED)
		return CK_COMPRESSED;
	if (q->version >= 3 && (e & QCOW2_OFLAG_ZERO))
		return CK_ZERO;
	if ((e & QCOW2_L2_OFFSET_MASK) == 0)
		return CK_UNALLOC;
	return CK_NORMAL;
}

/* Check the normal entry e of guest cluster ci; bad metadata is -EIO, and says which entry. */
int qcow2_check_normal(struct qcow2 *q, uint64_t ci, uint64_t e)
{
	uint64_t off = e & QCOW2_L2_OFFSET_MASK, l1i = ci >> q->l2_bits;
	uint64_t l2off = l1i < q->l1_size ? q->l1[l1i] & QCOW2_L1_OFFSET_MASK : 0;
	const char *why = (e & QCOW2_L2_RESERVED_MASK)	   ? "reserved bits set"
			  : (off & (q->cluster_size - 1)) ? "host offset is not cluster-aligned"
			  : off >= q->file_size		   ? "host offset is past the end of the file"
							   : NULL;

	if (why)
		return qcow2_bad(q, "L2 table at 0x%" PRIx64 ", entry %" PRIu64 ": %s", l2off,
				 ci & (q->l2_entries - 1), why);
	return 0;
}

/*
 * The L2 entry of guest cluster ci for a request that may overwrite or free what it points
 * at. As qemu's QCOW_OFLAG masks: reserved bits are refused in the L1 and L2 entries; the L2
 * table and a normal or zero entry's host cluster (a zero entry may keep one) must be
 * aligned, inside the file and not other metadata. Freeing a cluster that an entry claims
 * but that holds an L1 table would hand live metadata to the allocator.
 */
static int l2_entry_for_write(struct qcow2 *q, uint64_t ci, uint64_t *ret)
{
	uint64_t l1i = ci >> q->l2_bits, idx = ci & (q->l2_entries - 1), cs = q->cluster_size;
	uint64_t l1e = l1i < q->l1_size ? q->l1[l1i] : 0, l2off = l1e & QCOW2_L1_OFFSET_MASK;
	uint64_t e, off;
	int r;

	if (l1e & QCOW2_L1_RESERVED_MASK)
		return qcow2_bad(q, "L1 table at 0x%" PRIx64 ", entry %" PRIu64
			       ": reserved bits set", q->l1_offset, l1i);
	if (l2off && ((l2off & (cs - 1)) || l2off >= q->file_size ||
		      qcow2_overlaps(l2off, cs, 0, cs) ||
		      qcow2_overlaps(l2off, cs, q->l1_offset, (uint64_t)q->l1_size * 8) ||
		      qcow2_overlaps(l2off, cs, q->reftable_offset,
				     (uint64_t)q->reftable_clusters * cs)))
		return qcow2_bad(q, "L1 table at 0x%" PRIx64 ", entry %" PRIu64
			       ": L2 table offset 0x%" PRIx64 " is invalid", q->l1_offset, l1i,
			       l2off);
	r = qcow2_l2_entry(q, ci, &e);
	if (r < 0)
		return r;
	*ret = e;
	if (qcow2_classify(q, e) == CK_COMPRESSED)
		return 0;
	if (e & QCOW2_L2_RESERVED_MASK)
		return qcow2_bad(q, "L2 table at 0x%" PRIx64 ", entry %" PRIu64
			       ": reserved bits set", l2off, idx);
	off = e & QCOW2_L2_OFFSET_MASK;
	if (off == 0)
		return 0;
	if ((off & (cs - 1)) || off >= q->file_size)
		return qcow2_bad(q, "L2 table at 0x%" PRIx64 ", entry %" PRIu64
			       ": host offset 0x%" PRIx64 " is %s", l2off, idx, off,
			       (off & (cs - 1)) ? "not cluster-aligned" : "past the end of the file");
	if (qcow2_hits_metadata(q, off, cs))
		return qcow2_bad(q, "L2 table at 0x%" PRIx64 ", entry %" PRIu64
			       ": host offset 0x%" PRIx64 " is metadata", l2off, idx, off);
	/* not COPIED means shared: a refcount below 2 says another entry uses the cluster
	 * without counting it, and replacing this one would free it under the other */
	if (!(e & QCOW2_OFLAG_COPIED)) {
		uint64_t rc;

		r = qcow2_refcount_get(q, off >> q->cluster_bits, &rc);
		if (r < 0)
			return r;
		if (rc < 2)
			return qcow2_bad(q, "L2 table at 0x%" PRIx64 ", entry %" PRIu64
				       ": host cluster 0x%" PRIx64 " has refcount %" PRIu64
				       " without the COPIED flag", l2off, idx, off, rc);
	}
	return 0;
}

/* ---- iovec helpers ---- */

/* A slice of a request's iovec; requests of up to 16 segments need no allocation. */
struct iov_sub {
	struct iovec *v;
	int n;
	struct iovec small[16];
};

static void iov_sub_fini(struct iov_sub *s)
{
	if (s->v && s->v != s->small)
		free(s->v);
	s->v = NULL;
}

/* Describe bytes [skip, skip+len) of iov (release with iov_sub_fini). */
static void iov_slice(const struct iovec *iov, int cnt, uint64_t skip, uint64_t len,
		      struct iov_sub *out)
{
	iov_sub_fini(out);
	out->v = cnt <= (int)ARRAY_SIZE(out->small) ? out->small
						     : xcalloc((size_t)cnt, sizeof(*out->v));
	out->n = 0;
	for (int i = 0; i < cnt && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		out->v[out->n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out->v[out->n].iov_len = (size_t)l;
		out->n++;
		len -= l;
		skip = 0;
	}
}

static void iov_fill(const struct iovec *iov, int cnt, uint64_t skip, const uint8_t *buf,
		     uint64_t len, bool zero)
{
	for (int i = 0; i < cnt && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		if (zero) {
			memset((uint8_t *)iov[i].iov_base + skip, 0, (size_t)l);
		} else {
			memcpy((uint8_t *)iov[i].iov_base + skip, buf, (size_t)l);
			buf += l;
		}
		len -= l;
		skip = 0;
	}
}

static void iov_gather(const struct iovec *iov, int cnt, uint64_t skip, uint8_t *buf,
		       uint64_t len)
{
	for (int i = 0; i < cnt && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		memcpy(buf, (uint8_t *)iov[i].iov_base + skip, (size_t)l);
		buf += l;
		len -= l;
		skip = 0;
	}
}

/* preadv/pwritev a whole slice; reads past EOF give zeroes. */
static int file_rw(int fd, uint64_t off, struct iov_sub *s, bool write)
{
	return disk_fd_rw(fd, off, s->v, s->n, write);
}

/* ---- compressed clusters ---- */

static int decompress_cluster(struct qcow2 *q, uint64_t entry)
{
	uint64_t off, len;
	int r;

	if (q->dcache_entry == entry)
		return 0;
	qcow2_compressed_range(q, entry, &off, &len);
	if (off >= q->file_size || len > 2 * q->cluster_size)
		return -EIO;
	if (len > q->file_size - off)
		len = q->file_size - off;
	r = qcow2_pread(q, q->zbuf, (size_t)len, off);
	if (r < 0)
		return r;
	if (q->compression_type == QCOW2_COMPRESSION_ZSTD) {
		ZSTD_inBuffer in = { q->zbuf, (size_t)len, 0 };
		ZSTD_outBuffer out = { q->dcache, q->cluster_size, 0 };

		if (!q->zstd_dctx)
			q->zstd_dctx = ZSTD_createDCtx();
		if (!q->zstd_dctx)
			return -ENOMEM;
		(void)ZSTD_DCtx_reset(q->zstd_dctx, ZSTD_reset_session_only);
		while (out.pos < out.size) {
			size_t z = ZSTD_decompressStream(q->zstd_dctx, &out, &in);

			if (ZSTD_isError(z))
				return -EIO;
			if (in.pos == in.size && out.pos < out.size && z != 0)
				return -EIO;
			if (z == 0 && out.pos < out.size)
				return -EIO;
		}
	} else {
		z_stream zs = { 0 };
		int zr;

		if (inflateInit2(&zs, -15) != Z_OK)
			return -ENOMEM;
		zs.next_in = q->zbuf;
		zs.avail_in = (uInt)len;
		zs.next_out = q->dcache;
		zs.avail_out = (uInt)q->cluster_size;
		zr = inflate(&zs, Z_FINISH);
		(void)inflateEnd(&zs);
		/* the data may end inside the last sector: a full cluster is what counts */
		if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR && zr != Z_OK) || zs.avail_out != 0)
			return -EIO;
	}
	q->dcache_entry = entry;
	return 0;
}

/* ---- reads ---- */

/* Read [g, g+len) of unallocated guest space: from the backing chain, else zeroes. */
static int read_unallocated(struct qcow2 *q, uint64_t g, const struct iovec *iov, int cnt,
			    uint64_t skip, uint64_t len)
{
	uint64_t bsize, n = 0;

	if (q->backing) {
		struct iov_sub s = { 0 };
		int r = 0;

		bsize = disk_size(q->backing);
		if (g < bsize) {
			n = bsize - g < len ? bsize - g : len;
			iov_slice(iov, cnt, skip, n, &s);
			r = disk_readv(q->backing, g, s.v, s.n);
		}
		iov_sub_fini(&s);
		if (r < 0)
			return r;
	}
	if (n < len)
		iov_fill(iov, cnt, skip + n, NULL, len - n, true);
	return 0;
}

/* How a run of clusters may grow: see qcow2_run_extend(). */
/*
 * The length of the run that starts at guest offset g, whose first cluster (entry e) gives
 * n bytes: it extends over the following clusters of the same kind, up to total bytes.
 * Compressed clusters are never merged.
 */
int qcow2_run_extend(struct qcow2 *q, uint64_t g, uint64_t e, uint64_t n, uint64_t total,
		      enum run_rule rule, uint64_t *ret_n)
{
	uint64_t cs = q->cluster_size, ci = g >> q->cluster_bits, e2;
	enum cluster_kind k = qcow2_classify(q, e);
	int r;

	while (n < total && k != CK_COMPRESSED) {
		uint64_t nci = (g + n) >> q->cluster_bits;

		r = qcow2_l2_entry(q, nci, &e2);
		if (r < 0)
			return r;
		if (qcow2_classify(q, e2) != k)
			break;
		if (k == CK_NORMAL && (e2 & QCOW2_L2_OFFSET_MASK) !=
					      (e & QCOW2_L2_OFFSET_MASK) + (nci - ci) * cs)
			break;
		if (rule == RUN_IN_PLACE &&
		    (!(e2 & QCOW2_OFLAG_COPIED) || (e2 & QCOW2_L2_RESERVED_MASK)))
			break;
		if (rule == RUN_STATUS && k == CK_ZERO &&
		    ((e2 | e) & QCOW2_L2_OFFSET_MASK) != 0)
			break;
		n += cs < total - n ? cs : total - n;
	}
	*ret_n = n;
	return 0;
}

static int qcow2_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	struct qcow2 *q = to_qcow2(d);
	uint64_t cs = q->cluster_size, total = 0, pos = 0, e;
	struct iov_sub s = { 0 };
	int r = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	while (pos < total) {
		uint64_t g = off + pos, ci = g >> q->cluster_bits, in = g & (cs - 1);
		uint64_t n = cs - in < total - pos ? cs - in : total - pos;
		enum cluster_kind k;

		r = qcow2_l2_entry(q, ci, &e);
		if (r < 0)
			break;
		k = qcow2_classify(q, e);
		r = qcow2_run_extend(q, g, e, n, total - pos, RUN_READ, &n);
		if (r < 0)
			break;
		switch (k) {
		case CK_NORMAL:
			r = qcow2_check_normal(q, ci, e);
			if (r < 0)
				goto out;
			iov_slice(iov, cnt, pos, n, &s);
			r = file_rw(q->fd, (e & QCOW2_L2_OFFSET_MASK) + in, &s, false);
			break;
		case CK_ZERO:
			iov_fill(iov, cnt, pos, NULL, n, true);
			break;
		case CK_UNALLOC:
			r = read_unallocated(q, g, iov, cnt, pos, n);
			break;
		case CK_COMPRESSED:
			r = decompress_cluster(q, e);
			if (r == 0)
				iov_fill(iov, cnt, pos, q->dcache + in, n, false);
			break;
		}
		if (r < 0)
			break;
		pos += n;
	}
out:
	iov_sub_fini(&s);
	return r;
}

/* The current content of guest cluster ci (entry e) into buf, for copy-on-write. */
static int read_cluster(struct qcow2 *q, uint64_t ci, uint64_t e, uint8_t *buf)
{
	struct iovec v = { .iov_base = buf, .iov_len = q->cluster_size };
	uint64_t g = ci << q->cluster_bits;
	uint64_t len = q->d.size - g < q->cluster_size ? q->d.size - g : q->cluster_size;
	int r;

	if (len < q->cluster_size)
		memset(buf + len, 0, (size_t)(q->cluster_size - len));
	switch (qcow2_classify(q, e)) {
	case CK_NORMAL:
		r = qcow2_check_normal(q, ci, e);
		if (r < 0)
			return r;
		return qcow2_pread(q, buf, q->cluster_size, e & QCOW2_L2_OFFSET_MASK);
	case CK_ZERO:
		memset(buf, 0, q->cluster_size);
		return 0;
	case CK_COMPRESSED:
		r = decompress_cluster(q, e);
		if (r == 0)
			memcpy(buf, q->dcache, q->cluster_size);
		return r;
	case CK_UNALLOC:
		break;
	}
	v.iov_len = (size_t)len;
	return read_unallocated(q, g, &v, 1, 0, len);
}

/* ---- writes ---- */

/* Drop a reference held by an L2 entry being replaced (after the L2 change is durable). */
static void release_entry(struct qcow2 *q, uint64_t e)
{
	switch (qcow2_classify(q, e)) {
	case CK_NORMAL:
		qcow2_free_later(q, e & QCOW2_L2_OFFSET_MASK);
		break;
	case CK_COMPRESSED: {
		uint64_t off, len;

		qcow2_compressed_range(q, e, &off, &len);
		for (uint64_t c = off >> q->cluster_bits; c <= (off + len - 1) >> q->cluster_bits;
		     c++)
			qcow2_free_later(q, c << q->cluster_bits);
		break;
	}
	case CK_ZERO:
		if (e & QCOW2_L2_OFFSET_MASK)
			qcow2_free_later(q, e & QCOW2_L2_OFFSET_MASK);
		break;
	case CK_UNALLOC:
		break;
	}
}

static int cmp_l1(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/*
 * Once per open, before the first L2 change: an L2 table that two L1 entries share (counted
 * once, or COPIED in one of them) is not ours to write in place or to free. Sorting (offset,
 * index) pairs keeps it O(n log n) whatever the L1 size.
 */
static int l1_check_unique(struct qcow2 *q)
{
	cleanup_free uint64_t *v = xcalloc((size_t)q->l1_size + 1, 2 * sizeof(*v));
	size_t n = 0;

	for (uint64_t i = 0; i < q->l1_size; i++)
		if (q->l1[i] & QCOW2_L1_OFFSET_MASK) {
			v[2 * n] = q->l1[i] & QCOW2_L1_OFFSET_MASK;
			v[2 * n + 1] = i;
			n++;
		}
	qsort(v, n, 2 * sizeof(*v), cmp_l1);
	for (size_t i = 1; i < n; i++)
		if (v[2 * i] == v[2 * i - 2])
			return qcow2_bad(q, "L1 table at 0x%" PRIx64 ", entries %" PRIu64
				       " and %" PRIu64 ": both use the L2 table at 0x%" PRIx64,
				       q->l1_offset, v[2 * i - 1] < v[2 * i + 1] ? v[2 * i - 1] : v[2 * i + 1],
				       v[2 * i - 1] < v[2 * i + 1] ? v[2 * i + 1] : v[2 * i - 1], v[2 * i]);
	q->l1_unique = true;
	return 0;
}

/*
 * Make the L2 table of guest cluster ci writable: allocate it when absent, copy it when
 * shared with a snapshot. *ret_off is its host offset.
 */
static int l2_prepare(struct qcow2 *q, uint64_t ci, uint64_t *ret_off)
{
	uint64_t l1i = ci >> q->l2_bits, l1e, old, nw, rc;
	uint8_t *t;
	int r;

	if (l1i >= q->l1_size)
		return -EIO;
	if (!q->l1_unique) {
		r = l1_check_unique(q);
		if (r < 0)
			return r;
	}
	l1e = q->l1[l1i];
	old = l1e & QCOW2_L1_OFFSET_MASK;
	if (old && (l1e & QCOW2_OFLAG_COPIED)) {
		*ret_off = old;
		return 0;
	}
	if (old) {
		r = qcow2_refcount_get(q, old >> q->cluster_bits, &rc);
		if (r < 0)
			return r;
		if (rc == 1) {
			q->l1[l1i] = old | QCOW2_OFLAG_COPIED;
			q->l1_dirty = true;
			*ret_off = old;
			return 0;
		}
	}
	r = qcow2_alloc_clusters(q, 1, &nw);
	if (r < 0)
		return r;
	if (old) {
		/*
		 * shared with a snapshot: copy it. Refcounts count references per L1 table
		 * (qcow2.txt "Snapshots"), so the clusters it maps keep theirs; the copy marks
		 * them shared (no COPIED flag) so that writes copy them too.
		 */
		r = qcow2_cache_get(q, &q->l2_cache, old, false, &t);
		if (r < 0)
			return r;
		memcpy(q->cbuf, t, q->cluster_size);
		for (uint64_t i = 0; i < q->l2_entries; i++) {
			uint64_t *p = (uint64_t *)(void *)q->cbuf + i;
			*p = htobe64(be64toh(*p) & ~QCOW2_OFLAG_COPIED);
		}
		r = qcow2_cache_get(q, &q->l2_cache, nw, true, &t);
		if (r < 0)
			return r;
		memcpy(t, q->cbuf, q->cluster_size);
		qcow2_free_later(q, old);
	} else {
		r = qcow2_cache_get(q, &q->l2_cache, nw, true, &t);
		if (r < 0)
			return r;
	}
	qcow2_cache_mark_dirty(&q->l2_cache, nw);
	q->l1[l1i] = nw | QCOW2_OFLAG_COPIED;
	q->l1_dirty = true;
	*ret_off = nw;
	return 0;
}

static int l2_set(struct qcow2 *q, uint64_t ci, uint64_t entry)
{
	uint64_t l2off = 0;
	uint8_t *t;
	int r = l2_prepare(q, ci, &l2off);

	if (r < 0)
		return r;
	r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
	if (r < 0)
		return r;
	((uint64_t *)(void *)t)[ci & (q->l2_entries - 1)] = htobe64(entry);
	qcow2_cache_mark_dirty(&q->l2_cache, l2off);
	return 0;
}

/*
 * Write [in, in+n) of guest cluster ci from iov[skip..] into a newly allocated cluster: data
 * first, then (in the caches) its refcount and the L2 entry; the old cluster is released.
 */
static int write_new_cluster(struct qcow2 *q, uint64_t ci, uint64_t e, uint64_t in, uint64_t n,
			     const struct iovec *iov, int cnt, uint64_t skip)
{
	uint64_t nw, cs = q->cluster_size;
	enum cluster_kind k = qcow2_classify(q, e);
	bool zero_src = k == CK_ZERO || (k == CK_UNALLOC && (!q->backing ||
							      (ci << q->cluster_bits) >=
								      disk_size(q->backing)));
	struct iov_sub s = { 0 };
	int r;

	if (n < cs && !zero_src) {
		r = read_cluster(q, ci, e, q->cbuf);
		if (r < 0)
			return r;
	}
	r = qcow2_alloc_clusters(q, 1, &nw);
	if (r < 0)
		return r;
	if (n < cs && zero_src && nw >= q->phys_size) {
		/* a fresh cluster past the end of the file already reads as zeroes: write only
		 * the new bytes, then extend the file over the rest of the cluster */
		iov_slice(iov, cnt, skip, n, &s);
		r = file_rw(q->fd, nw + in, &s, true);
		if (r == 0 && nw + in + n < nw + cs && ftruncate(q->fd, (off_t)(nw + cs)) < 0)
			r = -errno;
	} else if (n < cs) {
		if (zero_src)
			memset(q->cbuf, 0, cs);
		iov_gather(iov, cnt, skip, q->cbuf + in, n);
		r = qcow2_pwrite_meta(q, q->cbuf, cs, nw);
	} else {
		iov_slice(iov, cnt, skip, n, &s);
		r = file_rw(q->fd, nw, &s, true);
	}
	iov_sub_fini(&s);
	if (r < 0)
		return r;
	if (nw + cs > q->phys_size)
		q->phys_size = nw + cs;
	if (nw + cs > q->file_size)
		q->file_size = nw + cs;
	r = l2_set(q, ci, nw | QCOW2_OFLAG_COPIED);
	if (r < 0)
		return r;
	release_entry(q, e);
	return 0;
}

/* An entry whose cluster a whole-cluster write may replace with no copy and nothing to free. */
static bool is_fresh(const struct qcow2 *q, uint64_t e)
{
	enum cluster_kind k = qcow2_classify(q, e);

	return k == CK_UNALLOC || (k == CK_ZERO && !(e & QCOW2_L2_OFFSET_MASK));
}

/* Bytes of new clusters written with one call (a run of 64 KiB clusters: 64 of them). */
#define NEW_RUN_MAX (4u << 20)

/*
 * Whole fresh clusters in a row from ci (an image being filled: convert, commit, a guest
 * writing new space): one allocation of contiguous clusters and one write for all of them
 * instead of a write per cluster (ext4 charges per call: a 64 KiB write cost 3-4 times as
 * much per byte as a 320 KiB one). Sets *ret_n to the bytes written, 0 when fewer than two
 * clusters qualify (the caller writes the one cluster its usual way).
 */
static int write_new_run(struct qcow2 *q, uint64_t ci, uint64_t left, const struct iovec *iov,
			 int cnt, uint64_t skip, uint64_t *ret_n)
{
	uint64_t cs = q->cluster_size, k = 1, max = (left < NEW_RUN_MAX ? left : NEW_RUN_MAX) / cs;
	uint64_t nw, e;
	struct iov_sub s = { 0 };
	int r;

	*ret_n = 0;
	/* a new refcount block must find a cluster of its own range outside the run */
	if (max > q->refblock_entries / 2)
		max = q->refblock_entries / 2;
	for (; k < max; k++) {
		r = l2_entry_for_write(q, ci + k, &e);
		if (r < 0)
			return r;
		if (!is_fresh(q, e))
			break;
	}
	if (k < 2)
		return 0;
	r = qcow2_alloc_clusters(q, k, &nw);
	if (r < 0)
		return r;
	iov_slice(iov, cnt, skip, k * cs, &s);
	r = file_rw(q->fd, nw, &s, true);
	iov_sub_fini(&s);
	if (r < 0)
		return r;
	if (nw + k * cs > q->phys_size)
		q->phys_size = nw + k * cs;
	if (nw + k * cs > q->file_size)
		q->file_size = nw + k * cs;
	/* data first, then the entries (flushed in qcow2_meta_flush's order) */
	for (uint64_t j = 0; j < k; j++) {
		r = l2_set(q, ci + j, (nw + j * cs) | QCOW2_OFLAG_COPIED);
		if (r < 0)
			return r;
	}
	*ret_n = k * cs;
	return 0;
}

static int qcow2_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt)
{
	struct qcow2 *q = to_qcow2(d);
	uint64_t cs = q->cluster_size, total = 0, pos = 0, e;
	struct iov_sub s = { 0 };
	int r = 0;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	while (pos < total) {
		uint64_t g = off + pos, ci = g >> q->cluster_bits, in = g & (cs - 1);
		uint64_t n = cs - in < total - pos ? cs - in : total - pos;

		r = l2_entry_for_write(q, ci, &e);
		if (r < 0)
			break;
		if (qcow2_classify(q, e) == CK_NORMAL && (e & QCOW2_OFLAG_COPIED)) {
			r = qcow2_check_normal(q, ci, e);
			if (r < 0)
				break;
			r = qcow2_run_extend(q, g, e, n, total - pos, RUN_IN_PLACE, &n);
			if (r < 0)
				break;
			if (qcow2_hits_metadata(q, (e & QCOW2_L2_OFFSET_MASK) + in, n)) {
				r = qcow2_bad(q, "L2 entry of guest cluster %" PRIu64
					      ": data run at 0x%" PRIx64 " overlaps metadata", ci,
					      (uint64_t)(e & QCOW2_L2_OFFSET_MASK));
				break;
			}
			iov_slice(iov, cnt, pos, n, &s);
			r = file_rw(q->fd, (e & QCOW2_L2_OFFSET_MASK) + in, &s, true);
		} else {
			uint64_t done = 0;

			if (in == 0 && n == cs && is_fresh(q, e))
				r = write_new_run(q, ci, total - pos, iov, cnt, pos, &done);
			if (r == 0 && done)
				n = done;
			else if (r == 0)
				r = write_new_cluster(q, ci, e, in, n, iov, cnt, pos);
		}
		if (r < 0)
			break;
		pos += n;
	}
	iov_sub_fini(&s);
	if (r == 0)
		r = qcow2_process_frees(q);
	return r;
}

static int qcow2_flush(struct disk *d)
{
	struct qcow2 *q = to_qcow2(d);
	int r = qcow2_process_frees(q);

	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r == 0)
		r = qcow2_sync(q);
	return r;
}

/* Write zeroes into part of a cluster through the normal write path. */
static int write_zero_bytes(struct qcow2 *q, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536];
	struct iovec v[32];
	int n = 0;

	while (len) {
		size_t l = len > sizeof(zero) ? sizeof(zero) : (size_t)len;

		v[n].iov_base = (void *)zero;
		v[n].iov_len = l;
		n++;
		len -= l;
	}
	return qcow2_writev(&q->d, off, v, n);
}

/* Make whole cluster ci read as zeroes (discard: or as its backing content on v2). */
static int zero_cluster(struct qcow2 *q, uint64_t ci, bool discard)
{
	uint64_t e, target;
	int r = l2_entry_for_write(q, ci, &e);

	if (r < 0)
		return r;
	if (q->version >= 3)
		target = (q->backing || qcow2_classify(q, e) == CK_ZERO) ? QCOW2_OFLAG_ZERO : 0;
	else if (!q->backing || discard)
		target = 0;
	else
		return write_zero_bytes(q, ci << q->cluster_bits, q->cluster_size);
	if (e == target)
		return 0;
	if (target == 0 && (q->l1[ci >> q->l2_bits] & QCOW2_L1_OFFSET_MASK) == 0)
		return 0;
	r = l2_set(q, ci, target);
	if (r < 0)
		return r;
	release_entry(q, e);
	return 0;
}

static int zero_range(struct qcow2 *q, uint64_t off, uint64_t len, bool discard)
{
	uint64_t cs = q->cluster_size, end = off + len;
	int r = 0;

	while (off < end) {
		uint64_t in = off & (cs - 1);
		uint64_t n = cs - in < end - off ? cs - in : end - off;
		bool whole = n == cs || (in == 0 && off + n == q->d.size);

		if (whole)
			r = zero_cluster(q, off >> q->cluster_bits, discard);
		else if (!discard)
			r = write_zero_bytes(q, off, n);
		if (r < 0)
			break;
		off += n;
	}
	if (r == 0)
		r = qcow2_process_frees(q);
	return r;
}

static int qcow2_discard(struct disk *d, uint64_t off, uint64_t len)
{
	return zero_range(to_qcow2(d), off, len, true);
}

static int qcow2_write_zeroes(struct disk *d, uint64_t off, uint64_t len, unsigned flags)
{
	return zero_range(to_qcow2(d), off, len, false);
}

int qcow2_write_compressed(struct qcow2 *q, uint64_t ci, const uint8_t *data)
{
	uint64_t cs = q->cluster_size, clen = 0, host, e, nsec, rc;
	unsigned x = 62 - (q->cluster_bits - 8);
	struct iovec v = { .iov_base = (void *)data, .iov_len = cs };
	int r;

	if (q->compression_type == QCOW2_COMPRESSION_ZSTD) {
		size_t z = ZSTD_compress(q->zbuf, cs - 1, data, cs, 3);

		if (!ZSTD_isError(z))
			clen = z;
	} else {
		z_stream zs = { 0 };

		if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -ENOMEM;
		zs.next_in = (Bytef *)data;
		zs.avail_in = (uInt)cs;
		zs.next_out = q->zbuf;
		zs.avail_out = (uInt)(cs - 1);
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END)
			clen = zs.total_out;
		(void)deflateEnd(&zs);
	}
	if (clen == 0) /* does not shrink: store it plain */
		return qcow2_writev(&q->d, ci << q->cluster_bits, &v, 1);
	r = l2_entry_for_write(q, ci, &e);
	if (r < 0)
		return r;
	/* pack into the current cluster when it fits and its refcount can count one more
	 * (refcount_bits 1..8 saturate after a few: start a new cluster, as qemu does) */
	rc = q->refcount_max;
	if (q->compress_next && (q->compress_next & (cs - 1)) &&
	    (q->compress_next & (cs - 1)) + clen <= cs) {
		r = qcow2_refcount_get(q, q->compress_next >> q->cluster_bits, &rc);
		if (r < 0)
			return r;
	}
	if (rc < q->refcount_max) {
		host = q->compress_next;
		r = qcow2_refcount_add(q, host >> q->cluster_bits, 1);
	} else {
		r = qcow2_alloc_clusters(q, 1, &host);
	}
	if (r < 0)
		return r;
	r = qcow2_pwrite_meta(q, q->zbuf, (size_t)clen, host);
	if (r < 0)
		return r;
	q->compress_next = host + clen;
	nsec = ((host + clen - 1) >> 9) - (host >> 9);
	r = l2_set(q, ci, QCOW2_OFLAG_COMPRESSED | (nsec << x) | host);
	if (r < 0)
		return r;
	release_entry(q, e);
	return qcow2_process_frees(q);
}

/* The virtual size in the header, grown by the image's one writer (disk_grow). */
static int qcow2_grow(struct disk *d, uint64_t new_size, struct hull_err *err)
{
	return qcow2_resize(to_qcow2(d), new_size, err);
}

const struct disk_ops qcow2_ops = {
	.prefetch = qcow2_prefetch,
	.start_writeback = qcow2_start_writeback,
	.name = "qcow2",
	.readv = qcow2_readv,
	.writev = qcow2_writev,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.block_status = qcow2_block_status,
	.grow = qcow2_grow,
	.free = qcow2_release,
};
