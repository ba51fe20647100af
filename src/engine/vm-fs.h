#pragma once
/*
 * The host side of `-v`/`--mount type=bind` (and named volumes) for `hull run --vm`: one
 * virtiofsd per mount (Debian's /usr/lib/qemu/virtiofsd), each sharing the mount's source
 * directory on a socket in the VM's run directory, handed to hull-vmm as `--fs`; the guest
 * agent mounts each tag on its destination (vm_agent_mount). docs/engine.md "Bind mounts
 * in a VM".
 *
 * One daemon per mount, not one per VM over a shared root: each source is a directory of its
 * own anywhere on the host; a single daemon would need them all under one tree (bind mounts
 * into a private directory, to be undone on every path), and its read-only ones could not be
 * told apart. Read-only: the daemon runs in a mount namespace of its own where its source is
 * a read-only bind mount, so the host refuses the guest's writes (EROFS), not only the
 * guest's kernel; the namespace dies with the daemon, nothing to clean up.
 */
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

#define VM_FS_MAX 8 /* hull-vmm's --fs limit (VM_MAX_FS) */
#define VM_FS_DAEMON "/usr/lib/qemu/virtiofsd"

struct vm_fs_mount {
	char *source, *target, *tag, *socket;
	bool ro;
	pid_t pid; /* the daemon, 0: none */
};

struct vm_fs {
	struct vm_fs_mount m[VM_FS_MAX];
	unsigned n;
};

/*
 * The container's bind mounts and volumes (<ctr_dir>/mounts.json, written at create), each
 * source a directory: 0 (n = 0 without any), or -errno with err naming the mount.
 */
int vm_fs_load(const char *ctr_dir, struct vm_fs *fs, struct hull_err *err);
/*
 * Start a daemon per mount, its socket rundir/fsN.sock, its output appended to log (the VM's
 * console log), and wait until each listens (or died: an error quoting nothing more than its
 * exit). 0 or -errno; on failure the ones started are stopped.
 */
int vm_fs_start(struct vm_fs *fs, const char *rundir, const char *log, struct hull_err *err);
/* hull-vmm's arguments: "--fs", "tag=...,socket=..." per mount, appended to argv at *n. */
void vm_fs_args(const struct vm_fs *fs, const char **argv, size_t *n);
/* Kill and reap the daemons, remove their sockets, free fs. Idempotent. */
void vm_fs_stop(struct vm_fs *fs);
/* The sockets a killed shim left in rundir (vm_api_sock_remove). */
void vm_fs_sockets_remove(const char *rundir);
