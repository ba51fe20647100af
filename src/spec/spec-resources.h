#pragma once
/*
 * linux.resources and linux.seccomp of config.json as typed structs (runtime-spec
 * config-linux.md "Control groups" and "Seccomp"). Included by spec/spec.h; parsed and
 * checked (every cross-field rule: swap >= memory, cpu quota/period, cpuset syntax, ...) by
 * spec-resources.c and spec-seccomp.c, written back by spec-write.c. No host checks: whether
 * a block device exists, a cgroup file is there or libseccomp knows a syscall is decided
 * where the value is applied (src/container/).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define OCI_MAX_DEVICE_RULES 1024
#define OCI_MAX_BLKIO_DEVICES 256
#define OCI_MAX_HUGEPAGES 16
#define OCI_MAX_UNIFIED 256
#define OCI_MAX_RDMA 64
#define OCI_MAX_SECCOMP_SYSCALLS 4096 /* linux.seccomp.syscalls[] */
#define OCI_MAX_SECCOMP_NAMES 1024    /* names[] of one entry */
#define OCI_MAX_SECCOMP_ARCHES 64

/* One linux.resources.devices[] rule (also what the cgroup device code takes). */
struct oci_dev_rule {
	bool allow;
	char type;            /* 'a' any, 'b', 'c' */
	int64_t major, minor; /* -1 = any, else 0..UINT32_MAX */
	char access[4];       /* subset of "rwm" in that order, NUL-terminated */
};

struct oci_blkio_dev {
	int64_t major, minor;
	uint64_t value; /* weight, or a throttle rate */
	bool has_value;
};

enum oci_throttle {
	OCI_THR_READ_BPS,
	OCI_THR_WRITE_BPS,
	OCI_THR_READ_IOPS,
	OCI_THR_WRITE_IOPS,
	OCI_THR_COUNT,
};

struct oci_hugepage {
	char *page_size; /* "2MB" */
	uint64_t limit;
};

struct oci_kv {
	char *key;
	char *value;
};

struct oci_rdma {
	char *device;
	bool has_handles, has_objects;
	uint32_t hca_handles, hca_objects;
};

/*
 * linux.resources, validated. A has_ flag is set when the field was given with a value that
 * asks for a change (runc treats 0 as "not set" for most numbers).
 */
struct oci_resources {
	bool has_mem_limit, has_mem_reservation, has_mem_swap, has_swappiness, has_disable_oom,
		has_mem_kernel, has_mem_kernel_tcp;
	int64_t mem_limit, mem_reservation, mem_swap; /* -1: unlimited */
	int64_t mem_kernel, mem_kernel_tcp;           /* deprecated: parsed, not applied (runc) */
	uint64_t swappiness;
	bool disable_oom;

	bool has_cpu_shares, has_cpu_quota, has_cpu_period, has_rt_runtime, has_rt_period,
		has_cpu_idle, has_cpu_burst;
	uint64_t cpu_shares, cpu_period, rt_period, cpu_burst;
	int64_t cpu_quota, rt_runtime, cpu_idle;
	char *cpus, *mems;

	bool has_pids;
	int64_t pids_limit; /* -1: max */

	bool has_blkio_weight, has_blkio_leaf_weight;
	uint64_t blkio_weight, blkio_leaf_weight;
	struct oci_blkio_dev *weight_dev;
	size_t n_weight_dev;
	struct oci_blkio_dev *throttle[OCI_THR_COUNT];
	size_t n_throttle[OCI_THR_COUNT];

	struct oci_hugepage *hugepages;
	size_t n_hugepages;

	bool has_net_classid;
	uint64_t net_classid;
	struct oci_kv *net_prio; /* interface name, priority as decimal text */
	size_t n_net_prio;

	struct oci_rdma *rdma;
	size_t n_rdma;

	bool has_devices; /* linux.resources.devices given (possibly empty) */
	struct oci_dev_rule *devices;
	size_t n_devices;

	struct oci_kv *unified;
	size_t n_unified;
};

/*
 * Parse and validate a linux.resources object (NULL: nothing set) into *ret; where names it
 * ("config.json: linux.resources", "r.json: resources"). On error *ret is cleared.
 */
int spec_resources_parse(json_t *resources, const char *where, struct oci_resources *ret,
			struct hull_err *err);
/* Free what r holds and zero it. */
void spec_resources_clear(struct oci_resources *r);

/*
 * One linux.resources.devices[] item ({"allow", "type", "major", "minor", "access"}); where
 * names the item. Absent type is 'a', absent major/minor -1, absent access "" (matches
 * nothing, as in runc). The access letters are stored in canonical order.
 */
int spec_dev_rule_from_json(json_t *item, const char *where, struct oci_dev_rule *ret,
			   struct hull_err *err);
/* A whole devices[] array (NULL: empty) into a new array *ret_rules (free()). */
int spec_dev_rules_from_json(json_t *arr, const char *where, struct oci_dev_rule **ret_rules,
			    size_t *ret_n, struct hull_err *err);

/* The most rules spec_dev_rules_from_json takes (the BPF program's own limit). */
#define OCI_MAX_DEV_RULES_JSON 4096
#define OCI_CPU_LIST_MAX 8192

/* Whether s is a non-empty cpu/node list as cpuset.cpus takes it ("0-3,5"; numbers < 8192). */
bool spec_cpu_list_is_valid(const char *s);
/* Set the bits of the list s in bits (max/8 bytes, zeroed by the caller); false if malformed. */
bool spec_cpu_list_parse(const char *s, unsigned char *bits, unsigned max);

/*
 * The memory+swap rule (swap >= memory limit unless either is -1 or 0), the one copy: the
 * parser uses it, and cgroup v2's update uses it with the limit in force when the update
 * gives swap alone. w names the memory object ("config.json: linux.resources.memory").
 */
int spec_memory_swap_check(int64_t limit, int64_t swap, const char *w, struct hull_err *err);

enum oci_seccomp_action {
	OCI_SCMP_KILL,
	OCI_SCMP_KILL_THREAD,
	OCI_SCMP_KILL_PROCESS,
	OCI_SCMP_TRAP,
	OCI_SCMP_ERRNO,
	OCI_SCMP_TRACE,
	OCI_SCMP_ALLOW,
	OCI_SCMP_LOG,
	OCI_SCMP_NOTIFY,
	OCI_SCMP_ACTION_COUNT,
};

enum oci_seccomp_op {
	OCI_SCMP_CMP_NE = 1, /* libseccomp's enum scmp_compare numbers */
	OCI_SCMP_CMP_LT,
	OCI_SCMP_CMP_LE,
	OCI_SCMP_CMP_EQ,
	OCI_SCMP_CMP_GE,
	OCI_SCMP_CMP_GT,
	OCI_SCMP_CMP_MASKED_EQ,
	OCI_SCMP_CMP_COUNT,
};

/* seccomp filter flags by bit (SECCOMP_FILTER_FLAG_*, linux/seccomp.h). */
#define OCI_SCMP_FLAG_TSYNC (1U << 0)
#define OCI_SCMP_FLAG_LOG (1U << 1)
#define OCI_SCMP_FLAG_SPEC_ALLOW (1U << 2)
#define OCI_SCMP_FLAG_WAIT_KILLABLE_RECV (1U << 5)

struct oci_seccomp_arg {
	uint32_t index; /* 0..5 */
	uint64_t value, value_two;
	enum oci_seccomp_op op;
};

struct oci_seccomp_rule {
	char **names; /* NULL-terminated, at least one */
	enum oci_seccomp_action action;
	bool has_errno_ret;
	uint32_t errno_ret; /* for ERRNO and TRACE */
	struct oci_seccomp_arg args[6];
	size_t n_args;
};

struct oci_seccomp {
	enum oci_seccomp_action default_action;
	bool has_default_errno_ret;
	uint32_t default_errno_ret;
	char **architectures; /* "SCMP_ARCH_X86_64": names the runtime-spec lists; NULL-term. */
	unsigned int flags;   /* OCI_SCMP_FLAG_* */
	char **flag_names;    /* as given, for the writer (NULL-terminated) */
	char *listener_path;
	char *listener_metadata;
	struct oci_seccomp_rule *syscalls;
	size_t n_syscalls;
};

/* Parse and validate a linux.seccomp object; where names it. *ret: spec_seccomp_free. */
int spec_seccomp_parse(json_t *sec, const char *where, struct oci_seccomp **ret,
		      struct hull_err *err);
void spec_seccomp_free(struct oci_seccomp *s);
const char *spec_seccomp_action_name(enum oci_seccomp_action a);
const char *spec_seccomp_op_name(enum oci_seccomp_op op);
/* Whether the action takes errnoRet (SCMP_ACT_ERRNO, SCMP_ACT_TRACE). */
bool spec_seccomp_action_takes_ret(enum oci_seccomp_action a);

/* The writer's pieces, also used as a canonical text (the seccomp BPF cache key). */
json_t *spec_resources_to_json(const struct oci_resources *r);
json_t *spec_seccomp_to_json(const struct oci_seccomp *s);
