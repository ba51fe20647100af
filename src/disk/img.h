#pragma once
/*
 * The logic of `hull img` (cli/cmd-img.c parses arguments and prints). Every function takes
 * a struct hull_err and returns 0 or -errno. Option names and output follow qemu-img.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "disk/disk.h"

/*
 * qemu-img -U (force-share): the read-only opens of `hull img` (info, check without -r,
 * map, compare, convert's and dd's source, measure, snapshot -l, bench without -w) share
 * every permission, so an image that a running VM writes can be inspected. Set by the CLI
 * once, before the command runs. img_ro_flags(): DISK_OPEN_RDONLY, plus
 * DISK_OPEN_FORCE_SHARE when set.
 */
void img_set_force_share(bool on);
unsigned img_ro_flags(void);

/* qemu-img's -o list: cluster_size, compat, refcount_bits, lazy_refcounts,
 * backing_file, backing_fmt. Updates opts; strings point into a copy kept in *ret_buf. */
int img_parse_create_opts(const char *list, struct disk_create_opts *opts, char **ret_buf,
			  struct hull_err *err);

/* Parse "1G", "512k", "1048576" (qemu-img suffixes, powers of 1024). */
int img_parse_size(const char *s, uint64_t *ret);

/* `qemu-img info --output json` as a jansson object (caller owns it). */
int img_info(const char *path, enum disk_format fmt, json_t **ret, struct hull_err *err);

struct img_check_report {
	uint64_t corruptions, leaks, corruptions_fixed, leaks_fixed;
	uint64_t allocated_clusters, total_clusters, compressed_clusters, fragmented_clusters;
	uint64_t image_end_offset;
	char first_error[256];
};
/* repair: 0, "leaks" or "all". -ENOTSUP for formats without checks (raw). */
int img_check(const char *path, enum disk_format fmt, const char *repair,
	      struct img_check_report *rep, struct hull_err *err);

/*
 * Create an image at path as disk_create() does (path must not exist: -EEXIST), but built
 * under a temporary name in the same directory and renamed to path when durable, so that a
 * killed run never leaves a half-made image under path.
 */
int img_create(const char *path, const struct disk_create_opts *opts, struct hull_err *err);

/* Progress of a long operation: fn gets the percentage done (0..100), often. */
struct img_progress {
	void (*fn)(void *opaque, double percent);
	void *opaque;
};

/* How convert copies (qemu-img convert's -c, -m, -W, -p). */
#define IMG_CONVERT_MAX_PARALLEL 16 /* qemu-img's MAX_COROUTINES */
struct img_convert_opts {
	bool compress;        /* -c: qcow2 output only */
	unsigned parallel;    /* -m: extents read at once, 1..16; 0: 8 (qemu-img's default) */
	bool out_of_order;    /* -W: write extents as their reads complete, not in order */
	bool no_sync;         /* -t unsafe: nothing synced (the target is renamed unsynced) */
	const struct img_progress *progress; /* may be NULL */
};

/*
 * Copy src into a new image dst (opts->format, size taken from src).
 * Built under a temporary name and renamed over dst at the end (see img_create).
 */
int img_convert(const char *src, enum disk_format src_fmt, const char *dst,
		const struct disk_create_opts *opts, const struct img_convert_opts *co,
		struct hull_err *err);

/* Write the image's own clusters into its backing file; then empty it unless keep. */
int img_commit(const char *path, enum disk_format fmt, bool keep, struct hull_err *err);

/* Change the backing file (NULL or "": none). Safe mode copies what would change. */
int img_rebase(const char *path, enum disk_format fmt, const char *backing,
	       enum disk_format backing_fmt, bool unsafe, struct hull_err *err);

/* size: "N", "+N" or "-N"; shrinking needs shrink=true. */
int img_resize(const char *path, enum disk_format fmt, const char *size, bool shrink,
	       struct hull_err *err);

/* `qemu-img map --output=json` entries as a jansson array. */
int img_map(const char *path, enum disk_format fmt, json_t **ret, struct hull_err *err);

/* ---- img-compare.c: `qemu-img compare` ---- */
enum img_compare_what { IMG_CMP_SAME, IMG_CMP_SIZE, IMG_CMP_STATUS, IMG_CMP_CONTENT };
struct img_compare_result {
	int code;                  /* qemu-img's exit code: 0 same, 1 differ, 2 open, 3 status,
				    * 4 read error */
	enum img_compare_what what; /* with code 1 */
	uint64_t offset;           /* IMG_CMP_STATUS, IMG_CMP_CONTENT */
	bool size_warning;         /* sizes differ (not strict): "Warning: Image size mismatch!" */
};
/* 0 with res filled (res->code 0 or 1), or -errno with err set and res->code 2..4. */
int img_compare(const char *path1, enum disk_format fmt1, const char *path2,
		enum disk_format fmt2, bool strict, struct img_compare_result *res,
		struct hull_err *err);
/* Pure helpers (unit-tested): first non-zero 512-byte sector, or -1; qemu's compare_buffers. */
int64_t img_find_nonzero(const uint8_t *buf, uint64_t n);
bool img_compare_buffers(const uint8_t *a, const uint8_t *b, uint64_t n, uint64_t *ret_run);

/* ---- img-measure.c: `qemu-img measure` ---- */
struct img_measure {
	uint64_t required, fully_allocated, bitmaps;
	bool has_bitmaps; /* qemu-img prints "bitmaps size" / "bitmaps" */
};
/* path NULL: a new image of opts->size; opts->format RAW or QCOW2. */
int img_measure(const char *path, enum disk_format fmt, const struct disk_create_opts *opts,
		struct img_measure *m, struct hull_err *err);
uint64_t img_qcow2_refcount_meta_size(uint64_t clusters, uint64_t cluster_size,
				      unsigned refcount_order);
uint64_t img_qcow2_full_size(uint64_t size, uint64_t cluster_size, unsigned refcount_order);

/* ---- img-dd.c: `qemu-img dd` ---- */
struct img_dd_opts {
	uint64_t bs, count, skip; /* bs in bytes; count, skip in blocks of bs */
	bool has_count, has_skip;
};
/* The input range [start, end) that dd copies; 1 when skip is past it (empty output). */
int img_dd_range(uint64_t size, const struct img_dd_opts *o, uint64_t *ret_start,
		 uint64_t *ret_end);
/* *ret_skip_warn: skip was past the end (qemu-img warns, writes an empty image, exits 0). */
int img_dd(const char *in, enum disk_format in_fmt, const char *out,
	   enum disk_format out_fmt, const struct img_dd_opts *o, bool *ret_skip_warn,
	   struct hull_err *err);

/* ---- img-amend.c: `qemu-img amend` ---- */
struct img_amend_opts {
	unsigned version;       /* 0: unchanged, 2 (compat=0.10) or 3 (compat=1.1) */
	int lazy;               /* -1 unchanged, 0 off, 1 on */
	unsigned refcount_bits; /* 0: unchanged */
	uint64_t size;
	bool has_size;
};
int img_amend_parse(const char *list, struct img_amend_opts *o, struct hull_err *err);
int img_amend(const char *path, enum disk_format fmt, const struct img_amend_opts *o,
	      struct hull_err *err);
/* Store refcount v at entry i of a refcount block of 2^order-bit entries (qemu's layout). */
void img_refblock_put(uint8_t *blk, unsigned order, uint64_t i, uint64_t v);

/* ---- qcow2-snapshot.c: `qemu-img snapshot` (internal snapshots, as QEMU writes them) ---- */
struct qcow2;
int qcow2_snapshot_create(struct qcow2 *q, const char *name, struct hull_err *err);
/* By name (as qemu-img -d); apply: by ID, then by name (as qemu-img -a). */
int qcow2_snapshot_delete(struct qcow2 *q, const char *name, struct hull_err *err);
int qcow2_snapshot_apply(struct qcow2 *q, const char *name, struct hull_err *err);
/* action: 'c' create, 'a' apply, 'd' delete. */
int img_snapshot(const char *path, enum disk_format fmt, char action, const char *name,
		 struct hull_err *err);
/* The snapshot table as `info --output json` lists it (empty for raw). */
int img_snapshot_list(const char *path, enum disk_format fmt, json_t **ret,
		      struct hull_err *err);

/* ---- img-bench.c: `qemu-img bench` ---- */
struct img_bench_opts {
	const char *path;
	enum disk_format fmt;
	uint64_t count, size, offset, step, flush_interval, depth;
	uint8_t pattern;
	bool write, no_drain;
};
/* started() runs once the image is open, before the first request (qemu-img prints there). */
int img_bench(const struct img_bench_opts *o, void (*started)(const struct img_bench_opts *),
	      double *ret_secs, struct hull_err *err);
uint64_t img_bench_next(uint64_t off, uint64_t step, uint64_t size, uint64_t bufsize);
