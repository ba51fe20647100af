/*
 * QCOW2 block status (what `qemu-img map` shows, with QEMU's preallocation heuristic) and
 * prefetch: the read-only walks over the cluster map that the copy commands use (and
 * start_writeback, their other help on the way out).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/qcow2.h"

/*
 * QEMU 7.2's qcow2_detect_metadata_preallocation: the image counts as preallocated (and
 * only then does block status look at the file's holes under data clusters) when more
 * clusters have a refcount than the file has blocks for: max(real * 10 / 9, real + 2).
 */
static bool metadata_preallocated(struct qcow2 *q)
{
	uint64_t real, threshold, end, count = 0, rc;
	struct stat st;

	if (q->prealloc_checked)
		return q->prealloc;
	q->prealloc_checked = true;
	if (fstat(q->fd, &st) < 0)
		return false;
	real = (uint64_t)st.st_blocks * 512 / q->cluster_size;
	threshold = real * 10 / 9 > real + 2 ? real * 10 / 9 : real + 2;
	end = (q->file_size + q->cluster_size - 1) >> q->cluster_bits;
	for (uint64_t i = 0; i < end && count < threshold; i++) {
		if (qcow2_refcount_get(q, i, &rc) < 0)
			return false;
		count += rc != 0;
	}
	q->prealloc = count >= threshold;
	return q->prealloc;
}

/*
 * Holes in the file under allocated clusters read as zeroes: on a preallocated image,
 * report them like qemu-img map does (data and zero), splitting the extent where the file
 * changes between data and hole. Elsewhere qemu reports data clusters whole, and so do we.
 */
static void refine_with_holes(struct qcow2 *q, uint64_t host, uint64_t *len, unsigned *flags)
{
	off_t data, hole;

	if (!metadata_preallocated(q))
		return;
	data = lseek(q->fd, (off_t)host, SEEK_DATA);

	if (data < 0) {
		if (errno == ENXIO) /* no data from here to the end of the file */
			*flags |= DISK_STATUS_ZERO;
		return;
	}
	if ((uint64_t)data > host) {
		*flags |= DISK_STATUS_ZERO;
		if ((uint64_t)data - host < *len)
			*len = (uint64_t)data - host;
		return;
	}
	hole = lseek(q->fd, (off_t)host, SEEK_HOLE);
	if (hole > (off_t)host && (uint64_t)hole - host < *len)
		*len = (uint64_t)hole - host;
}

int qcow2_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *ret_len,
			      unsigned *ret_flags, uint64_t *ret_host, unsigned *ret_depth)
{
	struct qcow2 *q = to_qcow2(d);
	uint64_t cs = q->cluster_size, ci = off >> q->cluster_bits, in = off & (cs - 1), e;
	uint64_t n = cs - in < len ? cs - in : len;
	enum cluster_kind k;
	int r = qcow2_l2_entry(q, ci, &e);

	if (r < 0)
		return r;
	k = qcow2_classify(q, e);
	r = qcow2_run_extend(q, off, e, n, len, RUN_STATUS, &n);
	if (r < 0)
		return r;
	*ret_len = n;
	switch (k) {
	case CK_NORMAL:
		r = qcow2_check_normal(q, ci, e);
		if (r < 0)
			return r;
		*ret_flags = DISK_STATUS_DATA | DISK_STATUS_ALLOCATED | DISK_STATUS_OFFSET_VALID;
		*ret_host = (e & QCOW2_L2_OFFSET_MASK) + in;
		refine_with_holes(q, *ret_host, ret_len, ret_flags);
		return 0;
	case CK_COMPRESSED:
		*ret_flags = DISK_STATUS_DATA | DISK_STATUS_COMPRESSED | DISK_STATUS_ALLOCATED;
		return 0;
	case CK_ZERO:
		*ret_flags = DISK_STATUS_ZERO | DISK_STATUS_ALLOCATED;
		/* a zero cluster that keeps its host cluster: qemu-img map shows the offset */
		if ((e & QCOW2_L2_OFFSET_MASK) && qcow2_check_normal(q, ci, e) == 0) {
			*ret_flags |= DISK_STATUS_OFFSET_VALID;
			*ret_host = (e & QCOW2_L2_OFFSET_MASK) + in;
		}
		d->detail[0] = 0;
		return 0;
	case CK_UNALLOC:
		break;
	}
	if (q->backing && off < disk_size(q->backing)) {
		uint64_t bn = disk_size(q->backing) - off < n ? disk_size(q->backing) - off : n;

		r = disk_block_status(q->backing, off, bn, ret_len, ret_flags, ret_host,
				      ret_depth);
		if (r < 0)
			return r;
		*ret_flags |= DISK_STATUS_BACKING;
		(*ret_depth)++;
		return 0;
	}
	/* no backing file, or past the end of a shorter one: zeroes of this image, as QEMU's
	 * block status says (qemu-img map: depth 0, not present) */
	*ret_flags = DISK_STATUS_ZERO;
	return 0;
}

/* Start reading the host ranges behind a guest range: this file's clusters (contiguous
 * runs in one call), unallocated runs from the backing chain. */
void qcow2_prefetch(struct disk *d, uint64_t off, uint64_t len)
{
	struct qcow2 *q = to_qcow2(d);
	uint64_t cs = q->cluster_size, end = off + len, hs = 0, hl = 0, bs = 0, bl = 0, e;
	char detail[sizeof(d->detail)];

	memcpy(detail, d->detail, sizeof(detail)); /* a hint: never the cause of an error */
	while (off < end) {
		uint64_t in = off & (cs - 1), n = cs - in < end - off ? cs - in : end - off;
		enum cluster_kind k;

		if (qcow2_l2_entry(q, off >> q->cluster_bits, &e) < 0)
			break;
		k = qcow2_classify(q, e);
		if (k == CK_NORMAL && hl && hs + hl == (e & QCOW2_L2_OFFSET_MASK) + in) {
			hl += n;
		} else if (k == CK_NORMAL) {
			if (hl)
				(void)posix_fadvise(q->fd, (off_t)hs, (off_t)hl, POSIX_FADV_WILLNEED);
			hs = (e & QCOW2_L2_OFFSET_MASK) + in;
			hl = n;
		} else if (k == CK_UNALLOC && q->backing && bl && bs + bl == off) {
			bl += n;
		} else if (k == CK_UNALLOC && q->backing) {
			if (bl)
				disk_prefetch(q->backing, bs, bl);
			bs = off;
			bl = n;
		}
		off += n;
	}
	if (hl)
		(void)posix_fadvise(q->fd, (off_t)hs, (off_t)hl, POSIX_FADV_WILLNEED);
	if (bl)
		disk_prefetch(q->backing, bs, bl);
	memcpy(d->detail, detail, sizeof(detail));
}

/* The image file's dirty pages (data and metadata alike) start on their way to the device. */
void qcow2_start_writeback(struct disk *d)
{
	(void)sync_file_range(to_qcow2(d)->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}
