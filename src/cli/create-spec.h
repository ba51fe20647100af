#pragma once
/*
 * The `hull run/create` flags that set one field of the container's config.json and nothing
 * else: ONE ROW EACH in CLI_SPEC_FLAGS below. A row gives the flag, its argument, how the
 * argument is read and bounded, and the field of the spec model (spec/spec.h) it sets; the
 * getopt row (CLI_SPEC_OPTIONS), the parser and the engine's write (spec_field_apply, in
 * engine/config.c after the defaults and the other flags) follow from it. A flag whose
 * config.json field the model does not have yet needs that field in the model, its parser and
 * its writer (spec/spec.c) too. Flags that touch several fields or need engine state stay in
 * cmd-create.c.
 *
 * X(ID, name, KEY, ARG, kind, min, max, unset, TYPE, field, has_field, help)
 *   KEY: the key `hull inspect` shows it under in HostConfig (docker's);
 *   TYPE: the field's C type (spec-field.h: INT, I64, U64, BOOL, STR); has_field: its has_
 *   flag (for STR, which has none, the field again).
 *   kind: CLI_SPEC_NUM (a decimal integer in [min, max]), CLI_SPEC_SIZE (docker's size
 *   grammar, in [min, max] bytes), CLI_SPEC_BOOL (no argument, or =true/=false),
 *   CLI_SPEC_CPUS (a list such as 0-3,5); unset: the value that means "leave the default"
 *   (docker's 0 or -1 for some flags), or CLI_SPEC_NO_UNSET.
 */
#include <stdint.h>

#include "engine/run.h"
#include "spec/spec-field.h"

enum cli_spec_kind { CLI_SPEC_NUM, CLI_SPEC_SIZE, CLI_SPEC_BOOL, CLI_SPEC_CPUS };
#define CLI_SPEC_NO_UNSET INT64_MIN

#define CLI_SPEC_FLAGS(X)                                                                   \
	X(OOM_SCORE_ADJ, "oom-score-adj", "OomScoreAdj", "N", CLI_SPEC_NUM, -1000, 1000,     \
	  CLI_SPEC_NO_UNSET, INT, process.oom_score_adj, process.has_oom_score_adj,           \
	  "the container's OOM score adjustment (-1000 to 1000)")                            \
	X(MEMORY_RESERVATION, "memory-reservation", "MemoryReservation", "SIZE",             \
	  CLI_SPEC_SIZE, 0, INT64_MAX, 0, I64, resources.mem_reservation,                    \
	  resources.has_mem_reservation, "memory soft limit (b, k, m, g; not above -m)")      \
	X(MEMORY_SWAPPINESS, "memory-swappiness", "MemorySwappiness", "N", CLI_SPEC_NUM, -1,  \
	  100, -1, U64, resources.swappiness, resources.has_swappiness,                      \
	  "how readily the kernel swaps the container's memory (0 to 100, -1: the host's)")  \
	X(OOM_KILL_DISABLE, "oom-kill-disable", "OomKillDisable", NULL, CLI_SPEC_BOOL, 0, 1,  \
	  0, BOOL, resources.disable_oom, resources.has_disable_oom,                         \
	  "do not OOM-kill the container's processes (cgroup v1)")                          \
	X(CPU_PERIOD, "cpu-period", "CpuPeriod", "US", CLI_SPEC_NUM, 1000, 1000000, 0, U64,   \
	  resources.cpu_period, resources.has_cpu_period,                                    \
	  "CFS period in microseconds (1000 to 1000000; not with --cpus)")                   \
	X(CPU_QUOTA, "cpu-quota", "CpuQuota", "US", CLI_SPEC_NUM, -1, INT64_C(1) << 40, 0,    \
	  I64, resources.cpu_quota, resources.has_cpu_quota,                                 \
	  "CFS quota in microseconds per period (at least 1000, -1: none; not with --cpus)")  \
	X(CPUSET_MEMS, "cpuset-mems", "CpusetMems", "LIST", CLI_SPEC_CPUS, 0, 0,             \
	  CLI_SPEC_NO_UNSET, STR, resources.mems, resources.mems,                            \
	  "memory nodes the container may use (e.g. 0-1)")                                  \
	X(BLKIO_WEIGHT, "blkio-weight", "BlkioWeight", "N", CLI_SPEC_NUM, 10, 1000, 0, U64,  \
	  resources.blkio_weight, resources.has_blkio_weight,                                \
	  "relative block I/O weight (10 to 1000, 0: none)")

enum {
	CLI_SPEC_FIRST = 0x1200, /* after create-security.h's values */
#define CLI_SPEC_ENUM(id, ...) CLI_SPEC_##id,
	CLI_SPEC_FLAGS(CLI_SPEC_ENUM)
#undef CLI_SPEC_ENUM
	CLI_SPEC_END,
};

#define CLI_SPEC_OPTION(id, name, key, arg, kind, min, max, unset, type, field, has, help)       \
	{ name, (kind) == CLI_SPEC_BOOL ? no_argument : required_argument, NULL,             \
	  CLI_SPEC_##id, arg, help },
#define CLI_SPEC_OPTIONS CLI_SPEC_FLAGS(CLI_SPEC_OPTION)

/* One of the flags above (opt: CLI_SPEC_*) into o->spec_sets; 0, or the exit code after one
 * line naming the flag. */
int cli_spec_opt(const char *cmd, int opt, const char *arg, struct run_opts *o);
/* The rules between them and the other flags, once all are parsed: --cpus with --cpu-period
 * or --cpu-quota, --memory-reservation above -m, a quota below 1 ms (docker's). */
int cli_spec_check(const char *cmd, const struct run_opts *o);
void cli_spec_free(struct run_opts *o);
