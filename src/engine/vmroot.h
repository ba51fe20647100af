#pragma once
/*
 * What `hull run --vm` boots (docs/engine.md "hull run --vm"), built once and cached in the
 * store:
 *
 *   vm/<image id hex>/root.erofs          the image's layers merged (whiteouts applied), as a
 *                                         read-only erofs the guest mounts as its lower layer
 *   vm/initrd-<release>-<hash>.img         the guest agent as /init, busybox, and the modules
 *                                         the guest needs from /lib/modules/<release>
 *
 * Each is built under a flock, at a temporary name renamed into place, so that concurrent
 * creates build it once and a crash leaves no half-written file. image_gc removes the root
 * of an image that is gone (image/gc.c).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "image/store.h"

/* The modules the agent needs, beside INITRAMFS_DEFAULT_MODULES (virtio_pci, virtio_blk):
 * the root's file system (erofs needs libcrc32c, whose init needs a crc32c: the generic one),
 * the overlay over it, the vsock transport it listens on, and a NIC's driver (NETCONF). */
#define VMROOT_MODULES                                                                      \
	{ "crc32c_generic", "erofs", "overlay", "vsock", "vmw_vsock_virtio_transport_common",                  \
	  "vmw_vsock_virtio_transport", "virtio_net",                                          \
	  "fuse", "virtiofs", /* -v: virtio-fs shares (vm-fs.h) */                                \
	  NULL }

struct vmroot {
	char *kernel;  /* absolute path of the bzImage */
	char *release; /* its release ("6.1.0-57-amd64"): /lib/modules/<release> */
	char *initrd;  /* the cached initramfs */
	char *root;    /* the cached root image */
};

/* Of the kernel paths given (/boot/vmlinuz-*-amd64), the newest generic one (strverscmp),
 * else the newest -cloud- one; NULL when n is 0. */
const char *vmroot_kernel_pick(char *const *paths, size_t n);

/*
 * The kernel to boot: kernel (--kernel FILE) or the newest /boot/vmlinuz-*-amd64, with its
 * release read from the bzImage header and its module tree /lib/modules/<release> present.
 * -ENOENT/-EINVAL with one line naming the file otherwise.
 */
int vmroot_kernel(const char *kernel, char **ret_path, char **ret_release,
		  struct hull_err *err);

/*
 * <store>/vm/<hex>/root.erofs for the image image_id (a config digest) whose layers are
 * diff_ids, built with mkfs.erofs when missing. *ret_built says whether this call built it.
 * The caller holds the store's lock (shared at least).
 */
int vmroot_image(struct image_store *s, const char *image_id, char *const *diff_ids,
		 char **ret_path, bool *ret_built, struct hull_err *err);

/* The cached initramfs for release (the agent found beside the hull binary). */
int vmroot_initrd(struct image_store *s, const char *release, char **ret_path,
		  struct hull_err *err);

/* All three: what create records in the container's vm.json. */
int vmroot_prepare(struct image_store *s, const char *image_id, char *const *diff_ids,
		   const char *kernel, struct vmroot *ret, struct hull_err *err);
void vmroot_clear(struct vmroot *v);

/* The guest agent binary: beside hull, in the build tree, or installed in libexec. NULL
 * when there is none (heap string otherwise). */
char *vmroot_agent_path(void);

#define VMROOT_MEM_DEFAULT_MIB 256 /* without -m: Debian's kernel and a shell fit well */
#define VMROOT_MEM_MIN_MIB 64
#define VMROOT_CPUS_MAX 64

/*
 * For create --vm: the three files above, prepared (built when missing), and the VM's
 * size (-m bytes, 0: VMROOT_MEM_DEFAULT_MIB; --cpus, 0: 1) written to dir/vm.json, which
 * the vm backend reads: {"Kernel","Release","Initrd","Root","MemoryMiB","CPUs"}.
 */
int vmroot_record(struct image_store *s, const char *dir, const char *image_id,
		  char *const *diff_ids, const char *kernel, int64_t memory, double cpus,
		  struct hull_err *err);
