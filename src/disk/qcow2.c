/*
 * QCOW2 back end: opening an image (header, extensions, tables, backing chain), with every
 * offset and size checked against the file before it is used (docs/qcow2.md "Hostile
 * images"), and rewriting the header. The data path is in qcow2-io.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/path.h"
#include "disk/qcow2.h"

extern const struct disk_ops qcow2_ops;

static void qcow2_free_state(struct qcow2 *q)
{
	if (q->fd >= 0)
		(void)close(q->fd);
	disk_close(q->backing);
	free(q->l1);
	free(q->reftable);
	free(q->header_raw);
	for (uint32_t i = 0; q->snapshots && i < q->nb_snapshots; i++) {
		free(q->snapshots[i].id);
		free(q->snapshots[i].name);
	}
	free(q->snapshots);
	free(q->backing_name);
	free(q->backing_format);
	free(q->backing_path);
	free(q->features);
	free(q->unknown_ext);
	free(q->frees);
	free(q->repair_refs);
	qcow2_cache_fini(&q->l2_cache);
	qcow2_cache_fini(&q->rb_cache);
	free(q->cbuf);
	free(q->zbuf);
	free(q->dcache);
	if (q->zstd_dctx)
		ZSTD_freeDCtx(q->zstd_dctx);
	if (q->d.path)
		disk_fini_common(&q->d);
	free(q);
}

void qcow2_release(struct disk *d);
void qcow2_release(struct disk *d)
{
	qcow2_free_state(to_qcow2(d));
}

static inline void qcow2_state_cleanup(struct qcow2 **q)
{
	if (*q)
		qcow2_free_state(*q);
}

/* The name of an incompatible feature bit, from the image's feature table if it has one. */
static const char *feature_name(const struct qcow2 *q, uint8_t type, unsigned bit)
{
	static const char *const known[] = { "dirty bit", "corrupt bit", "external data file",
					     "compression type", "extended L2 entries" };

	for (size_t i = 0; i < q->nb_features; i++)
		if (q->features[i].type == type && q->features[i].bit == bit)
			return q->features[i].name;
	if (type == 0 && bit < ARRAY_SIZE(known))
		return known[bit];
	return NULL;
}

static char *strndup_clean(const uint8_t *p, size_t n)
{
	return xstrndup((const char *)p, n);
}

static int parse_extensions(struct qcow2 *q, const uint8_t *cl, uint64_t start, uint64_t end,
			    struct hull_err *err)
{
	const char *path = q->d.path;
	uint64_t pos = start;

	while (pos + sizeof(struct qcow2_ext_header) <= end) {
		struct qcow2_ext_header eh;
		uint64_t len, padded;
		const uint8_t *data;

		memcpy(&eh, cl + pos, sizeof(eh));
		eh.type = be32toh(eh.type);
		len = be32toh(eh.len);
		pos += sizeof(eh);
		if (eh.type == QCOW2_EXT_END)
			return 0;
		padded = (len + 7) & ~7ull;
		if (len > end - pos)
			return hull_err_setx(err, EINVAL,
					     "%s: header extension 0x%08x: length %llu runs past "
					     "the header area", path, eh.type,
					     (unsigned long long)len);
		data = cl + pos;
		switch (eh.type) {
		case QCOW2_EXT_BACKING_FORMAT:
			if (len > 1023 || len == 0)
				return hull_err_setx(err, EINVAL,
						     "%s: backing format extension: bad length %llu",
						     path, (unsigned long long)len);
			free(q->backing_format);
			q->backing_format = strndup_clean(data, (size_t)len);
			break;
		case QCOW2_EXT_FEATURE_TABLE: {
			size_t n = (size_t)len / sizeof(struct qcow2_feature_name);

			free(q->features);
			q->features = xcalloc(n ? n : 1, sizeof(*q->features));
			q->nb_features = n;
			for (size_t i = 0; i < n; i++) {
				const struct qcow2_feature_name *f =
					(const void *)(data + i * sizeof(*f));

				q->features[i].type = f->type;
				q->features[i].bit = f->bit;
				memcpy(q->features[i].name, f->name, sizeof(f->name));
				q->features[i].name[sizeof(f->name)] = '\0';
			}
			break;
		}
		default:
			/* unknown (and bitmaps, which hull does not maintain): kept verbatim */
			if (eh.type == QCOW2_EXT_BITMAPS)
				q->has_bitmaps_ext = true;
			q->unknown_ext = xrealloc(q->unknown_ext,
						  q->unknown_ext_len + 8 + (size_t)padded);
			memcpy(q->unknown_ext + q->unknown_ext_len, cl + pos - 8, 8);
			memset(q->unknown_ext + q->unknown_ext_len + 8, 0, (size_t)padded);
			memcpy(q->unknown_ext + q->unknown_ext_len + 8, data, (size_t)len);
			q->unknown_ext_len += 8 + (size_t)padded;
			break;
		}
		pos += padded > end - pos ? end - pos : padded;
	}
	return 0;
}

static int check_features(struct qcow2 *q, bool writable, struct hull_err *err)
{
	uint64_t unknown = q->incompat & ~QCOW2_INCOMPAT_KNOWN;

	if (q->incompat & (QCOW2_INCOMPAT_DATA_FILE | QCOW2_INCOMPAT_EXTL2))
		unknown |= q->incompat & (QCOW2_INCOMPAT_DATA_FILE | QCOW2_INCOMPAT_EXTL2);
	if (unknown) {
		unsigned bit = (unsigned)__builtin_ctzll(unknown);
		const char *name = feature_name(q, 0, bit);

		return hull_err_setx(err, ENOTSUP,
				     "%s: unsupported incompatible feature bit %u (%s)", q->d.path,
				     bit, name ? name : "unknown");
	}
	if (q->incompat & QCOW2_INCOMPAT_COMPRESSION) {
		if (q->header_length <= 104 || q->compression_type == QCOW2_COMPRESSION_ZLIB)
			return hull_err_setx(err, EINVAL,
					     "%s: compression type bit set but compression_type "
					     "is zlib or absent", q->d.path);
	} else if (q->compression_type != QCOW2_COMPRESSION_ZLIB) {
		return hull_err_setx(err, EINVAL,
				     "%s: compression_type %u without the compression type bit",
				     q->d.path, q->compression_type);
	}
	if (q->compression_type > QCOW2_COMPRESSION_ZSTD)
		return hull_err_setx(err, ENOTSUP, "%s: unknown compression_type %u", q->d.path,
				     q->compression_type);
	if (writable && (q->incompat & QCOW2_INCOMPAT_CORRUPT) &&
	    !(q->open_flags & QCOW2_OPEN_REPAIR))
		return hull_err_setx(err, EROFS,
				     "%s: image is marked corrupt: open it read-only, or repair "
				     "it with 'hull img check -r all'", q->d.path);
	return 0;
}

/* Fields of the fixed header, with the checks that need nothing else. */
static int parse_header(struct qcow2 *q, const struct qcow2_header *h, uint64_t fsize,
			struct hull_err *err)
{
	const char *path = q->d.path;

	if (be32toh(h->magic) != QCOW2_MAGIC)
		return hull_err_setx(err, EINVAL, "%s: not a qcow2 image (bad magic)", path);
	q->version = be32toh(h->version);
	if (q->version != 2 && q->version != 3)
		return hull_err_setx(err, ENOTSUP, "%s: unsupported qcow2 version %u", path,
				     q->version);
	q->cluster_bits = be32toh(h->cluster_bits);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return hull_err_setx(err, EINVAL,
				     "%s: cluster_bits %u out of range (9..21)", path,
				     q->cluster_bits);
	q->cluster_size = 1ull << q->cluster_bits;
	q->l2_bits = q->cluster_bits - 3;
	q->l2_entries = 1ull << q->l2_bits;
	if (be32toh(h->crypt_method) != 0)
		return hull_err_setx(err, ENOTSUP, "%s: encrypted images are not supported", path);
	if (q->version == 2) {
		q->header_length = QCOW2_V2_HEADER_LEN;
		q->refcount_order = 4;
	} else {
		q->incompat = be64toh(h->incompatible_features);
		q->compat = be64toh(h->compatible_features);
		q->autoclear = be64toh(h->autoclear_features);
		q->refcount_order = be32toh(h->refcount_order);
		q->header_length = be32toh(h->header_length);
		if (q->header_length < QCOW2_V3_HEADER_MIN || q->header_length % 8 ||
		    q->header_length > q->cluster_size)
			return hull_err_setx(err, EINVAL, "%s: header_length %u is invalid", path,
					     q->header_length);
		if (q->refcount_order > 6)
			return hull_err_setx(err, EINVAL, "%s: refcount_order %u exceeds 6", path,
					     q->refcount_order);
		if (q->header_length > 104)
			q->compression_type = h->compression_type;
	}
	q->refcount_bits = 1u << q->refcount_order;
	q->refcount_max = q->refcount_bits == 64 ? UINT64_MAX : (1ull << q->refcount_bits) - 1;
	q->refblock_entries = q->cluster_size * 8 / q->refcount_bits;
	q->d.size = be64toh(h->size);
	q->l1_size = be32toh(h->l1_size);
	q->l1_offset = be64toh(h->l1_table_offset);
	q->reftable_offset = be64toh(h->refcount_table_offset);
	q->reftable_clusters = be32toh(h->refcount_table_clusters);
	q->nb_snapshots = be32toh(h->nb_snapshots);
	q->snapshots_offset = be64toh(h->snapshots_offset);
	(void)fsize;
	return 0;
}

static int check_layout(struct qcow2 *q, uint64_t fsize, struct hull_err *err)
{
	const char *path = q->d.path;
	uint64_t cs = q->cluster_size, need_l1, l1_bytes = (uint64_t)q->l1_size * 8;
	uint64_t rt_bytes = (uint64_t)q->reftable_clusters * cs;

	/* the virtual size must be mappable by the L1 table, and the table sane */
	if (q->d.size > (1ull << 62))
		return hull_err_setx(err, EFBIG, "%s: virtual size %llu is absurd", path,
				     (unsigned long long)q->d.size);
	need_l1 = (q->d.size + (cs << q->l2_bits) - 1) / (cs << q->l2_bits);
	if (l1_bytes > QCOW2_MAX_L1_BYTES)
		return hull_err_setx(err, EFBIG, "%s: l1_size %u is too large", path, q->l1_size);
	if (q->l1_size < need_l1)
		return hull_err_setx(err, EINVAL,
				     "%s: l1_size %u is too small for the virtual size %llu",
				     path, q->l1_size, (unsigned long long)q->d.size);
	if (q->l1_size && (q->l1_offset % cs || q->l1_offset == 0 ||
			   q->l1_offset > fsize || l1_bytes > fsize - q->l1_offset))
		return hull_err_setx(err, EINVAL,
				     "%s: l1_table_offset 0x%llx (%u entries) is unaligned or "
				     "past the end of the file", path,
				     (unsigned long long)q->l1_offset, q->l1_size);
	if (q->reftable_clusters == 0 || rt_bytes > QCOW2_MAX_REFTABLE_BYTES)
		return hull_err_setx(err, EINVAL, "%s: refcount_table_clusters %u is invalid",
				     path, q->reftable_clusters);
	if (q->reftable_offset % cs || q->reftable_offset == 0 ||
	    q->reftable_offset > fsize || rt_bytes > fsize - q->reftable_offset)
		return hull_err_setx(err, EINVAL,
				     "%s: refcount_table_offset 0x%llx is unaligned or past the "
				     "end of the file", path,
				     (unsigned long long)q->reftable_offset);
	if (qcow2_overlaps(q->l1_offset, l1_bytes, q->reftable_offset, rt_bytes) ||
	    qcow2_overlaps(q->l1_offset, l1_bytes, 0, cs) || qcow2_overlaps(q->reftable_offset, rt_bytes, 0, cs))
		return hull_err_setx(err, EINVAL,
				     "%s: the L1 table, refcount table and header overlap", path);
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		return hull_err_setx(err, EINVAL, "%s: nb_snapshots %u is too large", path,
				     q->nb_snapshots);
	if (q->nb_snapshots && (q->snapshots_offset % cs || q->snapshots_offset == 0 ||
				q->snapshots_offset >= fsize))
		return hull_err_setx(err, EINVAL,
				     "%s: snapshots_offset 0x%llx is unaligned or past the end of "
				     "the file", path, (unsigned long long)q->snapshots_offset);
	return 0;
}

static int read_table(struct qcow2 *q, uint64_t off, uint64_t n, uint64_t alloc_n,
		      uint64_t **ret)
{
	uint64_t *t = xcalloc(alloc_n ? alloc_n : 1, sizeof(*t));
	int r = n ? qcow2_pread(q, t, n * 8, off) : 0;

	if (r < 0) {
		free(t);
		return r;
	}
	for (uint64_t i = 0; i < n; i++)
		t[i] = be64toh(t[i]);
	*ret = t;
	return 0;
}

static int load_tables(struct qcow2 *q, uint64_t fsize, struct hull_err *err)
{
	uint64_t cs = q->cluster_size;
	int r;

	q->l1_alloc_entries = ((uint64_t)q->l1_size * 8 + cs - 1) / cs * cs / 8;
	r = read_table(q, q->l1_offset, q->l1_size, q->l1_alloc_entries, &q->l1);
	if (r < 0)
		return hull_err_set(err, -r, "%s: read L1 table", q->d.path);
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & QCOW2_L1_OFFSET_MASK;

		if ((q->l1[i] & QCOW2_L1_RESERVED_MASK) || off % cs || off >= fsize ||
		    (q->l1[i] && off == 0) ||
		    qcow2_overlaps(off, off ? cs : 0, q->l1_offset, (uint64_t)q->l1_size * 8) ||
		    qcow2_overlaps(off, off ? cs : 0, q->reftable_offset,
				   (uint64_t)q->reftable_clusters * cs))
			return hull_err_setx(err, EINVAL,
					     "%s: L1 entry %u (0x%llx): L2 table offset is "
					     "invalid, on other metadata or past the end of the "
					     "file", q->d.path, i,
					     (unsigned long long)q->l1[i]);
	}
	q->reftable_entries = (uint64_t)q->reftable_clusters * cs / 8;
	r = read_table(q, q->reftable_offset, q->reftable_entries, q->reftable_entries,
		       &q->reftable);
	if (r < 0)
		return hull_err_set(err, -r, "%s: read refcount table", q->d.path);
	for (uint64_t i = 0; i < q->reftable_entries; i++) {
		uint64_t off = q->reftable[i] & QCOW2_REFT_OFFSET_MASK;

		/*
		 * `hull img check` opens images whose refcount table is damaged: it reports
		 * it or rebuilds it (qcow2-check.c); every other opener refuses it here.
		 */
		if (q->open_flags & QCOW2_OPEN_CHECK) {
			if (q->reftable[i])
				q->reftable_used = i + 1;
			continue;
		}
		if ((q->reftable[i] & QCOW2_REFT_RESERVED_MASK) || off >= fsize)
			return hull_err_setx(err, EINVAL,
					     "%s: refcount table entry %llu (0x%llx) is invalid or "
					     "past the end of the file", q->d.path,
					     (unsigned long long)i,
					     (unsigned long long)q->reftable[i]);
		if (off == 0)
			continue;
		q->reftable_used = i + 1;
		if (off % cs ||
		    qcow2_overlaps(off, cs, q->reftable_offset, (uint64_t)q->reftable_clusters * cs) ||
		    qcow2_overlaps(off, cs, q->l1_offset, (uint64_t)q->l1_size * 8) ||
		    qcow2_overlaps(off, cs, 0, cs))
			return hull_err_setx(err, EINVAL,
					     "%s: refcount block %llu at 0x%llx is unaligned or "
					     "overlaps other metadata", q->d.path, (unsigned long long)i,
					     (unsigned long long)off);
	}
	return 0;
}

static int load_snapshots(struct qcow2 *q, uint64_t fsize, struct hull_err *err)
{
	uint64_t pos = q->snapshots_offset;

	if (q->nb_snapshots == 0)
		return 0;
	q->snapshots = xcalloc(q->nb_snapshots, sizeof(*q->snapshots));
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		struct qcow2_snapshot *s = &q->snapshots[i];
		struct qcow2_snapshot_header h;
		uint64_t extra, idlen, namelen;
		uint8_t ext[16] = { 0 };
		char name[65536];
		int r;

		if (pos + sizeof(h) > fsize || pos - q->snapshots_offset >
						       QCOW2_MAX_SNAPSHOT_TABLE_BYTES)
			return hull_err_setx(err, EINVAL, "%s: snapshot %u runs past the end of "
					     "the file", q->d.path, i);
		r = qcow2_pread(q, &h, sizeof(h), pos);
		if (r < 0)
			return hull_err_set(err, -r, "%s: read snapshot table", q->d.path);
		pos += sizeof(h);
		s->l1_offset = be64toh(h.l1_table_offset);
		s->l1_size = be32toh(h.l1_size);
		s->date_sec = be32toh(h.date_sec);
		s->date_nsec = be32toh(h.date_nsec);
		s->vm_clock_nsec = be64toh(h.vm_clock_nsec);
		s->vm_state_size = be32toh(h.vm_state_size);
		s->disk_size = q->d.size;
		extra = be32toh(h.extra_data_size);
		idlen = be16toh(h.id_str_size);
		namelen = be16toh(h.name_size);
		if (extra > 1024 || pos + extra + idlen + namelen > fsize)
			return hull_err_setx(err, EINVAL, "%s: snapshot %u: entry runs past the "
					     "end of the file", q->d.path, i);
		if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES || s->l1_offset % q->cluster_size ||
		    s->l1_offset > fsize || (uint64_t)s->l1_size * 8 > fsize - s->l1_offset)
			return hull_err_setx(err, EINVAL, "%s: snapshot %u: L1 table is invalid "
					     "or past the end of the file", q->d.path, i);
		r = qcow2_pread(q, ext, extra < sizeof(ext) ? (size_t)extra : sizeof(ext), pos);
		if (r < 0)
			return hull_err_set(err, -r, "%s: read snapshot table", q->d.path);
		if (extra >= 8)
			s->vm_state_size = be64toh(*(uint64_t *)(void *)ext);
		if (extra >= 16)
			s->disk_size = be64toh(*(uint64_t *)(void *)(ext + 8));
		pos += extra;
		r = qcow2_pread(q, name, (size_t)idlen, pos);
		if (r < 0)
			return hull_err_set(err, -r, "%s: read snapshot table", q->d.path);
		s->id = xstrndup(name, (size_t)idlen);
		pos += idlen;
		r = qcow2_pread(q, name, (size_t)namelen, pos);
		if (r < 0)
			return hull_err_set(err, -r, "%s: read snapshot table", q->d.path);
		s->name = xstrndup(name, (size_t)namelen);
		pos += namelen;
		pos = (pos + 7) & ~7ull;
	}
	q->snapshots_size = pos - q->snapshots_offset;
	return 0;
}

static int open_backing(struct qcow2 *q, const struct disk_chain *chain, struct stat *st,
			struct hull_err *err)
{
	struct disk_chain self = { .dev = st->st_dev, .ino = st->st_ino,
				   .depth = chain ? chain->depth + 1 : 0, .next = chain };
	enum disk_format fmt = DISK_FORMAT_AUTO;
	struct stat bst;
	int r;

	if (path_is_absolute(q->backing_name)) {
		q->backing_path = xstrdup(q->backing_name);
	} else {
		cleanup_free char *copy = xstrdup(q->d.path);
		const char *dir = dirname(copy);

		q->backing_path = strcmp(dir, ".") == 0 ? xstrdup(q->backing_name)
							: path_join(dir, q->backing_name);
	}
	if (q->backing_format && disk_format_parse(q->backing_format, &fmt) < 0)
		return hull_err_setx(err, ENOTSUP, "%s: backing format '%s' is not supported",
				     q->d.path, q->backing_format);
	if (self.depth + 1 >= DISK_MAX_BACKING_DEPTH)
		return hull_err_setx(err, ELOOP, "%s: backing chain deeper than %d", q->d.path,
				     DISK_MAX_BACKING_DEPTH);
	if (stat(q->backing_path, &bst) < 0)
		return hull_err_set(err, errno, "%s: backing file %s", q->d.path,
				    q->backing_path);
	for (const struct disk_chain *c = &self; c; c = c->next)
		if (c->dev == bst.st_dev && c->ino == bst.st_ino)
			return hull_err_setx(err, ELOOP, "%s: backing file %s loops back into "
					     "the chain", q->d.path, q->backing_path);
	r = disk_open_chain(q->backing_path, fmt,
			    DISK_OPEN_RDONLY | DISK_OPEN_NO_REPAIR |
				    (q->open_flags & DISK_OPEN_FORCE_SHARE),
			    &self, &q->backing, err);
	/* only the top of the chain prefixes: deeper errors already name their own file */
	if (r < 0)
		return chain ? r : hull_err_prefix(err, "%s: backing file", q->d.path);
	return 0;
}

static int read_backing_name(struct qcow2 *q, const struct qcow2_header *h, const uint8_t *cl,
			     struct hull_err *err)
{
	uint64_t off = be64toh(h->backing_file_offset);
	uint32_t len = be32toh(h->backing_file_size);

	if (off == 0)
		return 0;
	if (len == 0 || len > QCOW2_BACKING_NAME_MAX || off > q->cluster_size ||
	    len > q->cluster_size - off || off < q->header_length)
		return hull_err_setx(err, EINVAL,
				     "%s: backing file name (offset %llu, %u bytes) is invalid",
				     q->d.path, (unsigned long long)off, len);
	q->backing_name = xstrndup((const char *)cl + off, len);
	if (strlen(q->backing_name) != len)
		return hull_err_setx(err, EINVAL, "%s: backing file name contains NUL", q->d.path);
	return 0;
}

/* Write back the header fields that change while open (features). */
static int write_features(struct qcow2 *q)
{
	uint64_t v[3] = { htobe64(q->incompat), htobe64(q->compat), htobe64(q->autoclear) };

	return qcow2_pwrite_meta(q, v, sizeof(v), 72);
}

static int prepare_write_open(struct qcow2 *q, struct hull_err *err)
{
	struct qcow2_check_result res;
	int r;

	if (q->version >= 3 && q->autoclear) {
		/* autoclear bits name data hull does not keep up to date (qcow2.txt) */
		q->autoclear = 0;
		r = write_features(q);
		if (r == 0)
			r = qcow2_sync(q);
		if (r < 0)
			return hull_err_set(err, -r, "%s: clear autoclear features", q->d.path);
	}
	if ((q->incompat & QCOW2_INCOMPAT_DIRTY) && !(q->open_flags & DISK_OPEN_NO_REPAIR)) {
		log_debug("%s: dirty bit set: repairing refcounts", q->d.path);
		r = qcow2_check(q, QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res);
		if (r < 0)
			return hull_err_set(err, -r, "%s: repair refcounts of a dirty image",
					    q->d.path);
		q->incompat &= ~QCOW2_INCOMPAT_DIRTY;
		r = write_features(q);
		if (r == 0)
			r = qcow2_sync(q);
		if (r < 0)
			return hull_err_set(err, -r, "%s: clear the dirty bit", q->d.path);
	}
	return 0;
}

int qcow2_open_fd(const char *path, int fd, unsigned flags, const struct disk_chain *chain,
		  struct disk **ret, struct hull_err *err)
{
	__attribute__((cleanup(qcow2_state_cleanup))) struct qcow2 *q = NULL;
	cleanup_free uint8_t *cl = NULL;
	struct qcow2_header h = { 0 };
	bool ro = flags & DISK_OPEN_RDONLY;
	struct stat st;
	unsigned ncache;
	uint64_t ext_end;
	int r;

	q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	q->open_flags = flags;
	disk_init_common(&q->d, &qcow2_ops, DISK_FORMAT_QCOW2, path, ro);
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "stat %s", path);
	q->file_size = (uint64_t)st.st_size;
	q->phys_size = q->file_size;
	r = qcow2_pread(q, &h, sizeof(h), 0);
	if (r < 0)
		return hull_err_set(err, -r, "%s: read header", path);
	if (q->file_size < QCOW2_V2_HEADER_LEN)
		return hull_err_setx(err, EINVAL, "%s: file too short for a qcow2 header", path);
	r = parse_header(q, &h, q->file_size, err);
	if (r < 0)
		return r;
	if (q->version == 2)
		memset((uint8_t *)&h + QCOW2_V2_HEADER_LEN, 0, sizeof(h) - QCOW2_V2_HEADER_LEN);
	/* the header cluster: header, extensions and backing name */
	cl = xcalloc(1, q->cluster_size);
	r = qcow2_pread(q, cl, q->cluster_size, 0);
	if (r < 0)
		return hull_err_set(err, -r, "%s: read header", path);
	q->header_raw = xmalloc(q->header_length);
	memcpy(q->header_raw, cl, q->header_length);
	ext_end = be64toh(h.backing_file_offset) && be64toh(h.backing_file_offset) <= q->cluster_size
			  ? be64toh(h.backing_file_offset)
			  : q->cluster_size;
	if (ext_end > q->header_length) {
		r = parse_extensions(q, cl, q->header_length, ext_end, err);
		if (r < 0)
			return r;
	}
	r = check_features(q, !ro, err);
	if (r < 0)
		return r;
	r = check_layout(q, q->file_size, err);
	if (r < 0)
		return r;
	r = read_backing_name(q, &h, cl, err);
	if (r < 0)
		return r;
	r = load_tables(q, q->file_size, err);
	if (r < 0)
		return r;
	r = load_snapshots(q, q->file_size, err);
	if (r < 0)
		return r;

	/* about 4 MiB of L2 tables (16 GiB of guest space with 64 KiB clusters) */
	ncache = (unsigned)((4u << 20) / q->cluster_size);
	qcow2_cache_init(&q->l2_cache, ncache < 8 ? 8 : ncache > 512 ? 512 : ncache,
			 q->cluster_size);
	qcow2_cache_init(&q->rb_cache, 8, q->cluster_size);
	q->cbuf = xmalloc(q->cluster_size);
	q->zbuf = xmalloc(2 * q->cluster_size);
	q->dcache = xmalloc(q->cluster_size);
	q->free_hint = 1;

	if (q->backing_name && !(flags & DISK_OPEN_NO_BACKING)) {
		r = open_backing(q, chain, &st, err);
		if (r < 0)
			return r;
	}
	if (!ro) {
		r = prepare_write_open(q, err);
		if (r < 0)
			return r;
	}
	*ret = &steal_ptr(&q)->d;
	return 0;
}

void qcow2_compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *ret_off,
			    uint64_t *ret_len)
{
	unsigned x = 62 - (q->cluster_bits - 8);
	uint64_t off = entry & ((1ull << x) - 1);
	uint64_t nsec = (entry >> x) & ((1ull << (q->cluster_bits - 8)) - 1);

	*ret_off = off;
	*ret_len = (nsec + 1) * 512 - (off & 511);
}

int qcow2_bad(struct qcow2 *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(q->d.detail, sizeof(q->d.detail), fmt, ap);
	va_end(ap);
	return -EIO;
}

int qcow2_l2_entry(struct qcow2 *q, uint64_t ci, uint64_t *ret)
{
	uint64_t l1i = ci >> q->l2_bits, l2off;
	uint8_t *t;
	int r;

	*ret = 0;
	if (l1i >= q->l1_size)
		return 0;
	l2off = q->l1[l1i] & QCOW2_L1_OFFSET_MASK;
	if (l2off == 0)
		return 0;
	r = qcow2_cache_get(q, &q->l2_cache, l2off, false, &t);
	if (r < 0)
		return r;
	*ret = be64toh(((const uint64_t *)(const void *)t)[ci & (q->l2_entries - 1)]);
	return 0;
}

/* Build the header cluster from the in-memory state (qcow2.txt "Header extensions"). */
int qcow2_header_write(struct qcow2 *q)
{
	cleanup_free uint8_t *cl = xcalloc(1, q->cluster_size);
	struct qcow2_header *h = (struct qcow2_header *)(void *)cl;
	uint64_t pos = q->header_length;
	size_t blen = q->backing_name ? strlen(q->backing_name) : 0;
	int r;

	memcpy(cl, q->header_raw, q->header_length);
	h->version = htobe32(q->version);
	h->cluster_bits = htobe32(q->cluster_bits);
	h->size = htobe64(q->d.size);
	h->l1_size = htobe32(q->l1_size);
	h->l1_table_offset = htobe64(q->l1_offset);
	h->refcount_table_offset = htobe64(q->reftable_offset);
	h->refcount_table_clusters = htobe32(q->reftable_clusters);
	if (q->version >= 3) {
		h->incompatible_features = htobe64(q->incompat);
		h->compatible_features = htobe64(q->compat);
		h->autoclear_features = htobe64(q->autoclear);
	}
#define PUT_EXT(type, data, len)                                                      \
	do {                                                                          \
		struct qcow2_ext_header eh_ = { htobe32(type), htobe32((uint32_t)(len)) }; \
		if (pos + 8 + (((len) + 7) & ~7ull) + 8 + blen > q->cluster_size)     \
			return -ENOSPC;                                               \
		memcpy(cl + pos, &eh_, 8);                                            \
		memcpy(cl + pos + 8, data, len);                                      \
		pos += 8 + (((len) + 7) & ~7ull);                                     \
	} while (0)
	if (q->backing_format)
		PUT_EXT(QCOW2_EXT_BACKING_FORMAT, q->backing_format, strlen(q->backing_format));
	if (q->nb_features) {
		cleanup_free struct qcow2_feature_name *ft =
			xcalloc(q->nb_features, sizeof(*ft));

		for (size_t i = 0; i < q->nb_features; i++) {
			ft[i].type = q->features[i].type;
			ft[i].bit = q->features[i].bit;
			memcpy(ft[i].name, q->features[i].name, sizeof(ft[i].name));
		}
		PUT_EXT(QCOW2_EXT_FEATURE_TABLE, ft, q->nb_features * sizeof(*ft));
	}
#undef PUT_EXT
	if (pos + q->unknown_ext_len + 8 + blen > q->cluster_size)
		return -ENOSPC;
	if (q->unknown_ext_len)
		memcpy(cl + pos, q->unknown_ext, q->unknown_ext_len);
	pos += q->unknown_ext_len;
	pos += 8; /* end of extensions */
	if (blen) {
		memcpy(cl + pos, q->backing_name, blen);
		h->backing_file_offset = htobe64(pos);
		h->backing_file_size = htobe32((uint32_t)blen);
		pos += blen;
	} else {
		h->backing_file_offset = 0;
		h->backing_file_size = 0;
	}
	r = qcow2_pwrite_meta(q, cl, (size_t)pos, 0);
	if (r < 0)
		return r;
	memcpy(q->header_raw, cl, q->header_length);
	return 0;
}
