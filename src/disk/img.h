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

/*
 * Copy src into a new image dst (opts->format, size taken from src); compress: qcow2 only.
 * Built under a temporary name and renamed over dst at the end (see img_create).
 * progress may be NULL.
 */
int img_convert(const char *src, enum disk_format src_fmt, const char *dst,
		const struct disk_create_opts *opts, bool compress,
		const struct img_progress *progress, struct hull_err *err);

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
