#pragma once
/*
 * The five capability sets of process.capabilities (runtime-spec config.md "Process",
 * capabilities(7)), applied around the uid switch in the order the kernel needs:
 *
 *   caps_prepare   (still root, before setgroups/setgid/setuid)
 *       inheritable |= extra (must precede the bounding drop: capset refuses inheritable
 *       bits outside the bounding set), drop every cap not in `bounding` from the bounding
 *       set, PR_SET_KEEPCAPS so that permitted survives setuid to a non-zero uid
 *   ... setgroups, setresgid, setresuid (the caller) ...
 *   caps_apply     (after the uid switch)
 *       capset effective/permitted/inheritable, clear ambient, raise each ambient cap,
 *       PR_SET_KEEPCAPS off
 *
 * `extra` is a mask of capabilities that the caller needs to keep for one more exec
 * (the waiter loads the seccomp filter with CAP_SYS_ADMIN when no_new_privs is off, see
 * docs/runtime.md "seccomp"): they are added to effective, permitted, inheritable and
 * ambient, so that they survive the exec of the waiter for root and non-root users alike;
 * the waiter gives them up before the final exec.
 */
#include <stdint.h>

#include "common/error.h"
#include "spec/spec.h"

/* The running kernel's highest capability (/proc/sys/kernel/cap_last_cap), cached; 40 when
 * it cannot be read. */
int caps_kernel_last(void);

/* A mask of every capability the running kernel knows. */
uint64_t caps_kernel_mask(void);

int caps_prepare(const struct oci_process *p, uint64_t extra, struct hull_err *err);
int caps_apply(const struct oci_process *p, uint64_t extra, struct hull_err *err);

/* Parse "0000003fffffffff" (a /proc/<pid>/status Cap* value) into *ret. */
int caps_parse_hex(const char *s, uint64_t *ret);
