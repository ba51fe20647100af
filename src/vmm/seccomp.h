#pragma once
/*
 * The VMM's confinement once the VM is built (docs/vmm.md, "Confinement"): a seccomp filter
 * per thread kind, each installed by the thread itself (filters are per thread: libseccomp's
 * seccomp_load without TSYNC). The jail is jail.h.
 *
 * Every thread that installs a filter must exist before the main thread installs its own:
 * a thread created afterwards would inherit the main thread's filter on top of its own.
 */
#include <stdbool.h>

#include "common/error.h"

struct vm_config;

enum vmm_thread_kind {
	VMM_THREAD_MAIN, /* the event loop: API, console input, signals, timers, teardown */
	VMM_THREAD_VCPU, /* KVM_RUN and the device emulation on its exits */
	VMM_THREAD_IO,   /* a device's I/O thread (virtio-blk: disk reads and writes) */
	VMM_THREAD_KIND_COUNT,
};

/*
 * Install the filter of kind on the calling thread (cfg->seccomp_level 0: none; 1: syscall
 * numbers only; 2: also the arguments that matter, ioctl request numbers and no PROT_EXEC
 * mappings). A syscall outside the table kills the whole process with SIGSYS. The jail's
 * ids (cfg->uid/gid) are allowed to I/O threads, which glibc's setuid() makes change their
 * credentials too. Returns 0 or -errno (libseccomp's).
 */
int vmm_seccomp_install(const struct vm_config *cfg, enum vmm_thread_kind kind);
const char *vmm_thread_kind_name(enum vmm_thread_kind kind);

/*
 * --test-seccomp-probe: make a syscall no thread kind allows (openat of "/"). Under the
 * filter the process dies of SIGSYS here; without it, the call succeeds and is undone.
 */
void vmm_seccomp_probe(void);
