#pragma once
/* Shared by cgroup.c, cgroup-res.c, cgroup-v1.c and cgroup-v2.c only. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "container/cgroup-devices.h"
#include "container/cgroup.h"

#define CG_MAX_DEVICE_RULES 1024
#define CG_MAX_BLKIO_DEVICES 256
#define CG_MAX_HUGEPAGES 16
#define CG_MAX_UNIFIED 256
#define CG_VALUE_MAX 4096


struct cg_blkio_dev {
	int64_t major, minor;
	uint64_t value; /* weight, or a throttle rate */
	bool has_value;
};

enum cg_throttle {
	CG_THR_READ_BPS,
	CG_THR_WRITE_BPS,
	CG_THR_READ_IOPS,
	CG_THR_WRITE_IOPS,
	CG_THR_COUNT,
};

struct cg_hugepage {
	char *page_size; /* "2MB" */
	uint64_t limit;
};

struct cg_kv {
	char *key;
	char *value;
};

/*
 * linux.resources, validated. A has_ flag is set when the field was given with a value that
 * asks for a change (runc treats 0 as "not set" for most numbers).
 */
struct cg_res {
	bool has_mem_limit, has_mem_reservation, has_mem_swap, has_swappiness, has_disable_oom;
	int64_t mem_limit, mem_reservation, mem_swap; /* -1: unlimited */
	uint64_t swappiness;
	bool disable_oom;

	bool has_cpu_shares, has_cpu_quota, has_cpu_period, has_rt_runtime, has_rt_period,
		has_cpu_idle, has_cpu_burst;
	uint64_t cpu_shares, cpu_period, rt_period, cpu_burst;
	int64_t cpu_quota, rt_runtime, cpu_idle;
	char *cpus, *mems;

	bool has_pids;
	int64_t pids_limit; /* -1: max */

	bool has_blkio_weight;
	uint64_t blkio_weight;
	struct cg_blkio_dev *weight_dev;
	size_t n_weight_dev;
	struct cg_blkio_dev *throttle[CG_THR_COUNT];
	size_t n_throttle[CG_THR_COUNT];

	struct cg_hugepage *hugepages;
	size_t n_hugepages;

	bool has_net_classid;
	uint64_t net_classid;
	struct cg_kv *net_prio;
	size_t n_net_prio;

	bool has_devices;
	struct cgroup_dev_rule *devices;
	size_t n_devices;

	struct cg_kv *unified;
	size_t n_unified;
};

/*
 * Parse and validate resources (may be NULL: nothing set). where: "config.json:
 * linux.resources". with_devices: also build the device rules (runc's defaults, then
 * linux.devices of s when s is not NULL, then resources.devices).
 */
int cg_res_parse(json_t *resources, const char *where, const struct oci_spec *s,
		 bool with_devices, struct cg_res *ret, struct hull_err *err);
void cg_res_clear(struct cg_res *r);

/* One value to write into one cgroup file; field names it for errors. */
struct cg_write {
	enum cgroup_ctrl ctrl;
	char *file;
	char *value;
	const char *field;   /* "memory.limit": static */
	bool restorable;     /* reading the file gives a value that can be written back */
	bool optional;       /* a missing file is skipped (with a debug line) */
};

struct cg_plan {
	struct cg_write *w;
	size_t n, cap;
};

void cg_plan_add(struct cg_plan *p, enum cgroup_ctrl ctrl, const char *file, const char *field,
		 bool restorable, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void cg_plan_clear(struct cg_plan *p);

/* The writes for resources on each back end; errors for what that back end cannot do. */
int cgv1_plan(const struct cgroup_paths *p, const struct cg_res *r, const char *where,
	      struct cg_plan *out, struct hull_err *err);
int cgv2_plan(const struct cgroup_paths *p, const struct cg_res *r, const char *where,
	      struct cg_plan *out, struct hull_err *err);

/* Host checks shared by both back ends. */
int cg_check_cpuset(const char *dir_parent_cpus, const char *field, const char *want,
		    struct hull_err *err);
bool cg_block_device_exists(int64_t major, int64_t minor);
/* Whether the controller's directory exists and holds file. */
bool cg_has_file(const struct cgroup_paths *p, enum cgroup_ctrl c, const char *file);

/*
 * Plan pieces alike on both back ends, into the files of ctrl. cpuset: r->cpus and r->mems,
 * checked against the parent of dir's effective sets (files eff_cpus, eff_mems). hugepages: hugetlb.<size>.<suffix>, with the page size checked.
 */
int cg_plan_cpuset(const char *dir, enum cgroup_ctrl ctrl, const char *eff_cpus,
		   const char *eff_mems, const struct cg_res *r, const char *where,
		   struct cg_plan *out, struct hull_err *err);
void cg_plan_pids(const struct cg_res *r, enum cgroup_ctrl ctrl, struct cg_plan *out);
int cg_plan_hugepages(const struct cgroup_paths *p, enum cgroup_ctrl ctrl, const char *suffix,
		      const struct cg_res *r, const char *where, struct cg_plan *out,
		      struct hull_err *err);

/* Read dir/file into buf (trailing newline dropped); 0 or -errno. */
int cg_read(const char *dir, const char *file, char *buf, size_t size);
/* Whole file as a heap string (NULL on error). */
char *cg_read_alloc(const char *dir, const char *file);
int cg_write_str(const char *dir, const char *file, const char *value);
int cg_read_u64(const char *dir, const char *file, uint64_t *ret);
/* "key value" lines: the value for key (memory.stat, cpu.stat, memory.events). */
int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret);

/* Stats helpers: v as a JSON integer (capped at INT64_MAX; omitempty: not when 0). */
void cg_json_set_u64(json_t *o, const char *key, uint64_t v, bool omitempty);
/* The next line of a buffer split in place (*cursor advances); NULL at the end. */
char *cg_next_line(char **cursor);
/* "key number" lines (memory.stat, cpu.stat) as a JSON object; empty when unreadable. */
json_t *cg_read_flat_keyed(const char *dir, const char *file);

/* Back-end stats (runc's cgroups.Stats in JSON). */
json_t *cgv1_stats(const struct cgroup_paths *p);
json_t *cgv2_stats(const struct cgroup_paths *p);
