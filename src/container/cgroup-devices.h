#pragma once
/*
 * The cgroup v2 device controller: cgroup v2 has no devices.allow/deny files, access to
 * device nodes is decided by a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup
 * (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). This module turns the OCI
 * linux.resources.devices[] list into such a program, built instruction by instruction (no
 * libbpf, no compiler), and attaches it with the raw bpf(2) syscall.
 *
 * Semantics (runc's): start from deny-all; rules apply in order; the last matching rule wins.
 * A rule matches a request when the type, major and minor match and
 *   - for an allow rule: every requested access (r, w, m) is in the rule's access;
 *   - for a deny rule: any requested access is in the rule's access.
 * The deny case is stricter than runc's generated program (which also asks for a subset, so
 * "deny c 1:3 w" does not stop an O_RDWR open there); it is how the v1 kernel matches deny
 * exceptions, and it never allows what the v1 back end would refuse.
 * An empty access string matches nothing (as in v1 and runc).
 */
#include <jansson.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "spec/spec.h" /* struct oci_dev_rule, parsed from JSON by the model */

/* Most rules one program takes; the OCI parser refuses longer lists with a clear error. */
#define CGROUP_DEV_RULES_MAX 4096
/* Instructions: at most 18 per rule, and 2 for the default deny. */
#define CGROUP_DEV_BPF_INSNS(n_rules) (18 * (size_t)(n_rules) + 2)
#define CGROUP_DEV_BPF_INSNS_MAX CGROUP_DEV_BPF_INSNS(CGROUP_DEV_RULES_MAX)
/* The name hull gives its programs (bpf_prog_info.name), to find them again on update. */
#define CGROUP_DEV_BPF_PROG_NAME "hull_devices"

/* Check one rule: type, access letters, major/minor ranges. 0 or -EINVAL with err set. */
int cgroup_dev_rule_check(const struct oci_dev_rule *rule, struct hull_err *err);

/*
 * Build the program for rules[0..n) into insns[0..max_insns). Pure: no syscalls, no
 * allocation. CGROUP_DEV_BPF_INSNS(n) instructions always suffice.
 * Returns the instruction count, or -EINVAL (a bad rule, named by index), -E2BIG (more than
 * CGROUP_DEV_RULES_MAX rules) or -ENOSPC (max_insns too small) with err set.
 */
int cgroup_devices_bpf_build(const struct oci_dev_rule *rules, size_t n,
			     struct bpf_insn *insns, size_t max_insns, struct hull_err *err);

/*
 * Load a device program (normally cgroup_devices_bpf_build's) with the name
 * CGROUP_DEV_BPF_PROG_NAME. Returns the program fd (O_CLOEXEC; the caller closes it) or
 * -errno with err set; a verifier rejection carries the first and the last meaningful line
 * of the verifier's log.
 */
int cgroup_devices_bpf_load(const struct bpf_insn *insns, size_t n, struct hull_err *err);

/*
 * Build the program from rules, load it, and attach it to the cgroup2 directory
 * cgroup_dirfd (BPF_CGROUP_DEVICE), replacing the program hull attached there before.
 *
 * Replacement never leaves the cgroup without a program:
 *   - a cgroup with no program, or in BPF_F_ALLOW_MULTI mode: the new program is attached
 *     with BPF_F_ALLOW_MULTI; when exactly one earlier hull program (found by its name) is
 *     there, with BPF_F_REPLACE in its slot, atomically. Otherwise (several, or a kernel
 *     without BPF_F_REPLACE) the new one is attached first and the old ones detached after:
 *     in between both run and the kernel allows only what every program allows, so the
 *     window is stricter than either rule set, never looser.
 *   - a cgroup in single-program mode (someone attached without BPF_F_ALLOW_MULTI): the new
 *     program is attached with the same flags, and the kernel swaps it in atomically for the
 *     one there, whoever attached it (that mode holds only one; runc does the same).
 * In BPF_F_ALLOW_MULTI mode, programs not named CGROUP_DEV_BPF_PROG_NAME (systemd's, for
 * example) are left alone; the kernel allows an access only if every program does.
 *
 * The program stays attached after the process exits (the cgroup holds it) and goes away
 * with the cgroup. Returns 0 or -errno with err set (see cgroup_devices_bpf_load for
 * verifier failures). On a failure before the attach, the old program stays in force.
 */
int cgroup_devices_bpf_apply(int cgroup_dirfd, const struct oci_dev_rule *rules, size_t n,
			     struct hull_err *err);

/*
 * Format a rule the way cgroup v1's devices.allow/devices.deny take it: "c 1:3 rwm",
 * "a *:* rwm", "b 8:* r". Returns buf. 32 bytes always suffice.
 */
const char *cgroup_dev_rule_to_v1(const struct oci_dev_rule *rule, char *buf, size_t len);
