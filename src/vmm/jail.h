#pragma once
/*
 * The VMM's optional jail (Firecracker's jailer, simplified): --chroot DIR, --uid N, --gid N.
 */
#include "common/error.h"

struct vm_config;

/* Check the jail's flags before anything is built: DIR must be a directory. 0 or -errno. */
int vmm_jail_check(const struct vm_config *cfg, struct hull_err *err);
/*
 * Enter the jail, after every path was opened and the API socket bound and before any vCPU
 * runs: chroot(cfg->chroot) and chdir("/"), then setgroups(0), setgid, setuid for the ids
 * that are set (>= 0). Nothing to do without those flags. 0 or -errno with err naming the flag.
 */
int vmm_jail_enter(const struct vm_config *cfg, struct hull_err *err);
