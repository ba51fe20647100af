#pragma once
/* What the img-*.c files share with each other; not for users of img.h. */
#include "disk/img.h"

/*
 * The file of d's chain (d, then its backing files down) whose metadata made d's last
 * request fail (disk_error_detail), or NULL: a top's read fails for its backing file's
 * bad L2 entry as well as for its own.
 */
struct disk *img_detail_disk(struct disk *d);

/*
 * A failed request: when an image's metadata was the cause, say which file, table and entry
 * (img_detail_disk of a, else of b) rather than a bare strerror. Returns r (a -errno).
 */
int img_io_err(struct hull_err *err, int r, struct disk *a, struct disk *b, const char *what);

/* Whether n bytes at p are all zero. */
bool img_is_zero(const uint8_t *p, size_t n);

/*
 * convert-pipe.c: copy src's content (every layer merged) into the fresh image d, skipping
 * what reads as zeroes so that d stays sparse, with co->parallel extents read at once (each
 * reader has its own handle on src's chain, opened here by path as s was; fewer readers
 * when their handles' memory or the process's file descriptors run short) and written in
 * order unless co->out_of_order. what names the copy in error messages ("convert A to B").
 * Returns 0 or -errno with err set to one line.
 */
int img_convert_copy(struct disk *s, struct disk *d, const struct img_convert_opts *co,
		     const char *what, struct hull_err *err);
