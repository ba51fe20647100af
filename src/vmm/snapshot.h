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

/* Restore (vm.c): map DIR/memory copy-on-write as guest RAM, after checking its size. */
int snapshot_memory_map(struct vm *vm, struct hull_err *err);
/*
 * Read DIR/state and check its header, section framing and CRCs (no KVM needed): 0 with the
 * stream in *ret_buf (to free), or -errno with err naming the file and what is wrong.
 */
int snapshot_state_check(const char *dir, uint8_t **ret_buf, size_t *ret_len,
			 struct hull_err *err);
/* Restore (vm.c), after the devices and vCPUs exist: load DIR/state into them. */
int snapshot_state_load(struct vm *vm, struct hull_err *err);
