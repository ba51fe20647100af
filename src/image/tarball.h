#pragma once
/*
 * The outer archives that carry images (docker-archive, oci-archive): extracting one into a
 * staging directory, and writing one.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Bounds for the outer archive of an image (its layers are bounded by layer.c). */
#define ARCHIVE_MAX_ENTRIES 100000

/*
 * Extract the tar archive at path (any compression) into the empty directory dirfd. Only
 * directories, regular files and relative symbolic links are created; a path with ".." or
 * an absolute path is an error naming the entry. Later look-ups resolve paths inside dirfd
 * with RESOLVE_IN_ROOT, so a link cannot lead out.
 */
int archive_extract_plain(const char *path, int dirfd, struct hull_err *err);

struct archive_out;

/* Start writing a tar file at path (written to a temporary name until archive_out_commit),
 * or to standard output when path is "-". */
int archive_out_open(const char *path, struct archive_out **ret, struct hull_err *err);
/* Add a directory entry. */
int archive_out_dir(struct archive_out *o, const char *name, struct hull_err *err);
/* Add a file from a buffer, or from an fd of known size. */
int archive_out_buf(struct archive_out *o, const char *name, const void *buf, size_t len,
		    struct hull_err *err);
int archive_out_fd(struct archive_out *o, const char *name, int fd, uint64_t size,
		   struct hull_err *err);
/* Finish and rename into place; archive_out_free alone discards the output. */
int archive_out_commit(struct archive_out *o, struct hull_err *err);
void archive_out_free(struct archive_out *o);
