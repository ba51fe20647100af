#pragma once
/*
 * A container's root file system: an overlayfs whose lower dirs are the image's unpacked
 * layers (shared, read-only) and whose upper and work dirs are the container's own; where
 * overlayfs cannot be mounted, a private copy of the layers applied in order (whiteouts and
 * opaque directories honoured).
 */
#include "common/error.h"
#include "image/store.h"

/*
 * Mount (or copy) the layers diff_ids (bottom first) at <dir>/rootfs, with <dir>/upper and
 * <dir>/work. force_copy skips overlayfs. *ret_mode is "overlay" or "copy".
 */
int ctr_rootfs_setup(struct image_store *s, const char *dir, char *const *diff_ids,
		     bool force_copy, const char **ret_mode, struct hull_err *err);
/* Mount the overlay again if it is not mounted (after a reboot); no-op for copies. */
int ctr_rootfs_ensure(struct image_store *s, const char *dir, char *const *diff_ids,
		      const char *mode, struct hull_err *err);
/* Unmount <dir>/rootfs if it is a mount point. */
int ctr_rootfs_teardown(const char *dir, struct hull_err *err);
/* ctr_copy_tree flags: leave out character and block device nodes (overlay whiteouts
 * included): a volume's copy-up never brings the image's device nodes to the host. */
#define CTR_COPY_NO_DEVICES 1u
/* Copy the tree of directory src into directory dst (volumes' copy-up too). */
int ctr_copy_tree(int src, int dst, unsigned flags, struct hull_err *err);
