/*
 * Internal QCOW2 snapshots (`hull img snapshot -c/-a/-d`), written as QEMU writes them:
 * a copy of the active L1 table, refcount increments of every cluster it reaches (so that
 * writes copy them: the COPIED flags are cleared), and a snapshot table entry. Each change
 * is ordered so that a crash leaves leaks at worst, never a cluster in use with a refcount
 * that is too low: refcounts go up (synced) before a table refers to clusters, and go down
 * only after the table that dropped them is durable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "disk/img.h"
#include "disk/qcow2.h"

static int add_range(struct qcow2 *q, uint64_t off, uint64_t len, int delta)
{
	if (off + len > q->file_size || len == 0)
		return -EIO; /* points past the end of the file: refuse, change nothing more */
	for (uint64_t c = off >> q->cluster_bits; c <= (off + len - 1) >> q->cluster_bits; c++) {
		int r = qcow2_refcount_add(q, c, delta);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Add delta to the refcount of every L2 table and data cluster the L1 table reaches. */
static int l1_refs(struct qcow2 *q, const uint64_t *l1, uint32_t n, int delta)
{
	cleanup_free uint64_t *l2 = xmalloc(q->cluster_size);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t l2off = l1[i] & QCOW2_L1_OFFSET_MASK;
		uint8_t *t;
		int r;

		if (!l2off)
			continue;
		if (l2off % q->cluster_size || l2off >= q->file_size)
			return -EIO;
		r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
		if (r < 0)
			return r;
		memcpy(l2, t, q->cluster_size); /* the cache may evict it while refcounts load */
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint64_t e = be64toh(l2[j]), off, len;

			if (e & QCOW2_OFLAG_COMPRESSED)
				qcow2_compressed_range(q, e, &off, &len);
			else
				off = e & QCOW2_L2_OFFSET_MASK, len = q->cluster_size;
			if (off && (r = add_range(q, off, len, delta)) < 0)
				return r;
		}
		r = add_range(q, l2off, q->cluster_size, delta);
		if (r < 0)
			return r;
		if (delta < 0) {
			uint64_t rc;

			r = qcow2_refcount_get(q, l2off >> q->cluster_bits, &rc);
			if (r < 0)
				return r;
			if (rc == 0)
				qcow2_cache_drop(&q->l2_cache, l2off);
		}
	}
	return 0;
}

/* COPIED on the active L1 and L2 entries: set exactly when the refcount is one. */
static int set_copied(struct qcow2 *q)
{
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l2off = q->l1[i] & QCOW2_L1_OFFSET_MASK, rc, want;
		int r;

		if (!l2off)
			continue;
		r = qcow2_refcount_get(q, l2off >> q->cluster_bits, &rc);
		if (r < 0)
			return r;
		want = rc == 1 ? QCOW2_OFLAG_COPIED : 0;
		if ((q->l1[i] & QCOW2_OFLAG_COPIED) != want) {
			q->l1[i] = (q->l1[i] & ~QCOW2_OFLAG_COPIED) | want;
			q->l1_dirty = true;
		}
		for (uint64_t j = 0; j < q->l2_entries; j++) {
			uint8_t *t;
			uint64_t e, *p;

			r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
			if (r < 0)
				return r;
			p = (uint64_t *)(void *)t + j;
			e = be64toh(*p);
			if ((e & QCOW2_OFLAG_COMPRESSED) || !(e & QCOW2_L2_OFFSET_MASK))
				continue;
			r = qcow2_refcount_get(q, (e & QCOW2_L2_OFFSET_MASK) >> q->cluster_bits, &rc);
			if (r < 0)
				return r;
			want = rc == 1 ? QCOW2_OFLAG_COPIED : 0;
			if ((e & QCOW2_OFLAG_COPIED) == want)
				continue;
			r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
			if (r < 0)
				return r;
			p = (uint64_t *)(void *)t + j;
			*p = htobe64((e & ~QCOW2_OFLAG_COPIED) | want);
			qcow2_cache_mark_dirty(&q->l2_cache, l2off);
		}
	}
	return 0;
}

/*
 * After a failure part way through (a hostile or damaged table): refcounts may be higher
 * than the references (leaks, harmless); make the COPIED flags agree with them so that the
 * image closes consistent (best effort: the error being reported is the first one).
 */
static void fail_cleanup(struct qcow2 *q)
{
	(void)set_copied(q);
}

static uint64_t clusters_of(const struct qcow2 *q, uint64_t bytes)
{
	return (bytes + q->cluster_size - 1) >> q->cluster_bits;
}

static int free_clusters(struct qcow2 *q, uint64_t off, uint64_t bytes)
{
	for (uint64_t i = 0; i < clusters_of(q, bytes); i++) {
		int r = qcow2_refcount_add(q, (off >> q->cluster_bits) + i, -1);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Length of the raw snapshot table entry at p (of at most left bytes), 0 if malformed. */
static size_t entry_len(const uint8_t *p, size_t left)
{
	struct qcow2_snapshot_header h;
	size_t n;

	if (left < sizeof(h))
		return 0;
	memcpy(&h, p, sizeof(h));
	n = sizeof(h) + be32toh(h.extra_data_size) + be16toh(h.id_str_size) + be16toh(h.name_size);
	n = (n + 7) & ~(size_t)7;
	return n <= left ? n : 0;
}

/* Read the snapshot table as it is on disk (entries kept byte for byte). */
static int read_table(struct qcow2 *q, uint8_t **ret)
{
	*ret = xmalloc(q->snapshots_size ? q->snapshots_size : 1);
	return q->snapshots_size ? qcow2_pread(q, *ret, q->snapshots_size, q->snapshots_offset)
				 : 0;
}

/*
 * Write tbl (n entries, len bytes) as the new snapshot table: new clusters, synced, then the
 * header's count and offset in one write, then the old table's clusters freed.
 */
static int replace_table(struct qcow2 *q, const uint8_t *tbl, size_t len, uint32_t n)
{
	uint64_t off = 0, old = q->snapshots_offset, old_len = q->snapshots_size, v64;
	uint32_t v32 = htobe32(n);
	int r;

	if (len) {
		r = qcow2_alloc_clusters(q, clusters_of(q, len), &off);
		if (r == 0)
			r = qcow2_meta_flush(q);
		if (r == 0)
			r = qcow2_pwrite_meta(q, tbl, len, off);
		if (r == 0)
			r = qcow2_sync(q);
		if (r < 0)
			return r;
	}
	v64 = htobe64(off);
	memcpy(q->header_raw + 60, &v32, 4);
	memcpy(q->header_raw + 64, &v64, 8);
	r = qcow2_header_write(q);
	if (r == 0)
		r = qcow2_sync(q);
	if (r < 0)
		return r;
	/* q->nb_snapshots keeps counting q->snapshots (freed at close): callers close next */
	q->snapshots_offset = off;
	q->snapshots_size = len;
	if (old_len && (r = free_clusters(q, old, old_len)) < 0)
		return r;
	return qcow2_meta_flush(q);
}

static size_t put_entry(uint8_t *p, const struct qcow2 *q, uint64_t l1off, const char *id,
			const char *name)
{
	struct qcow2_snapshot_header h = { 0 };
	uint64_t extra[3] = { 0, htobe64(disk_size(&q->d)), 0 }; /* icount 0, as qemu-img */
	struct timespec ts;
	size_t n = sizeof(h);

	clock_gettime(CLOCK_REALTIME, &ts);
	h.l1_table_offset = htobe64(l1off);
	h.l1_size = htobe32(q->l1_size);
	h.id_str_size = htobe16((uint16_t)strlen(id));
	h.name_size = htobe16((uint16_t)strlen(name));
	h.date_sec = htobe32((uint32_t)ts.tv_sec);
	h.date_nsec = htobe32((uint32_t)ts.tv_nsec);
	h.extra_data_size = htobe32(sizeof(extra));
	memcpy(p, &h, sizeof(h));
	memcpy(p + n, extra, sizeof(extra));
	n += sizeof(extra);
	memcpy(p + n, id, strlen(id));
	n += strlen(id);
	memcpy(p + n, name, strlen(name));
	n += strlen(name);
	while (n % 8)
		p[n++] = 0;
	return n;
}

int qcow2_snapshot_create(struct qcow2 *q, const char *name, struct hull_err *err)
{
	cleanup_free uint8_t *tbl = NULL;
	cleanup_free uint64_t *l1 = NULL;
	unsigned long max_id = 0;
	uint64_t l1off;
	char id[24];
	size_t len;
	int r;

	if (strlen(name) > 65535 || q->l1_size == 0 || q->nb_snapshots >= QCOW2_MAX_SNAPSHOTS)
		return hull_err_setx(err, EINVAL, "%s: cannot create snapshot '%s'",
				     disk_path(&q->d), name);
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (strtoul(q->snapshots[i].id, NULL, 10) > max_id)
			max_id = strtoul(q->snapshots[i].id, NULL, 10);
	snprintf(id, sizeof(id), "%lu", max_id + 1);
	r = qcow2_meta_flush(q);
	/* 1. the L1 copy, 2. the refcounts of what it reaches (durable before the table) */
	if (r == 0)
		r = qcow2_alloc_clusters(q, clusters_of(q, (uint64_t)q->l1_size * 8), &l1off);
	if (r < 0)
		goto fail;
	l1 = xcalloc(q->l1_size, 8);
	for (uint32_t i = 0; i < q->l1_size; i++)
		l1[i] = htobe64(q->l1[i] & ~QCOW2_OFLAG_COPIED);
	r = qcow2_pwrite_meta(q, l1, (size_t)q->l1_size * 8, l1off);
	if (r == 0)
		r = l1_refs(q, q->l1, q->l1_size, 1);
	if (r == 0)
		r = set_copied(q);
	if (r == 0)
		r = qcow2_meta_flush(q);
	/* 3. the table with the new entry, 4. the header */
	if (r == 0)
		r = read_table(q, &tbl);
	if (r < 0)
		goto fail;
	tbl = xrealloc(tbl, q->snapshots_size + 40 + 24 + strlen(id) + strlen(name) + 8);
	len = q->snapshots_size + put_entry(tbl + q->snapshots_size, q, l1off, id, name);
	r = replace_table(q, tbl, len, q->nb_snapshots + 1);
	if (r == 0)
		return 0;
fail:
	fail_cleanup(q);
	return hull_err_set(err, -r, "Could not create snapshot '%s'", name);
}

/* Index of the snapshot whose ID (by_id) or name is s, or -1. */
static int64_t snap_find(const struct qcow2 *q, const char *s, bool by_id)
{
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (strcmp(by_id ? q->snapshots[i].id : q->snapshots[i].name, s) == 0)
			return i;
	return -1;
}

/* The snapshot's L1 table (host-endian), zero-extended to n entries. */
static int read_l1(struct qcow2 *q, const struct qcow2_snapshot *sn, uint32_t n, uint64_t **ret)
{
	uint64_t *l1 = xcalloc(n ? n : 1, 8);
	int r = qcow2_pread(q, l1, (size_t)sn->l1_size * 8, sn->l1_offset);

	for (uint32_t i = 0; i < sn->l1_size; i++)
		l1[i] = be64toh(l1[i]);
	*ret = l1;
	return r;
}

int qcow2_snapshot_delete(struct qcow2 *q, const char *name, struct hull_err *err)
{
	cleanup_free uint8_t *tbl = NULL;
	cleanup_free uint64_t *l1 = NULL;
	int64_t idx = snap_find(q, name, false);
	size_t pos = 0, len;
	struct qcow2_snapshot sn;
	int r;

	if (idx < 0)
		return hull_err_setx(err, ENOENT, "Could not delete snapshot '%s': snapshot not "
				     "found", name);
	sn = q->snapshots[idx];
	r = qcow2_meta_flush(q);
	if (r == 0)
		r = read_l1(q, &sn, sn.l1_size, &l1);
	if (r == 0)
		r = read_table(q, &tbl);
	if (r < 0)
		goto fail;
	for (int64_t i = 0; i < idx; i++) {
		len = entry_len(tbl + pos, q->snapshots_size - pos);
		if (!len) {
			r = -EIO;
			goto fail;
		}
		pos += len;
	}
	len = entry_len(tbl + pos, q->snapshots_size - pos);
	if (!len) {
		r = -EIO;
		goto fail;
	}
	memmove(tbl + pos, tbl + pos + len, q->snapshots_size - pos - len);
	/* the table without it first; then its clusters' refcounts go down */
	r = replace_table(q, tbl, q->snapshots_size - len, q->nb_snapshots - 1);
	if (r == 0)
		r = l1_refs(q, l1, sn.l1_size, -1);
	if (r == 0)
		r = free_clusters(q, sn.l1_offset, (uint64_t)sn.l1_size * 8);
	if (r == 0)
		r = set_copied(q);
	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r == 0)
		return 0;
fail:
	fail_cleanup(q);
	return hull_err_set(err, -r, "Could not delete snapshot '%s'", name);
}

static int set_size(struct qcow2 *q, uint64_t size)
{
	uint64_t v = htobe64(size);

	if (size == disk_size(&q->d))
		return 0;
	q->d.size = size;
	memcpy(q->header_raw + 24, &v, 8);
	return qcow2_header_write(q);
}

int qcow2_snapshot_apply(struct qcow2 *q, const char *name, struct hull_err *err)
{
	cleanup_free uint64_t *l1 = NULL;
	cleanup_free uint64_t *old = NULL;
	int64_t idx = snap_find(q, name, true);
	struct qcow2_snapshot *sn;
	int r;

	if (idx < 0)
		idx = snap_find(q, name, false);
	if (idx < 0)
		return hull_err_setx(err, ENOENT, "Could not apply snapshot '%s': snapshot not "
				     "found", name);
	sn = &q->snapshots[idx];
	if (sn->l1_size > q->l1_alloc_entries || sn->l1_size > q->l1_size)
		return hull_err_setx(err, ENOTSUP, "Could not apply snapshot '%s': its L1 table is "
				     "larger than the image's", name);
	r = qcow2_meta_flush(q);
	if (r == 0)
		r = read_l1(q, sn, q->l1_size, &l1);
	/* the snapshot's clusters gain the active table's reference first (synced) */
	if (r == 0)
		r = l1_refs(q, l1, sn->l1_size, 1);
	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r < 0)
		goto fail;
	old = xmalloc((size_t)q->l1_size * 8);
	memcpy(old, q->l1, (size_t)q->l1_size * 8);
	for (uint32_t i = 0; i < q->l1_size; i++)
		q->l1[i] = l1[i] & ~QCOW2_OFLAG_COPIED;
	q->l1_dirty = true;
	r = set_copied(q);
	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r == 0)
		r = set_size(q, sn->disk_size);
	/* the old active tree loses its reference once the new L1 is durable */
	if (r == 0)
		r = l1_refs(q, old, q->l1_size, -1);
	if (r == 0)
		r = set_copied(q);
	if (r == 0)
		r = qcow2_meta_flush(q);
	if (r == 0)
		return 0;
fail:
	fail_cleanup(q);
	return hull_err_set(err, -r, "Could not apply snapshot '%s'", name);
}

static int open_rw(const char *path, enum disk_format fmt, unsigned flags, struct disk **d,
		   struct hull_err *err)
{
	int r = disk_open(path, fmt, flags | DISK_OPEN_NO_BACKING, d, err);

	if (r == 0 && disk_get_format(*d) != DISK_FORMAT_QCOW2)
		return hull_err_setx(err, ENOTSUP, "%s: Operation not supported: format %s has no "
				     "internal snapshots", path, disk_format_name(disk_get_format(*d)));
	return r;
}

int img_snapshot(const char *path, enum disk_format fmt, char action, const char *name,
		 struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	int r = open_rw(path, fmt, 0, &d, err);

	if (r < 0)
		return r;
	if (action == 'c')
		r = qcow2_snapshot_create(to_qcow2(d), name, err);
	else if (action == 'd')
		r = qcow2_snapshot_delete(to_qcow2(d), name, err);
	else
		r = qcow2_snapshot_apply(to_qcow2(d), name, err);
	if (r == 0 && (r = disk_flush(d)) < 0)
		hull_err_set(err, -r, "%s: flush", path);
	return r;
}

int img_snapshot_list(const char *path, enum disk_format fmt, json_t **ret,
		      struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	struct qcow2 *q;
	int r = disk_open(path, fmt, img_ro_flags() | DISK_OPEN_NO_BACKING, &d, err);

	if (r < 0)
		return r;
	*ret = json_array();
	if (disk_get_format(d) != DISK_FORMAT_QCOW2)
		return 0;
	q = to_qcow2(d);
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		const struct qcow2_snapshot *s = &q->snapshots[i];

		json_array_append_new(*ret, json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "id", s->id, "name", s->name,
			"vm-state-size", (json_int_t)s->vm_state_size, "date-sec",
			(json_int_t)s->date_sec, "date-nsec", (json_int_t)s->date_nsec,
			"vm-clock-sec", (json_int_t)(s->vm_clock_nsec / 1000000000),
			"vm-clock-nsec", (json_int_t)(s->vm_clock_nsec % 1000000000)));
	}
	return 0;
}
