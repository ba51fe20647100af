#pragma once
/*
 * The guest's initramfs: a cpio "newc" writer (the format Linux unpacks, see
 * Documentation/driver-api/early-userspace/buffer-format.rst) and a builder that packs
 * busybox, an /init and kernel modules resolved through the guest kernel's modules.dep.
 */
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
	const char *module_dir; /* /lib/modules/<version> of the guest kernel */
	char **modules;         /* names to include, e.g. virtio_blk (NULL-terminated) */
	char **files;           /* extra "HOSTPATH:GUESTPATH" entries (NULL-terminated) */
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
 * devtmpfs, loads them in that order and starts a shell.
 */
int initramfs_build(const struct initramfs_spec *spec, struct cpio_buf *b, struct hull_err *err);
