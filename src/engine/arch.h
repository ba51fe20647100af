#pragma once
/* Can this host run an image's programs: its own architecture, or another one through a
 * binfmt_misc handler (Debian's qemu-user-static) registered with the F flag. */
#include <jansson.h>

#include "common/error.h"

#define ENGINE_BINFMT_DIR "/proc/sys/fs/binfmt_misc"

/*
 * image (the name, for the message) declares os/arch (its config's "os", "architecture",
 * "variant"; NULL: the host's). Returns 0 when its programs can run here: the host's
 * architecture (or i386 on amd64), or a foreign one whose qemu-ARCH handler in binfmt_dir
 * (NULL: ENGINE_BINFMT_DIR) is enabled with the F flag, which makes the kernel open the
 * interpreter when the handler is registered, so that it works inside the container's
 * root. Otherwise -ENOEXEC with one line naming the platforms and the package to install.
 */
int engine_arch_check(const char *image, const char *os, const char *arch, const char *variant,
		      const char *binfmt_dir, struct hull_err *err);

/*
 * The same for an image run with --vm: the guest boots this host's kernel and has no
 * binfmt_misc handler, so only the host's architecture (or i386 on amd64) runs. Otherwise
 * -ENOEXEC with one line naming the platforms.
 */
int engine_vm_arch_check(const char *image, const char *arch, const char *variant,
			 struct hull_err *err);
