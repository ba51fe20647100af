#pragma once
/*
 * The warm snapshot of `hull run --vm` (docs/engine.md "Fast start"): a guest booted once to
 * a ready agent (HELLO, state idle) and snapshotted, per image and everything else that
 * makes the guest differ, in
 *
 *   <store>/vm/<image hex>/warm-<key>/   config.json, state, memory (hull vm snapshot's
 *                                        files) and key (the text the key hashes)
 *
 * beside the image's root.erofs. Built under warm-<key>.tmp.<pid> and renamed, by the holder
 * of <store>/vm/<image hex>/warm.lock (a run that finds the lock taken boots cold and builds
 * nothing). A snapshot whose key text, config or state checksum does not match is removed
 * and rebuilt, never restored.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/vm-proc.h"
#include "engine/vmnet.h"
#include "../../guest/agent/proto.h"

#define VM_WARM_KEY_MAX 4096

/*
 * The NIC a warm snapshot for runs on a network is taken with (warmnet18): the container's
 * tap, single-queue, with a fixed MAC (HULL_AGENT_WARM_MAC) that each run's NETCONF replaces
 * in the guest. A restore gives the VMM the container's tap and MAC (restore --net).
 */
/* user space (vhost=off), as the restore's NIC: a vhost-net NIC across a snapshot is not known
 * to work (docs/vmm.md "NIC hot-plug": the hot-plug test hangs with one) */
#define VM_WARM_NIC "tap=" ENGINE_VMNET_TAP ",mac=" HULL_AGENT_WARM_MAC_STR ",queues=1,vhost=off"

/*
 * The key text of a VM: each input file's path and identity (dev, ino, size, mtime in ns) for
 * the kernel, the initramfs (its name carries the agent's and the module list's hash), the
 * root image and the VMM binary, then memory, vCPUs and the kernel command line, and for a VM
 * with a NIC (v->netns set) the snapshot's NIC (VM_WARM_NIC): a guest with a NIC is another
 * guest (virtio_net probed, its queues, the PCI slot). Returns 0,
 * or -errno with err naming the file that cannot be stat'ed.
 */
int vm_warm_key_text(const struct vm_spec *v, const char *vmm, const char *cmdline,
		     char **ret, struct hull_err *err);

/* The directory name's key: the first 16 hex digits of the sha256 of text. */
void vm_warm_key_hash(const char *text, char out[17]);

/*
 * Whether dir is a whole snapshot of key_text for a VM of mib MiB and cpus vCPUs: its key file
 * equals key_text, config.json says that memory and vCPU count, memory is a regular file of
 * that size, state passes its checksums. 0 when usable, else -errno and err saying why.
 */
int vm_warm_check(const char *dir, const char *key_text, int64_t mib, int64_t cpus,
		  struct hull_err *err);

enum vm_warm_mode {
	VM_WARM_COLD,    /* boot, no snapshot (vm_warm_set_cold, or another run builds it) */
	VM_WARM_RESTORE, /* restore w->dir */
	VM_WARM_BUILD,   /* boot, snapshot into w->tmp, then vm_warm_publish */
};

struct vm_warm {
	enum vm_warm_mode mode;
	char *dir;      /* warm-<key> */
	char *tmp;      /* warm-<key>.tmp.<pid> (BUILD) */
	char *key_text;
	int lock;       /* warm.lock, held while building */
	char why[256];  /* a snapshot found unusable and removed: why (for a log line) */
};

/* Every later vm_warm_plan of this process says VM_WARM_COLD (hull's HULL_VM_COLD=1: the CLI
 * reads the environment, the library takes the knob). */
void vm_warm_set_cold(bool on);

/* What this run does (the state under the image's directory, the root's). Never fails: any
 * trouble is VM_WARM_COLD with why set. */
void vm_warm_plan(const struct vm_spec *v, const char *vmm, const char *cmdline,
		  struct vm_warm *w);

/* BUILD: the snapshot written into w->tmp: the key file, then the rename into place. */
int vm_warm_publish(struct vm_warm *w, struct hull_err *err);

/* A snapshot that would not restore: removed (unless a build holds the lock), so that the
 * next run rebuilds it. */
void vm_warm_discard(struct vm_warm *w);

/* The temporary directory removed (a failed build), the lock released, w freed. */
void vm_warm_done(struct vm_warm *w);
