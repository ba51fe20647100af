#pragma once
/* Shared by cgroup.c, cgroup-fs.c, cgroup-v1.c and cgroup-v2.c only. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "container/cgroup-devices.h"
#include "container/cgroup.h"

#define CG_VALUE_MAX 4096


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
int cgv1_plan(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
	      struct cg_plan *out, struct hull_err *err);
int cgv2_plan(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
	      struct cg_plan *out, struct hull_err *err);

/* Host checks shared by both back ends. */
int cg_check_cpuset(const char *dir_parent_cpus, const char *field, const char *want,
		    struct hull_err *err);
bool cg_block_device_exists(int64_t major, int64_t minor);
/* Every blockIO device of r exists on this host (a host check, so here, not in the model). */
int cg_check_blkio_devices(const struct oci_resources *r, const char *where,
			   struct hull_err *err);
/* Whether the controller's directory exists and holds file. */
bool cg_has_file(const struct cgroup_paths *p, enum cgroup_ctrl c, const char *file);

/*
 * Plan pieces alike on both back ends, into the files of ctrl. cpuset: r->cpus and r->mems,
 * checked against the parent of dir's effective sets (files eff_cpus, eff_mems). hugepages: hugetlb.<size>.<suffix>, with the page size checked.
 */
int cg_plan_cpuset(const char *dir, enum cgroup_ctrl ctrl, const char *eff_cpus,
		   const char *eff_mems, const struct oci_resources *r, const char *where,
		   struct cg_plan *out, struct hull_err *err);
void cg_plan_pids(const struct oci_resources *r, enum cgroup_ctrl ctrl, struct cg_plan *out);
int cg_plan_hugepages(const struct cgroup_paths *p, enum cgroup_ctrl ctrl, const char *suffix,
		      const struct oci_resources *r, const char *where, struct cg_plan *out,
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
