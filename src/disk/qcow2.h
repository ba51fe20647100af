#pragma once
/*
 * QCOW2 back end internals, shared by qcow2*.c and the `hull img` logic (img-*.c).
 *
 * Metadata caching and write ordering (docs/qcow2.md): guest data is written straight to the
 * file; refcount blocks and L2 tables live in write-back caches; the L1 table is in memory.
 * qcow2_meta_flush() writes dirty refcount blocks, syncs, writes dirty L2 tables, syncs,
 * writes the L1 table, syncs: so a crash at any point leaves refcounts >= references
 * (leaks, never corruption). Clusters are freed (refcount decremented) only after the L2
 * change that dropped them is durable.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "disk/disk-internal.h"
#include "disk/qcow2-format.h"

/* Internal open flag for `hull img check -r`: allow opening a corrupt image read-write. */
#define QCOW2_OPEN_REPAIR (1u << 30)
/* Internal open flag for `hull img check`: accept a damaged refcount table (check reports it,
 * -r all rebuilds it); every other opener refuses it. */
#define QCOW2_OPEN_CHECK (1u << 29)

struct qcow2_cache_entry {
	uint64_t offset; /* host offset of the cluster, 0 when the slot is free */
	uint64_t lru;
	bool dirty;
	uint8_t *buf;
};

struct qcow2_cache {
	struct qcow2_cache_entry *e;
	unsigned n;
	uint64_t tick;
	unsigned last; /* index of the last hit */
	size_t cluster_size;
};

struct qcow2_snapshot {
	char *id;
	char *name;
	uint64_t l1_offset;
	uint32_t l1_size;
	uint32_t date_sec;
	uint32_t date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t vm_state_size;
	uint64_t disk_size;
};

struct qcow2_feature {
	uint8_t type;
	uint8_t bit;
	char name[47];
};

struct qcow2_free {
	uint64_t offset; /* a host cluster to decrement once the L2 change is durable */
};

struct qcow2 {
	struct disk d; /* first */
	int fd;
	unsigned open_flags;

	uint32_t version;
	unsigned cluster_bits;
	uint64_t cluster_size;
	unsigned l2_bits; /* log2 of entries per L2 table */
	uint64_t l2_entries;

	uint64_t *l1; /* host-endian copy */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t l1_alloc_entries; /* capacity of the clusters holding it */
	bool l1_dirty;
	bool l1_unique; /* checked: no two L1 entries share an L2 table (see l2_prepare) */

	uint64_t *reftable; /* host-endian copy */
	uint64_t reftable_entries;
	uint64_t reftable_used; /* past the last non-zero entry (bounds overlap checks) */
	uint64_t reftable_offset;
	uint32_t reftable_clusters;
	bool reftable_dirty;
	unsigned refcount_order;
	unsigned refcount_bits;
	uint64_t refblock_entries;
	uint64_t refcount_max;

	uint64_t incompat;
	uint64_t compat;
	uint64_t autoclear;
	uint32_t header_length;
	uint8_t compression_type;
	uint8_t *header_raw; /* the first header_length bytes as read (unknown fields kept) */

	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t snapshots_size; /* bytes of the snapshot table */
	struct qcow2_snapshot *snapshots;

	char *backing_name;   /* as stored in the image */
	char *backing_format; /* from the extension, or NULL */
	char *backing_path;   /* resolved against the image's directory */
	struct disk *backing;

	struct qcow2_feature *features;
	size_t nb_features;
	/* unknown header extensions, kept verbatim (type, len, data) for header rewrites */
	uint8_t *unknown_ext;
	size_t unknown_ext_len;
	bool has_bitmaps_ext;

	struct qcow2_cache l2_cache;
	struct qcow2_cache rb_cache;

	uint64_t file_size;      /* host file size (allocation extends it) */
	uint64_t phys_size;      /* bytes actually in the file (past it: zeroes) */
	uint64_t free_hint;      /* lowest cluster index that may be free */
	uint64_t compress_next;  /* byte offset for the next compressed cluster, 0: none */
	/* block status looks for holes in the file under data clusters only when the image
	 * looks preallocated (qemu's metadata-preallocation heuristic), decided once */
	bool prealloc_checked, prealloc;
	struct qcow2_free *frees;
	size_t nb_frees, cap_frees;
	uint64_t resv_start, resv_end; /* clusters being allocated: no refcount block there */
	uint32_t *repair_refs;   /* during repair: computed refcounts, the allocator avoids them */
	uint64_t repair_nclusters;

	uint8_t *cbuf;   /* one cluster of scratch (COW) */
	uint8_t *zbuf;   /* compressed input scratch (2 clusters) */
	uint8_t *dcache; /* last decompressed cluster */
	uint64_t dcache_entry; /* its L2 entry, 0 when empty */
	void *zstd_dctx;
};

static inline struct qcow2 *to_qcow2(struct disk *d)
{
	return (struct qcow2 *)d;
}

/* [a, a+alen) and [b, b+blen) overlap (empty ranges overlap nothing) */
static inline bool qcow2_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* True if host [off, off+len) overlaps the header, an L1/L2/refcount table or block. */
bool qcow2_hits_metadata(const struct qcow2 *q, uint64_t off, uint64_t len);

/* ---- qcow2-cache.c: cluster-sized write-back caches ---- */
void qcow2_cache_init(struct qcow2_cache *c, unsigned n, size_t cluster_size);
void qcow2_cache_fini(struct qcow2_cache *c);
/* Get the cluster at off into the cache (reading it when absent, or zeroing when fresh). */
int qcow2_cache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t off, bool fresh,
		    uint8_t **ret);
void qcow2_cache_mark_dirty(struct qcow2_cache *c, uint64_t off);
/* Write the dirty entries; 0 or -errno. */
int qcow2_cache_write_dirty(struct qcow2 *q, struct qcow2_cache *c);
/* Forget an entry (after the cluster is freed); it must not be dirty. */
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t off);

/* ---- qcow2-io.c: metadata writes (with the crash-test hook) ---- */
int qcow2_pwrite_meta(struct qcow2 *q, const void *buf, size_t len, uint64_t off);
int qcow2_pread(struct qcow2 *q, void *buf, size_t len, uint64_t off);
int qcow2_sync(struct qcow2 *q);
/* Refcount blocks, sync, L2 tables, sync, L1, sync (see the top of this file). */
int qcow2_meta_flush(struct qcow2 *q);

/* ---- qcow2-refcount.c ---- */
int qcow2_refcount_get(struct qcow2 *q, uint64_t cluster, uint64_t *ret);
/* Set a refcount, allocating a refcount block (and growing the table) when needed. */
int qcow2_refcount_set(struct qcow2 *q, uint64_t cluster, uint64_t value);
int qcow2_refcount_add(struct qcow2 *q, uint64_t cluster, int64_t delta);
/* Allocate n contiguous clusters (refcount 1); returns the host offset in *ret. */
int qcow2_alloc_clusters(struct qcow2 *q, uint64_t n, uint64_t *ret);
/* Queue a decrement of the cluster holding off, done at qcow2_process_frees(). */
void qcow2_free_later(struct qcow2 *q, uint64_t off);
/* Make the L2 changes durable, then apply the queued decrements. */
int qcow2_process_frees(struct qcow2 *q);
/* During repair: cluster c is now referenced (see the .c). */
void qcow2_repair_note(struct qcow2 *q, uint64_t c);
/* Replace the refcount table and blocks by new ones holding refs[0..n) (see the .c). */
int qcow2_refcount_rebuild(struct qcow2 *q, const uint32_t *refs, uint64_t n);

/* ---- qcow2.c ---- */
/* Record why the metadata is refused (printf-style: name the table and entry); -EIO. */
int qcow2_bad(struct qcow2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Look up the L2 entry of guest cluster index ci (0 when unallocated); -errno on bad metadata. */
int qcow2_l2_entry(struct qcow2 *q, uint64_t ci, uint64_t *ret);
/* Rewrite the header cluster from the in-memory state; 0 or -errno. */
int qcow2_header_write(struct qcow2 *q);
/* Decode a compressed L2 entry into host offset and byte length. */
void qcow2_compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *ret_off,
			    uint64_t *ret_len);
/* Write one whole guest cluster compressed (falls back to uncompressed when it grows). */
int qcow2_write_compressed(struct qcow2 *q, uint64_t ci, const uint8_t *data);
/* Change the virtual size (grow; shrink only when nothing is allocated past it). */
int qcow2_resize(struct qcow2 *q, uint64_t new_size, struct hull_err *err);
/* Make every guest cluster unallocated (reads then come from the backing file). */
int qcow2_make_empty(struct qcow2 *q);
/* Set the backing file name and format in the header (NULL: none). */
int qcow2_set_backing(struct qcow2 *q, const char *name, const char *format,
		      struct hull_err *err);

/* ---- qcow2-check.c ---- */
struct qcow2_check_result {
	uint64_t corruptions;
	uint64_t leaks;
	uint64_t corruptions_fixed;
	uint64_t leaks_fixed;
	uint64_t allocated_clusters;
	uint64_t total_clusters; /* guest clusters */
	uint64_t compressed_clusters;
	uint64_t fragmented_clusters;
	uint64_t image_end_offset;
	char first_error[256];
};
#define QCOW2_REPAIR_LEAKS (1u << 0)
#define QCOW2_REPAIR_ERRORS (1u << 1)
int qcow2_check(struct qcow2 *q, unsigned repair, struct qcow2_check_result *res);

/* qcow2-io.c's view of an L2 entry, shared with qcow2-status.c */
enum cluster_kind {
	CK_UNALLOC,
	CK_ZERO,
	CK_NORMAL,
	CK_COMPRESSED,
};
enum run_rule {
	RUN_READ,     /* same kind; data clusters contiguous on the host */
	RUN_IN_PLACE, /* also COPIED: writable where they are */
	RUN_STATUS,   /* also zero clusters without a preallocated host offset */
};
enum cluster_kind qcow2_classify(const struct qcow2 *q, uint64_t e);
/* -EIO (with the disk's detail naming the entry) when normal entry e of cluster ci is bad */
int qcow2_check_normal(struct qcow2 *q, uint64_t ci, uint64_t e);
/* From guest offset g (entry e, n bytes), extend over following clusters of the same kind
 * under rule, up to total bytes: *ret_n. */
int qcow2_run_extend(struct qcow2 *q, uint64_t g, uint64_t e, uint64_t n, uint64_t total,
		     enum run_rule rule, uint64_t *ret_n);
/* qcow2-status.c: the block_status, prefetch and start_writeback ops */
int qcow2_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *ret_len,
		       unsigned *ret_flags, uint64_t *ret_host, unsigned *ret_depth);
void qcow2_prefetch(struct disk *d, uint64_t off, uint64_t len);
void qcow2_start_writeback(struct disk *d);
