#pragma once
/*
 * The guest's initramfs: a cpio "newc" writer (the format Linux unpacks, see
 * Documentation/driver-api/early-userspace/buffer-format.rst) and a builder that packs
 * busybox, an /init and kernel modules resolved through the guest kernel's modules.dep.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define INITRAMFS_MAX_MODULES 128

struct cpio_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	uint32_t next_ino;
};

/* Append one entry (file data for regular files, the target for symlinks). */
void cpio_add(struct cpio_buf *b, const char *name, mode_t mode, uint32_t rdev_major,
	      uint32_t rdev_minor, const void *data, size_t len);
/* Append the TRAILER!!! entry. */
void cpio_finish(struct cpio_buf *b);
void cpio_buf_free(struct cpio_buf *b);

struct initramfs_spec {
	const char *init;       /* host file to become /init; NULL: a generated shell init */
	const char *busybox;    /* static busybox (default /bin/busybox) */
	/*
	 * /lib/modules/<version> of the guest kernel. NULL: the running kernel's,
	 * /lib/modules/$(uname -r), when it has a modules.dep.
	 */
	const char *module_dir;
	char **modules;         /* names to include besides the defaults (NULL-terminated) */
	char **files;           /* extra "HOSTPATH:GUESTPATH" entries (NULL-terminated) */
};

/*
 * Packed whenever there is a module tree, unless built into the kernel (modules.builtin):
 * what `hull vm run --disk` needs in the guest, the virtio-pci transport and virtio-blk, with
 * their dependencies (virtio, virtio_ring, virtio_pci_modern_dev...). Without them a modular
 * kernel (Debian's) boots and sees no disk, silently.
 */
#define INITRAMFS_DEFAULT_MODULES { "virtio_pci", "virtio_blk" }

/* What initramfs_build chose, and what the user should hear although it succeeded. */
struct initramfs_info {
	char module_dir[PATH_MAX]; /* the module tree used; "" for none */
	char warning[512];         /* "" or one line: why the guest may not see its --disk */
};

/*
 * Resolve names (and their dependencies, dependencies first, each once) through
 * module_dir/modules.dep into paths relative to module_dir. Returns 0 or -errno with err
 * naming the module that is missing.
 */
int modules_resolve(const char *module_dir, char *const *names, char ***ret_paths,
		    struct hull_err *err);

/*
 * Build the initramfs into b. The guest finds the modules under /lib/modules/ and their load
 * order in /etc/hull-modules (one path per line); the generated /init mounts proc, sys and
 * devtmpfs, loads them in that order and starts a shell. ret_info (may be NULL) gets the
 * module tree used and a warning when the default modules could not be packed.
 */
int initramfs_build(const struct initramfs_spec *spec, struct cpio_buf *b,
		    struct initramfs_info *ret_info, struct hull_err *err);
