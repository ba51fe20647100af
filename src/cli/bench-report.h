#pragma once
/* The results of `hull bench compare`, printed as a table and drawn as an SVG chart. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

/* BENCH_VM boots cold (HULL_VM_COLD=1), BENCH_VM_WARM restores the warm snapshot */
enum bench_kind { BENCH_CTR, BENCH_VM, BENCH_VM_WARM, BENCH_KINDS };

enum bench_metric {
	BENCH_FIRST, /* seconds from `hull run` to the process's first output */
	BENCH_TOTAL, /* seconds of `hull run --rm` end to end */
	BENCH_CPU,   /* seconds of the CPU-bound workload (its run less the plain run) */
	BENCH_IO,    /* seconds of the file-I/O workload (likewise) */
	BENCH_MEM,   /* bytes of PSS per instance beyond the workload's own */
	BENCH_DISK,  /* bytes on disk the kind needs */
	BENCH_FIT,   /* instances that fit in the memory budget */
	BENCH_METRICS
};

extern const char *const bench_kind_name[BENCH_KINDS];

struct bench_result {
	bool failed[BENCH_KINDS];
	char why[BENCH_KINDS][300];
	double v[BENCH_KINDS][BENCH_METRICS];
	bool have[BENCH_KINDS][BENCH_METRICS];
};

void bench_report_table(FILE *f, const char *image, unsigned runs, uint64_t budget,
			const struct bench_result *r);
/* Write the chart to path (a temporary name, then renamed). 0 or -errno with err set. */
int bench_report_svg(const char *path, const char *image, const struct bench_result *r,
		     struct hull_err *err);
