#pragma once
/*
 * Snapshots of a running VM into a directory, and the pieces a restore reads back:
 *   DIR/config.json  what `hull vm run` was given (cpus, memory, disks, NICs, console...),
 *                    never the kernel: a restore loads none
 *   DIR/state        the state stream (state.h): the platform's and every vCPU's sections
 *                    (x86/cpu-state.h), then every device's (devices.h); then the CRC32
 *                    (LE) of all that, since a section's CRC leaves its id out
 *   DIR/memory       guest RAM, host mapping order ([0, 3 GiB) then from 4 GiB), sparse: a
 *                    page of zeros is a hole
 * Each is written under a temporary name, fsynced, and renamed over the old one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vm;
struct state_writer;
struct vm_config;

#define SNAPSHOT_CONFIG "config.json"
#define SNAPSHOT_STATE "state"
#define SNAPSHOT_MEMORY "memory"
#define SNAPSHOT_CONFIG_VERSION 1
#define SNAPSHOT_CONFIG_MAX (64U << 10)

/*
 * Pause the vCPUs, write the three files into dir (created 0700 if absent), then resume the
 * vCPUs when resume is set (else the VM stays paused: the API's "resume" continues it).
 * Event loop thread. 0 or -errno with err naming the file.
 */
int vm_snapshot(struct vm *vm, const char *dir, bool resume, struct hull_err *err);

/*
 * config.json's "vsock" and "balloon" (snapshot-restore.c reads them back): set on root, a
 * jansson object.
 */
struct json_t;
void snapshot_config_devices(const struct vm_config *cfg, struct json_t *root);

/*
 * Restore (vm.c): map the chain's base DIR/memory copy-on-write as guest RAM (after checking
 * its size), then copy in the pages of each diff snapshot after it, oldest first.
 */
int snapshot_memory_map(struct vm *vm, struct hull_err *err);
int snapshot_memory_map_dir(struct vm *vm, const char *dir, struct hull_err *err);
/*
 * Read DIR/state and check its header, section framing and CRCs (no KVM needed): 0 with the
 * stream in *ret_buf (to free), or -errno with err naming the file and what is wrong.
 */
int snapshot_state_check(const char *dir, uint8_t **ret_buf, size_t *ret_len,
			 struct hull_err *err);
/* Restore (vm.c), after the devices and vCPUs exist: load DIR/state into them. */
int snapshot_state_load(struct vm *vm, struct hull_err *err);

/*
 * The pieces the snapshot's files and a live migration's stream (migrate.c) share:
 * build: the state file's bytes (arch and device sections, then the CRC32 of all that) into
 *   a fresh writer w (to release), the vCPUs paused; 0 or -errno with err.
 * verify: check such bytes (CRC, header, section framing): 0 with *ret_len the stream's
 *   length without its CRC, or -errno with err naming where.
 * load_buf: load a verified stream into the VM's vCPUs, platform and devices.
 */
int snapshot_state_build(struct vm *vm, struct state_writer *w, struct hull_err *err);
int snapshot_state_verify(const uint8_t *buf, size_t len, const char *where, size_t *ret_len,
			  struct hull_err *err);
int snapshot_state_load_buf(struct vm *vm, const uint8_t *buf, size_t len, const char *where,
			    struct hull_err *err);

/*
 * Diff snapshots (snapshot-diff.c; docs/vmm.md "Diff snapshots"). Every snapshot has an id
 * in its config.json; a diff's also names its parent (the snapshot before it, an absolute
 * directory) and that one's id, and holds only the pages written since then:
 *   DIR/memory  sparse, the pages of DIR/pages at their offsets (holes elsewhere)
 *   DIR/pages   a bitmap (LE 64-bit words), a bit per 4 KiB page of RAM: the pages DIR/memory
 *               carries (a page of zeros included)
 * A full snapshot turns KVM's dirty log on (dirty.h) for the diffs after it.
 */
#define SNAPSHOT_PAGES "pages"
#define SNAPSHOT_ID_LEN 32
#define SNAPSHOT_CHAIN_MAX 64

struct snapshot_ident {
	char id[SNAPSHOT_ID_LEN + 1];
	const char *parent;    /* NULL: a full snapshot */
	const char *parent_id;
};

void snapshot_ident_new(struct snapshot_ident *ident);
/* The snapshot files with ident in config.json; fill_mem NULL: all of guest RAM, sparse. */
int snapshot_write_files(struct vm *vm, const char *dir, const struct snapshot_ident *ident,
			 int (*fill_mem)(int fd, const void *arg), const void *mem_arg,
			 struct hull_err *err);
int snapshot_write_file(const char *dir, const char *name, const void *p, size_t len,
			struct hull_err *err);
/* After a full snapshot (the VM paused): the dirty log on, the chain starts at dir. */
void snapshot_chain_started(struct vm *vm, const char *dir, const struct snapshot_ident *ident);
/* At the VM's end (vm_free): the dirty log off, the chain forgotten. */
void snapshot_chain_free(struct vm *vm);
/*
 * `hull vm snapshot --diff`: as vm_snapshot, writing only the pages dirtied since the last
 * snapshot of this VM into dir (not that snapshot's own directory). -EINVAL with err when no
 * full snapshot was taken in this process.
 */
int vm_snapshot_diff(struct vm *vm, const char *dir, bool resume, struct hull_err *err);

struct snapshot_chain_dirs {
	char *dirs[SNAPSHOT_CHAIN_MAX]; /* base first */
	unsigned n;
};
/* Walk dir's parents to the base, checking each parent's id: 0 or -errno with err. */
int snapshot_chain_read(const char *dir, struct snapshot_chain_dirs *c, struct hull_err *err);
void snapshot_chain_dirs_free(struct snapshot_chain_dirs *c);
/* Copy the pages of diff snapshot dir into the mapped guest RAM: 0 or -errno with err. */
int snapshot_diff_apply(struct vm *vm, const char *dir, struct hull_err *err);
