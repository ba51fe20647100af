#pragma once
/*
 * The container's filesystem, built inside its new mount namespace before pivot_root
 * (runtime-spec config.md "Root", "Mounts"; config-linux.md "Devices", "maskedPaths",
 * "readonlyPaths", "rootfsPropagation").
 *
 * Every target inside the rootfs is resolved with path_open_in_root() (openat2
 * RESOLVE_IN_ROOT) to an O_PATH fd and mounted through /proc/self/fd/N (or with
 * move_mount/mount_setattr on the fd), so a symlink planted in an image cannot redirect a
 * mount onto the host.
 */
#include <stdbool.h>

#include "common/error.h"
#include "spec/spec.h"

/*
 * Make / a slave (or what rootfsPropagation asks for), bind the rootfs onto itself and
 * return an O_PATH fd on it (>= 0) or -errno.
 */
int rootfs_prepare(const struct oci_spec *s, struct hull_err *err);

/* Every entry of mounts[] in order. in_userns: fall back to bind mounts where needed. */
int rootfs_mount_all(int root_fd, const struct oci_spec *s, bool in_userns,
		     struct hull_err *err);

/* The default devices, linux.devices and the /dev symlinks. */
int rootfs_devices(int root_fd, const struct oci_spec *s, bool in_userns, struct hull_err *err);

/* linux.sysctl through the container's /proc/sys. */
int rootfs_sysctl(int root_fd, const struct oci_spec *s, struct hull_err *err);

/* maskedPaths and readonlyPaths (after sysctl: /proc/sys is usually read-only). */
int rootfs_mask_paths(int root_fd, const struct oci_spec *s, struct hull_err *err);

/* pivot_root into the rootfs (chroot with no_pivot), then rootfsPropagation and root.readonly. */
int rootfs_enter(const struct oci_spec *s, bool no_pivot, struct hull_err *err);
