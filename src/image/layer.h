#pragma once
/*
 * Unpacking one layer (OCI image-spec layer.md) into a directory in overlayfs form:
 * a whiteout ".wh.NAME" becomes a 0:0 character device NAME and an opaque marker
 * ".wh..wh..opq" becomes the xattr trusted.overlay.opaque=y on its directory
 * (Documentation/filesystems/overlayfs.rst), so that layers stack as overlay lower dirs.
 *
 * Layers are untrusted. Every entry is created component by component with O_NOFOLLOW
 * below the layer directory: absolute paths, "..", writes through a symbolic link, hard
 * links that leave the layer, duplicate entries, absurd sizes and too many entries are
 * errors that name the entry; the caller discards the half-built directory.
 */
#include <stdint.h>

#include "common/error.h"
#include "image/digest.h"

struct layer_limits {
	uint64_t max_entries;    /* tar bombs: entries per layer */
	uint64_t max_entry_size; /* bytes in one file */
	uint64_t max_total_size; /* bytes in the whole layer, unpacked */
};

#define LAYER_LIMITS_DEFAULT                                                              \
	((struct layer_limits){ .max_entries = 1000000, .max_entry_size = 16ULL << 30,   \
				.max_total_size = 64ULL << 30 })

/*
 * Unpack the tar stream read from fd (gzip, zstd, xz, bzip2 or none, detected from its
 * magic bytes) into the empty directory dirfd. ret_diff_id receives the sha256 of the
 * uncompressed stream. what ("image X: layer sha256:...") prefixes every error.
 * Returns 0 or -errno with err set.
 */
int layer_unpack(int fd, int dirfd, const char *what, const struct layer_limits *lim,
		 char *ret_diff_id, struct hull_err *err);

/* The compression of a blob from its first bytes: "gzip", "zstd", or NULL for none. */
const char *layer_compression(int fd);
