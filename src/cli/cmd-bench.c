/*
 * hull bench compare IMAGE [COMMAND...]: the same image run as a container and as a microVM
 * (`hull run --vm`), side by side and alternated, and the comparison made with numbers from
 * this machine: time to the first output, `run --rm` end to end, memory per instance beyond
 * the workload, disk needed, a CPU-bound and a file-I/O workload, instances in a memory
 * budget. A table on stdout and an SVG chart (docs/performance.md "Containers and VMs").
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench-measure.h"
#include "cli/bench-report.h"
#include "cli/commands.h"
#include "cli/vm-opts.h"
#include "common/alloc.h"
#include "common/size.h"
#include "common/strv.h"
#include "engine/container.h"
#include "image/image.h"

#define BENCH_MAX_RUNS 100
#define BENCH_READY_TIMEOUT_S 300 /* a cold VM boot under nested TCG can take minutes */

struct bench_cfg {
	char self[PATH_MAX];
	const char *image, *kernel, *svg;
	char *const *cmd; /* NULL-terminated; empty: the image's own */
	unsigned runs, cpu_loops, io_mib;
	uint64_t budget;
};

/* Samples of one kind, one slot per run. */
struct bench_samples {
	double first[BENCH_MAX_RUNS], total[BENCH_MAX_RUNS], cpu[BENCH_MAX_RUNS],
		io[BENCH_MAX_RUNS];
	size_t n_first;
};

/* argv for `hull [--root R] run [--vm [--kernel K]] (--rm|-d --name N) --network none IMAGE
 * CMD...`; cmd NULL: the cfg's command. */
static char **kind_argv(const struct bench_cfg *cfg, enum bench_kind k, const char *name,
			char *const *cmd)
{
	char **v = NULL;

	strv_push(&v, cfg->self);
	if (cli_root) {
		strv_push(&v, "--root");
		strv_push(&v, cli_root);
	}
	strv_push(&v, "run");
	if (k != BENCH_CTR) {
		strv_push(&v, "--vm");
		if (cfg->kernel) {
			strv_push(&v, "--kernel");
			strv_push(&v, cfg->kernel);
		}
	}
	if (name) {
		strv_push(&v, "-d");
		strv_push(&v, "--name");
		strv_push(&v, name);
	} else {
		strv_push(&v, "--rm");
	}
	strv_push(&v, "--network");
	strv_push(&v, "none");
	strv_push(&v, cfg->image);
	for (char *const *c = cmd ? cmd : cfg->cmd; *c; c++)
		strv_push(&v, *c);
	return v;
}

/* hull with argv as kind k runs it: the cold microVM with HULL_VM_COLD=1 (docs/engine.md
 * "Fast start"), the restored one without. */
static int bench_run_kind(const struct bench_cfg *cfg, enum bench_kind k, char *const *argv,
			  struct bench_run *r)
{
	int rc;

	if (k == BENCH_VM)
		(void)setenv("HULL_VM_COLD", "1", 1);
	else
		(void)unsetenv("HULL_VM_COLD");
	rc = bench_run_hull(cfg->self, argv, r);
	(void)unsetenv("HULL_VM_COLD");
	return rc;
}

/* One `run --rm` of kind k; a failure (exit 125-127, or non-zero where want_zero) marks the
 * kind failed with what hull said. Returns the run's total seconds, or -1. */
static double timed(const struct bench_cfg *cfg, enum bench_kind k, char *const *cmd,
		    bool want_zero, struct bench_result *res, double *ret_first)
{
	cleanup_strv char **argv = kind_argv(cfg, k, NULL, cmd);
	struct bench_run r;
	int rc = bench_run_kind(cfg, k, argv, &r);

	if (rc < 0 || (r.code >= 125 && r.code <= 127) || (want_zero && r.code != 0)) {
		res->failed[k] = true;
		(void)snprintf(res->why[k], sizeof(res->why[k]), "%s (exit %d)",
			       rc < 0 ? strerror(-rc) : r.err_line[0] ? r.err_line : "no message",
			       rc < 0 ? -1 : r.code);
		return -1;
	}
	if (ret_first)
		*ret_first = r.first_s;
	return r.total_s;
}

static void one_round(const struct bench_cfg *cfg, enum bench_kind k, struct bench_samples *s,
		      size_t i, struct bench_result *res)
{
	char loop[160], io[200];
	char *cpu_cmd[] = { (char *)"/bin/sh", (char *)"-c", loop, NULL };
	char *io_cmd[] = { (char *)"/bin/sh", (char *)"-c", io, NULL };
	double first = -1;

	(void)snprintf(loop, sizeof(loop),
		       "i=0; while [ $i -lt %u ]; do i=$((i+1)); done", cfg->cpu_loops);
	(void)snprintf(io, sizeof(io),
		       "dd if=/dev/zero of=/bench-io bs=1048576 count=%u conv=fsync 2>/dev/null"
		       " && cat /bench-io >/dev/null && rm /bench-io", cfg->io_mib);
	if (res->failed[k])
		return;
	s->total[i] = timed(cfg, k, NULL, false, res, &first);
	if (first >= 0)
		s->first[s->n_first++] = first;
	if (!res->failed[k])
		s->cpu[i] = timed(cfg, k, cpu_cmd, true, res, NULL);
	if (!res->failed[k])
		s->io[i] = timed(cfg, k, io_cmd, true, res, NULL);
}

static double nonneg(double x)
{
	return x > 0 ? x : 0;
}

static void times_from(const struct bench_cfg *cfg, struct bench_samples *s, enum bench_kind k,
		       struct bench_result *res)
{
	double base;

	if (res->failed[k])
		return;
	res->v[k][BENCH_TOTAL] = base = bench_median(s->total, cfg->runs);
	res->have[k][BENCH_TOTAL] = true;
	if (s->n_first) {
		res->v[k][BENCH_FIRST] = bench_median(s->first, s->n_first);
		res->have[k][BENCH_FIRST] = true;
	}
	/* a workload's own time: its run less the plain run (the same start-up and teardown) */
	res->v[k][BENCH_CPU] = nonneg(bench_median(s->cpu, cfg->runs) - base);
	res->v[k][BENCH_IO] = nonneg(bench_median(s->io, cfg->runs) - base);
	res->have[k][BENCH_CPU] = res->have[k][BENCH_IO] = true;
}

/* Wait for the detached instance to run its process; its record's pids. */
static int wait_running(struct image_store *st, const char *name, pid_t *ret_pid,
			pid_t *ret_monitor)
{
	for (int i = 0; i < BENCH_READY_TIMEOUT_S * 10; i++) {
		cleanup_ctr struct ctr *c = NULL;
		struct hull_err err = { 0 };

		if (ctr_load(st, name, &c, &err) == 0 && c->state.pid > 0) {
			*ret_pid = c->state.pid;
			*ret_monitor = c->state.monitor_pid > 0 ? c->state.monitor_pid : c->state.pid;
			return 0;
		}
		(void)usleep(100 * 1000);
	}
	return -ETIMEDOUT;
}

/*
 * Memory of one detached `sleep` instance of kind k: the PSS of every process hull runs for
 * it (the monitor and what it waits for: the container's processes, or the VM's shim and
 * VMM with the guest RAM the guest touched), less the workload's own (the container's
 * process tree; the same program in the guest is counted as that much).
 */
static void memory_of(const struct bench_cfg *cfg, struct image_store *st, enum bench_kind k,
		      struct bench_result *res, uint64_t *workload)
{
	char name[64], *sleep_cmd[] = { (char *)"sleep", (char *)"600", NULL };
	cleanup_strv char **argv = NULL;
	char *rm[] = { (char *)cfg->self, (char *)"rm", (char *)"-f", name, NULL };
	char *rm_root[] = { (char *)cfg->self, (char *)"--root", (char *)cli_root, (char *)"rm",
			    (char *)"-f", name, NULL };
	struct bench_run r;
	pid_t pid, monitor;
	uint64_t all = 0, own = 0;

	if (res->failed[k])
		return;
	(void)snprintf(name, sizeof(name), "hull-bench-%d-%s", (int)getpid(),
		       k == BENCH_VM ? "vm" : k == BENCH_VM_WARM ? "vmw" : "ctr");
	argv = kind_argv(cfg, k, name, sleep_cmd);
	if (bench_run_kind(cfg, k, argv, &r) < 0 || r.code != 0) {
		res->failed[k] = true;
		(void)snprintf(res->why[k], sizeof(res->why[k]), "run -d: %s (exit %d)",
			       r.err_line, r.code);
		return;
	}
	if (wait_running(st, name, &pid, &monitor) == 0 && bench_tree_pss(monitor, &all) == 0) {
		if (k == BENCH_CTR && bench_tree_pss(pid, &own) == 0)
			*workload = own;
		own = *workload;
		res->v[k][BENCH_MEM] = (double)(all > own ? all - own : 0);
		res->have[k][BENCH_MEM] = true;
		if (cfg->budget && all) {
			res->v[k][BENCH_FIT] = (double)(cfg->budget / all);
			res->have[k][BENCH_FIT] = true;
		}
	}
	(void)bench_run_hull(cfg->self, cli_root ? rm_root : rm, &r);
}

/* The files each kind needs: the image's unpacked layers; for a VM also the root image
 * built from them, the initramfs files and the kernel (<store>/vm, engine/vmroot.c). */
static void disk_of(const struct bench_cfg *cfg, struct image_store *st, struct bench_result *res)
{
	struct image_info info = { 0 };
	struct hull_err err = { 0 };
	cleanup_strv char **diff_ids = NULL;
	json_t *config = NULL;
	uint64_t layers = 0, extra = 0, warm = 0, n;
	char rel[96];

	if (image_lookup(st, cfg->image, &info, &err) < 0 ||
	    image_config(st, &info, &config, &diff_ids, &err) < 0) {
		image_info_clear(&info);
		return;
	}
	json_decref(config);
	for (char **d = diff_ids; d && *d; d++) {
		cleanup_free char *p = store_layer_relpath(*d);
		if (p && store_du_at(st->root_fd, p, &n) == 0)
			layers += n;
	}
	res->v[BENCH_CTR][BENCH_DISK] = (double)layers;
	res->have[BENCH_CTR][BENCH_DISK] = true;
	(void)snprintf(rel, sizeof(rel), "vm/%s", info.config + strlen("sha256:"));
	if (store_du_at(st->root_fd, rel, &n) == 0) {
		/* the image's directory holds the warm snapshot too: the restored kind's alone */
		bench_vm_warm_du(st, rel, &warm);
		extra += n - (warm < n ? warm : n);
		if (bench_vm_boot_files(st, cfg->kernel, &n) == 0)
			extra += n;
		for (int k = BENCH_VM; k < BENCH_KINDS; k++) {
			if (res->failed[k] || (k == BENCH_VM_WARM && !warm))
				continue;
			res->v[k][BENCH_DISK] = (double)(layers + extra +
							 (k == BENCH_VM_WARM ? warm : 0));
			res->have[k][BENCH_DISK] = true;
		}
	}
	image_info_clear(&info);
}

static int compare(const struct bench_cfg *cfg)
{
	cleanup_image_store struct image_store *st = NULL;
	static struct bench_samples s[BENCH_KINDS];
	struct bench_result res = { 0 };
	uint64_t workload = 0;

	if (cli_store_open("bench", &st) != 0)
		return EXIT_ENGINE;
	/* the warm snapshot built (or found) before the rounds: the restored runs time restores */
	(void)timed(cfg, BENCH_VM_WARM, NULL, false, &res, NULL);
	for (size_t i = 0; i < cfg->runs; i++)
		for (int k = 0; k < BENCH_KINDS; k++) /* alternated: container, cold, restored... */
			one_round(cfg, (enum bench_kind)k, &s[k], i, &res);
	for (int k = 0; k < BENCH_KINDS; k++) {
		times_from(cfg, &s[k], (enum bench_kind)k, &res);
		memory_of(cfg, st, (enum bench_kind)k, &res, &workload);
	}
	disk_of(cfg, st, &res);
	bench_report_table(stdout, cfg->image, cfg->runs, cfg->budget, &res);
	if (cfg->svg && *cfg->svg) {
		struct hull_err err = { 0 };
		if (bench_report_svg(cfg->svg, cfg->image, &res, &err) < 0)
			return cli_fail("bench compare", &err);
		printf("chart: %s\n", cfg->svg);
	}
	for (int k = 0; k < BENCH_KINDS; k++)
		if (res.failed[k])
			return cli_usage_error("bench compare", "%s: %s", bench_kind_name[k],
					       res.why[k]);
	return 0;
}

enum { OPT_RUNS = 0x2000, OPT_SVG, OPT_KERNEL, OPT_BUDGET, OPT_CPU, OPT_IO };

static int parse_uint(const char *flag, const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	if (vm_opt_uint(s, ret) < 0 || *ret < lo || *ret > hi)
		return cli_usage_error("bench compare", "%s: %s: not a number from %u to %u",
				       flag, s, lo, hi);
	return 0;
}

static int compare_main(int argc, char **argv)
{
	struct bench_cfg cfg = { .runs = 5, .cpu_loops = 100000, .io_mib = 64,
				 .budget = 4ull << 30, .svg = "bench-compare.svg" };
	static char *no_cmd[] = { NULL };
	int64_t budget;
	ssize_t n;
	int c;
	static const struct cli_option opts[] = {
		{ "runs", required_argument, NULL, OPT_RUNS, "N", "rounds, alternated (default 5)" },
		{ "svg", required_argument, NULL, OPT_SVG, "FILE",
		  "write the chart here (default bench-compare.svg; \"\": none)" },
		{ "kernel", required_argument, NULL, OPT_KERNEL, "FILE",
		  "the microVM's kernel (run --vm --kernel)" },
		{ "budget", required_argument, NULL, OPT_BUDGET, "SIZE",
		  "memory budget for the instances-that-fit row (default 4g)" },
		{ "cpu-loops", required_argument, NULL, OPT_CPU, "N",
		  "iterations of the CPU-bound shell loop (default 100000)" },
		{ "io-mib", required_argument, NULL, OPT_IO, "N",
		  "MiB the file-I/O workload writes, syncs and reads (default 64)" },
		{ 0 }
	};
	static const struct cli_command def = {
		.name = "bench compare", .args = "[OPTIONS] IMAGE [COMMAND [ARG...]]",
		.optstring = "+", .opts = opts,
		.summary = "Run an image as a container and as a microVM, side by side, and "
			   "compare.",
	};

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		switch (c) {
		case OPT_RUNS:
			if (parse_uint("--runs", optarg, 1, BENCH_MAX_RUNS, &cfg.runs))
				return EXIT_ENGINE;
			break;
		case OPT_CPU:
			if (parse_uint("--cpu-loops", optarg, 1, 100000000, &cfg.cpu_loops))
				return EXIT_ENGINE;
			break;
		case OPT_IO:
			if (parse_uint("--io-mib", optarg, 1, 65536, &cfg.io_mib))
				return EXIT_ENGINE;
			break;
		case OPT_SVG:
			cfg.svg = optarg;
			break;
		case OPT_KERNEL:
			cfg.kernel = optarg;
			break;
		case OPT_BUDGET:
			if (size_parse(optarg, SIZE_DOCKER, &budget) < 0 || budget <= 0)
				return cli_usage_error("bench compare", "--budget: %s: not a size",
						       optarg);
			cfg.budget = (uint64_t)budget;
			break;
		default:
			return EXIT_ENGINE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("bench compare",
				       "usage: hull bench compare [OPTIONS] IMAGE [COMMAND...]");
	cfg.image = argv[optind];
	cfg.cmd = optind + 1 < argc ? &argv[optind + 1] : no_cmd;
	n = readlink("/proc/self/exe", cfg.self, sizeof(cfg.self) - 1);
	if (n <= 0)
		return cli_usage_error("bench compare", "/proc/self/exe: %s", strerror(errno));
	cfg.self[n] = '\0';
	return compare(&cfg);
}

int cmd_bench(int argc, char **argv)
{
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "bench", .args = "compare [OPTIONS] IMAGE [COMMAND...]", .optstring = "+",
		.opts = opts,
		.summary = "Measure hull on this machine: `compare` runs an image as a container "
			   "and as a microVM.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return EXIT_ENGINE;
	if (optind >= argc || strcmp(argv[optind], "compare") != 0)
		return cli_usage_error("bench", "usage: hull bench compare [OPTIONS] IMAGE "
						"[COMMAND...]");
	argv += optind;
	argc -= optind;
	optind = 0;
	return compare_main(argc, argv);
}
