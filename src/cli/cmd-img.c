/* hull img: qemu-img compatible disk image commands (logic in src/disk/img-*.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd-img.h"
#include "cli/commands.h"
#include "common/cleanup.h"
#include "disk/img.h"

static int fail(const struct hull_err *err)
{
	fprintf(stderr, "hull img: %s\n", err->msg);
	return 1;
}

int usage_err(const char *cmd, const char *msg)
{
	fprintf(stderr, "hull img %s: %s (see 'hull img %s --help')\n", cmd, msg, cmd);
	return 1;
}

int parse_fmt(const char *cmd, const char *s, enum disk_format *ret)
{
	if (disk_format_parse(s, ret) < 0 || *ret == DISK_FORMAT_AUTO) {
		fprintf(stderr, "hull img %s: unknown format '%s' (raw or qcow2)\n", cmd, s);
		return -1;
	}
	return 0;
}

/* qemu's human sizes: "4 MiB", "1.5 GiB", "324 KiB" */
static void human_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	size_t u = 0;

	while (d >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else if (d >= 100 || d == (double)(uint64_t)d)
		snprintf(buf, len, "%.0f %s", d, units[u]);
	else
		snprintf(buf, len, "%.3g %s", d, units[u]);
}

enum { OPT_OUTPUT = 256, OPT_SHRINK, OPT_BACKING_CHAIN, OPT_IMAGE_OPTS };

/* qemu-img's options, per command; -h is --help, as qemu-img has it */
#define O_FORMAT { "format", required_argument, NULL, 'f', "FMT", "the image's format: raw " \
							       "or qcow2 (default: probed)" }
#define O_QUIET { NULL, no_argument, NULL, 'q', NULL, "quiet: print no messages" }
#define O_SHARE IMG_O_SHARE
#define O_PROGRESS { NULL, no_argument, NULL, 'p', NULL, "show progress" }
#define O_OUTPUT { "output", required_argument, NULL, OPT_OUTPUT, "FMT", "human or json" }
#define O_BACKING(h) { NULL, required_argument, NULL, 'b', "BACKING", h }
#define O_BACKING_FMT { NULL, required_argument, NULL, 'F', "FMT", "the backing file's format" }
#define O_UNSAFE(h) { NULL, no_argument, NULL, 'u', NULL, h }

static const struct cli_option create_opts[] = {
	O_FORMAT, O_BACKING("backing file: the new image starts as its copy-on-write overlay"),
	O_BACKING_FMT,
	{ NULL, required_argument, NULL, 'o', "OPTIONS",
	  "format options: cluster_size=N, backing_file=F, backing_fmt=F, size=N" },
	O_QUIET, O_UNSAFE("create even when the backing file cannot be opened"), { 0 },
};
static const struct cli_option info_opts[] = {
	O_FORMAT, O_OUTPUT,
	{ "backing-chain", no_argument, NULL, OPT_BACKING_CHAIN, NULL,
	  "also show the backing files, down the chain" },
	O_SHARE, { 0 },
};
static const struct cli_option check_opts[] = {
	O_FORMAT, O_OUTPUT,
	{ NULL, required_argument, NULL, 'r', "leaks|all", "repair what check finds" },
	O_QUIET, O_SHARE, { 0 },
};
static const struct cli_option convert_opts[] = {
	O_FORMAT,
	{ NULL, required_argument, NULL, 'O', "FMT", "the output's format (default raw)" },
	{ NULL, required_argument, NULL, 'o', "OPTIONS", "the output's format options" },
	{ NULL, no_argument, NULL, 'c', NULL, "compress (qcow2 output)" },
	{ NULL, required_argument, NULL, 'm', "N", "read N extents at once, 1..16 (default 8)" },
	{ NULL, no_argument, NULL, 'W', NULL, "write extents as they are read, out of order" },
	{ NULL, required_argument, NULL, 't', "CACHE",
	  "the target's cache mode: unsafe syncs nothing; writeback (default), none, "
	  "writethrough, directsync sync it before it gets its name" },
	{ NULL, required_argument, NULL, 'T', "CACHE", "the source's cache mode (accepted)" },
	O_PROGRESS, O_QUIET, O_SHARE, { 0 },
};
static const struct cli_option commit_opts[] = {
	O_FORMAT,
	{ NULL, no_argument, NULL, 'd', NULL, "keep the overlay's data (do not empty it)" },
	O_QUIET, O_PROGRESS, { 0 },
};
static const struct cli_option rebase_opts[] = {
	O_FORMAT, O_BACKING("the new backing file (\"\" for none)"), O_BACKING_FMT,
	O_UNSAFE("only change the name: copy no data"), O_QUIET, O_PROGRESS, { 0 },
};
static const struct cli_option resize_opts[] = {
	O_FORMAT,
	{ "shrink", no_argument, NULL, OPT_SHRINK, NULL, "allow the image to shrink" },
	O_QUIET, { 0 },
};
static const struct cli_option map_opts[] = { O_FORMAT, O_OUTPUT, O_SHARE, { 0 } };

static const struct cli_command img_defs[] = {
	{ .name = "img create", .args = "[OPTIONS] FILE [SIZE]", .optstring = "+f:b:F:o:qu",
	  .opts = create_opts, .summary = "Create a disk image of SIZE bytes (k, M, G, T)." },
	{ .name = "img info", .args = "[OPTIONS] FILE", .optstring = "+f:U", .opts = info_opts,
	  .summary = "Show an image's format, sizes and backing file." },
	{ .name = "img check", .args = "[OPTIONS] FILE", .optstring = "+f:r:qU",
	  .opts = check_opts, .summary = "Check a qcow2 image's metadata for errors and leaks." },
	{ .name = "img convert", .args = "[OPTIONS] SOURCE TARGET", .optstring = "+f:O:o:cpqUm:Wt:T:",
	  .opts = convert_opts, .summary = "Copy an image, in another format or flattened." },
	{ .name = "img commit", .args = "[OPTIONS] FILE", .optstring = "+f:dqp",
	  .opts = commit_opts, .summary = "Write an overlay's data into its backing file." },
	{ .name = "img rebase", .args = "[OPTIONS] -b BACKING FILE", .optstring = "+f:b:F:uqp",
	  .opts = rebase_opts, .summary = "Give an overlay another backing file." },
	{ .name = "img resize", .args = "[OPTIONS] FILE [+|-]SIZE", .optstring = "+f:q",
	  .opts = resize_opts, .summary = "Change an image's virtual size." },
	{ .name = "img map", .args = "[OPTIONS] FILE", .optstring = "+f:U", .opts = map_opts,
	  .summary = "Show where an image's data is (which file, which offset)." },
	{ .name = "img compare", .args = "[OPTIONS] FILE1 FILE2", .optstring = "+f:F:sqpUT:",
	  .opts = img_compare_opts,
	  .summary = "Compare two images' contents (exit 0 same, 1 different, 2+ error)." },
	{ .name = "img measure", .args = "[OPTIONS] (--size SIZE | FILE)", .optstring = "+f:O:o:U",
	  .opts = img_measure_opts, .summary = "Show the file size a new image would need." },
	{ .name = "img dd", .args = "[OPTIONS] if=INPUT of=OUTPUT [bs=N] [count=N] [skip=N]",
	  .optstring = "+f:O:U", .opts = img_dd_opts,
	  .summary = "Copy a range of an image into a new image, like dd." },
	{ .name = "img amend", .args = "[OPTIONS] -o OPTIONS FILE", .optstring = "+f:o:pqt:",
	  .opts = img_amend_opts,
	  .summary = "Change a qcow2 image's compat, lazy_refcounts, refcount_bits or size." },
	{ .name = "img snapshot", .args = "[-l | -c NAME | -a SNAPSHOT | -d NAME] [OPTIONS] FILE",
	  .optstring = "+lc:a:d:f:qU", .opts = img_snapshot_opts,
	  .summary = "List, create, apply or delete a qcow2 image's internal snapshots." },
	{ .name = "img bench", .args = "[OPTIONS] FILE", .optstring = "+c:d:f:o:s:S:wt:i:nqU",
	  .opts = img_bench_opts, .summary = "Time a stream of reads or writes, as qemu-img bench." },
};

const struct cli_command *img_def(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(img_defs); i++)
		if (strcmp(img_defs[i].name + 4, cmd) == 0)
			return &img_defs[i];
	abort(); /* every command has its table */
}

struct img_args {
	enum disk_format fmt, out_fmt, backing_fmt;
	const char *backing, *opts, *repair, *output;
	bool quiet, compress, unsafe, shrink, keep, backing_set, chain, progress, share;
	bool out_of_order; /* convert -W */
	bool no_sync;      /* convert -t unsafe */
	unsigned parallel; /* convert -m */
	char **pos;
	int npos;
};

/* convert -m: 1..16 in decimal, as qemu-img takes it */
static int parse_parallel(const char *cmd, const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < 1 || v > IMG_CONVERT_MAX_PARALLEL) {
		fprintf(stderr, "hull img %s: -m '%s': invalid number of coroutines (allowed: "
			"1 to %d)\n", cmd, s, IMG_CONVERT_MAX_PARALLEL);
		return -1;
	}
	*ret = (unsigned)v;
	return 0;
}

/* convert -t/-T: qemu's cache modes; only unsafe changes what hull does (see img.h) */
static int parse_cache(const char *cmd, int opt, const char *s, bool *ret_no_sync)
{
	static const char *const modes[] = { "none", "writeback", "writethrough", "directsync",
					     "unsafe" };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		if (strcmp(s, modes[i]) == 0) {
			if (opt == 't')
				*ret_no_sync = strcmp(s, "unsafe") == 0;
			return 0;
		}
	}
	fprintf(stderr, "hull img %s: -%c '%s': invalid cache option (none, writeback, "
		"writethrough, directsync or unsafe)\n", cmd, opt, s);
	return -1;
}

/* optstr: the command's short options, as in img_defs (kept for reading the call sites) */
static int parse_args(const char *cmd, int argc, char **argv, const char *optstr,
		      struct img_args *a)
{
	const struct cli_command *def = img_def(cmd);
	int c;

	memset(a, 0, sizeof(*a));
	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'f':
			if (parse_fmt(cmd, optarg, &a->fmt) < 0)
				return -1;
			break;
		case 'O':
			if (parse_fmt(cmd, optarg, &a->out_fmt) < 0)
				return -1;
			break;
		case 'F':
			if (parse_fmt(cmd, optarg, &a->backing_fmt) < 0)
				return -1;
			break;
		case 'b':
			a->backing = optarg;
			a->backing_set = true;
			break;
		case 'o': a->opts = optarg; break;
		case 'r': a->repair = optarg; break;
		case 'q': a->quiet = cli_opt_on; break;
		case 'c': a->compress = cli_opt_on; break;
		case 'u': a->unsafe = cli_opt_on; break;
		case 'd': a->keep = cli_opt_on; break;
		case 'p': a->progress = cli_opt_on; break;
		case 'W': a->out_of_order = cli_opt_on; break;
		case 't':
		case 'T':
			if (parse_cache(cmd, c, optarg, &a->no_sync) < 0)
				return -1;
			break;
		case 'm':
			if (parse_parallel(cmd, optarg, &a->parallel) < 0)
				return -1;
			break;
		case 'U':
			a->share = cli_opt_on;
			img_set_force_share(a->share);
			break;
		case OPT_SHRINK: a->shrink = cli_opt_on; break;
		case OPT_BACKING_CHAIN: a->chain = cli_opt_on; break;
		case OPT_OUTPUT:
			if (strcmp(optarg, "json") && strcmp(optarg, "human")) {
				usage_err(cmd, "--output must be 'human' or 'json'");
				return -1;
			}
			a->output = optarg;
			break;
		default:
			return -1;
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	return 0;
}

static bool is_json(const struct img_args *a)
{
	return a->output && strcmp(a->output, "json") == 0;
}

static int img_create_cmd(int argc, char **argv)
{
	struct disk_create_opts o = { 0 };
	cleanup_free char *obuf = NULL;
	struct hull_err err = { 0 };
	struct img_args a;

	if (parse_args("create", argc, argv, "+f:b:F:o:qu", &a) < 0)
		return 1;
	if (a.npos < 1 || a.npos > 2 || (a.npos == 1 && !a.backing))
		return usage_err("create", "expected FILE SIZE");
	o.format = a.fmt == DISK_FORMAT_AUTO ? DISK_FORMAT_RAW : a.fmt;
	if (a.opts && img_parse_create_opts(a.opts, &o, &obuf, &err) < 0)
		return fail(&err);
	if (a.backing)
		o.backing_file = a.backing;
	if (a.backing_fmt)
		o.backing_format = a.backing_fmt;
	if (a.npos == 2 && img_parse_size(a.pos[1], &o.size) < 0) {
		fprintf(stderr, "hull img create: invalid size '%s'\n", a.pos[1]);
		return 1;
	}
	/* after success: a failed create says only why (qemu-img prints this line first) */
	if (img_create(a.pos[0], &o, &err) < 0)
		return fail(&err);
	if (!a.quiet)
		printf("Formatting '%s', fmt=%s size=%" PRIu64 "%s%s\n", a.pos[0],
		       disk_format_name(o.format), o.size, o.backing_file ? " backing_file=" : "",
		       o.backing_file ? o.backing_file : "");
	return 0;
}

static void print_info_human(json_t *o)
{
	json_t *fs = json_object_get(o, "format-specific"), *snaps = json_object_get(o, "snapshots");
	char a[64], b[64];
	const char *key;
	json_t *v;

	human_size((uint64_t)json_integer_value(json_object_get(o, "virtual-size")), a, sizeof(a));
	human_size((uint64_t)json_integer_value(json_object_get(o, "actual-size")), b, sizeof(b));
	printf("image: %s\nfile format: %s\nvirtual size: %s (%" JSON_INTEGER_FORMAT
	       " bytes)\ndisk size: %s\n",
	       json_string_value(json_object_get(o, "filename")),
	       json_string_value(json_object_get(o, "format")), a,
	       json_integer_value(json_object_get(o, "virtual-size")), b);
	if (json_object_get(o, "cluster-size"))
		printf("cluster_size: %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(o, "cluster-size")));
	if (json_object_get(o, "backing-filename"))
		printf("backing file: %s\n",
		       json_string_value(json_object_get(o, "backing-filename")));
	if (json_object_get(o, "backing-filename-format"))
		printf("backing file format: %s\n",
		       json_string_value(json_object_get(o, "backing-filename-format")));
	if (snaps) {
		size_t i;

		printf("Snapshot list:\nID        TAG               VM SIZE                DATE     "
		       "VM CLOCK     ICOUNT\n");
		json_array_foreach(snaps, i, v) {
			time_t t = (time_t)json_integer_value(json_object_get(v, "date-sec"));
			long long clk = json_integer_value(json_object_get(v, "vm-clock-sec"));
			char date[32];
			struct tm tm;

			human_size((uint64_t)json_integer_value(json_object_get(v, "vm-state-size")),
				   a, sizeof(a));
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
			printf("%-9s %-17s %7s %s %02lld:%02lld:%02lld.%03lld          0\n",
			       json_string_value(json_object_get(v, "id")),
			       json_string_value(json_object_get(v, "name")), a, date, clk / 3600,
			       clk / 60 % 60, clk % 60,
			       json_integer_value(json_object_get(v, "vm-clock-nsec")) / 1000000);
		}
	}
	if (fs) {
		printf("Format specific information:\n");
		json_object_foreach(json_object_get(fs, "data"), key, v) {
			char name[64];

			snprintf(name, sizeof(name), "%s", key);
			for (char *p = name; *p; p++)
				if (*p == '-')
					*p = ' ';
			if (json_is_string(v))
				printf("    %s: %s\n", name, json_string_value(v));
			else if (json_is_boolean(v))
				printf("    %s: %s\n", name, json_is_true(v) ? "true" : "false");
			else
				printf("    %s: %" JSON_INTEGER_FORMAT "\n", name,
				       json_integer_value(v));
		}
	}
}

static int img_info_cmd(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_args a;
	json_t *all, *o = NULL;
	const char *path;
	enum disk_format fmt;
	size_t i;

	if (parse_args("info", argc, argv, "+f:U", &a) < 0)
		return 1;
	if (a.npos != 1)
		return usage_err("info", "expected FILE");
	/* --backing-chain: this image, then each backing file in turn (64 at most) */
	all = json_array();
	path = a.pos[0];
	fmt = a.fmt;
	for (i = 0; path && i < 64; i++) {
		json_t *next, *nfmt;

		if (img_info(path, fmt, &o, &err) < 0) {
			json_decref(all);
			return fail(&err);
		}
		json_array_append_new(all, o);
		next = json_object_get(o, "full-backing-filename");
		nfmt = json_object_get(o, "backing-filename-format");
		path = a.chain && next ? json_string_value(next) : NULL;
		fmt = DISK_FORMAT_AUTO;
		if (nfmt)
			(void)disk_format_parse(json_string_value(nfmt), &fmt);
	}
	if (is_json(&a)) {
		char *s = json_dumps(a.chain ? all : json_array_get(all, 0),
				     JSON_INDENT(4) | JSON_PRESERVE_ORDER);

		printf("%s\n", s);
		free(s);
	} else {
		json_array_foreach(all, i, o) {
			if (i)
				printf("\n");
			print_info_human(o);
		}
	}
	json_decref(all);
	return 0;
}

static void set_nonzero(json_t *o, const char *key, uint64_t v)
{
	if (v) /* qemu-img leaves out the counters that are 0 */
		json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* qemu-img check --output json: its fields, in its order, strings escaped by jansson */
static void print_check_json(const struct img_check_report *rep, const char *path)
{
	json_t *o = json_object();
	char *s;

	set_nonzero(o, "image-end-offset", rep->image_end_offset);
	set_nonzero(o, "total-clusters", rep->total_clusters);
	json_object_set_new(o, "check-errors", json_integer(0));
	set_nonzero(o, "leaks", rep->leaks);
	set_nonzero(o, "corruptions", rep->corruptions);
	set_nonzero(o, "leaks-fixed", rep->leaks_fixed);
	set_nonzero(o, "corruptions-fixed", rep->corruptions_fixed);
	set_nonzero(o, "allocated-clusters", rep->allocated_clusters);
	set_nonzero(o, "fragmented-clusters", rep->fragmented_clusters);
	set_nonzero(o, "compressed-clusters", rep->compressed_clusters);
	json_object_set_new(o, "filename", json_string(path));
	json_object_set_new(o, "format", json_string("qcow2"));
	s = json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	printf("%s\n", s ? s : "{}");
	free(s);
	json_decref(o);
}

static int img_check_cmd(int argc, char **argv)
{
	struct img_check_report rep;
	struct hull_err err = { 0 };
	struct img_args a;
	uint64_t total, alloc;

	if (parse_args("check", argc, argv, "+f:r:qU", &a) < 0)
		return 1;
	if (a.npos != 1)
		return usage_err("check", "expected FILE");
	if (a.share && a.repair)
		return usage_err("check", "-U (force-share) is for read-only checks: not with -r");
	if (img_check(a.pos[0], a.fmt, a.repair, &rep, &err) < 0) {
		fprintf(stderr, "hull img: %s\n", err.msg);
		return err.code == ENOTSUP ? 63 : 1;
	}
	total = rep.total_clusters ? rep.total_clusters : 1;
	alloc = rep.allocated_clusters ? rep.allocated_clusters : 1;
	if (is_json(&a)) {
		print_check_json(&rep, a.pos[0]);
	} else if (!a.quiet) {
		/* qemu-img's checker prints its ERROR lines on stderr */
		if (rep.first_error[0] && rep.corruptions)
			fprintf(stderr, "ERROR %s\n", rep.first_error);
		if (rep.leaks_fixed || rep.corruptions_fixed)
			printf("The following inconsistencies were found and repaired:\n\n"
			       "    %" PRIu64 " leaked clusters\n    %" PRIu64 " corruptions\n\n"
			       "Double checking the fixed image now...\n",
			       rep.leaks_fixed, rep.corruptions_fixed);
		if (rep.corruptions)
			printf("\n%" PRIu64 " errors were found on the image.\nData may be corrupted, "
			       "or further writes to the image may corrupt it.\n", rep.corruptions);
		if (rep.leaks)
			printf("\n%" PRIu64 " leaked clusters were found on the image.\nThis means "
			       "waste of disk space, but no harm to data.\n", rep.leaks);
		if (!rep.corruptions && !rep.leaks)
			printf("No errors were found on the image.\n");
		/* like qemu-img: fragmented and compressed are shares of the allocated clusters;
		 * each line only when its figures are not 0 */
		if (rep.total_clusters && rep.allocated_clusters)
			printf("%" PRIu64 "/%" PRIu64 " = %.2f%% allocated, %.2f%% fragmented, "
			       "%.2f%% compressed clusters\n",
			       rep.allocated_clusters, rep.total_clusters,
			       100.0 * (double)rep.allocated_clusters / (double)total,
			       100.0 * (double)rep.fragmented_clusters / (double)alloc,
			       100.0 * (double)rep.compressed_clusters / (double)alloc);
		if (rep.image_end_offset)
			printf("Image end offset: %" PRIu64 "\n", rep.image_end_offset);
	}
	if (rep.corruptions)
		return 2;
	if (rep.leaks)
		return 3;
	return 0;
}

/* qemu-img's progress line ("    (12.34/100%)" and a carriage return), every 1% or more. */
static void print_progress(void *opaque, double percent)
{
	double *last = opaque;

	if (*last >= 0 && percent - *last < 1.0 && percent < 100.0)
		return;
	*last = percent;
	printf("    (%3.2f/100%%)\r", percent);
	(void)fflush(stdout);
}

static int img_convert_cmd(int argc, char **argv)
{
	struct disk_create_opts o = { 0 };
	cleanup_free char *obuf = NULL;
	struct hull_err err = { 0 };
	struct img_args a;

	double last = -1;
	struct img_progress progress = { .fn = print_progress, .opaque = &last };
	struct img_convert_opts co = { 0 };
	int r;

	if (parse_args("convert", argc, argv, "+f:O:o:cpqUm:Wt:T:", &a) < 0)
		return 1;
	if (a.npos != 2)
		return usage_err("convert", "expected SOURCE TARGET");
	if (a.opts && img_parse_create_opts(a.opts, &o, &obuf, &err) < 0)
		return fail(&err);
	o.format = a.out_fmt ? a.out_fmt : DISK_FORMAT_RAW;
	if (a.progress && !a.quiet)
		print_progress(&last, 0.0);
	co.compress = a.compress;
	co.parallel = a.parallel;
	co.out_of_order = a.out_of_order;
	co.no_sync = a.no_sync;
	co.progress = a.progress && !a.quiet ? &progress : NULL;
	r = img_convert(a.pos[0], a.fmt, a.pos[1], &o, &co, &err);
	if (a.progress && !a.quiet)
		printf("\n");
	return r < 0 ? fail(&err) : 0;
}

static int img_commit_cmd(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_args a;

	if (parse_args("commit", argc, argv, "+f:dqp", &a) < 0)
		return 1;
	if (a.npos != 1)
		return usage_err("commit", "expected FILE");
	if (img_commit(a.pos[0], a.fmt, a.keep, &err) < 0)
		return fail(&err);
	if (!a.quiet)
		printf("Image committed.\n");
	return 0;
}

static int img_rebase_cmd(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_args a;

	if (parse_args("rebase", argc, argv, "+f:b:F:uqp", &a) < 0)
		return 1;
	if (a.npos != 1 || !a.backing_set)
		return usage_err("rebase", "expected -b BACKING FILE");
	if (img_rebase(a.pos[0], a.fmt, a.backing, a.backing_fmt, a.unsafe, &err) < 0)
		return fail(&err);
	return 0;
}

static int img_resize_cmd(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_args a;

	/* "-1G" must reach us as a size, not an option: stop at the first non-option */
	if (parse_args("resize", argc, argv, "+f:q", &a) < 0)
		return 1;
	if (a.npos == 3 && strcmp(a.pos[0], "--shrink") == 0) {
		a.shrink = true;
		a.pos++;
		a.npos--;
	}
	if (a.npos != 2)
		return usage_err("resize", "expected FILE [+|-]SIZE");
	if (img_resize(a.pos[0], a.fmt, a.pos[1], a.shrink, &err) < 0)
		return fail(&err);
	if (!a.quiet)
		printf("Image resized.\n");
	return 0;
}

static int img_map_cmd(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_args a;
	json_t *arr = NULL, *e;
	size_t i;

	if (parse_args("map", argc, argv, "+f:U", &a) < 0)
		return 1;
	if (a.npos != 1)
		return usage_err("map", "expected FILE");
	if (img_map(a.pos[0], a.fmt, &arr, &err) < 0)
		return fail(&err);
	if (!is_json(&a))
		printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
	json_array_foreach(arr, i, e) {
		long long start = json_integer_value(json_object_get(e, "start"));
		long long len = json_integer_value(json_object_get(e, "length"));
		json_t *off = json_object_get(e, "offset");

		if (!is_json(&a)) {
			if (json_is_true(json_object_get(e, "data")) && off)
				printf("%#-16llx%#-16llx%#-16llx%s\n", start, len,
				       json_integer_value(off),
				       json_string_value(json_object_get(e, "filename")));
			continue;
		}
		printf("%s{ \"start\": %lld, \"length\": %lld, \"depth\": %lld, \"present\": %s, "
		       "\"zero\": %s, \"data\": %s", i ? ",\n" : "[", start, len,
		       json_integer_value(json_object_get(e, "depth")),
		       json_is_true(json_object_get(e, "present")) ? "true" : "false",
		       json_is_true(json_object_get(e, "zero")) ? "true" : "false",
		       json_is_true(json_object_get(e, "data")) ? "true" : "false");
		if (off)
			printf(", \"offset\": %lld", json_integer_value(off));
		printf("}");
	}
	if (is_json(&a))
		printf("%s]\n", json_array_size(arr) ? "" : "[");
	json_decref(arr);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} subcmds[] = {
	{ "create", img_create_cmd }, { "info", img_info_cmd },     { "check", img_check_cmd },
	{ "convert", img_convert_cmd }, { "commit", img_commit_cmd }, { "rebase", img_rebase_cmd },
	{ "resize", img_resize_cmd }, { "map", img_map_cmd },
	{ "compare", img_compare_cmd }, { "measure", img_measure_cmd }, { "dd", img_dd_cmd },
	{ "amend", img_amend_cmd }, { "snapshot", img_snapshot_cmd },
	{ "bench", img_bench_cmd },
};

static void img_commands(FILE *f)
{
	fprintf(f, "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(img_defs); i++)
		fprintf(f, "  %-10s %s\n", img_defs[i].name + 4, img_defs[i].summary);
	fprintf(f, "\nRun 'hull img COMMAND --help' for a command's options.\n");
}

int cmd_img(int argc, char **argv)
{
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "img", .args = "COMMAND [OPTIONS] [ARG...]", .optstring = "+",
		.opts = opts, .more = img_commands,
		.summary = "Create, inspect, check and convert disk images (qemu-img's commands).",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return 1;
	if (optind >= argc) {
		cli_usage(stderr, &def);
		return 1;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (strcmp(argv[1], "help") == 0) {
		/* hull img help create: that command's --help */
		char *args[] = { argc == 3 ? argv[2] : NULL, (char *)"--help", NULL };

		for (size_t i = 0; argc == 3 && i < ARRAY_SIZE(subcmds); i++)
			if (strcmp(argv[2], subcmds[i].name) == 0)
				return subcmds[i].fn(2, args);
		if (argc == 2) {
			cli_usage(stdout, &def);
			return 0;
		}
		if (argc > 3)
			fprintf(stderr, "hull img help: one COMMAND, not '%s'\n", argv[3]);
		else
			fprintf(stderr, "hull img help: unknown command '%s'\n", argv[2]);
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcmds); i++)
		if (strcmp(argv[1], subcmds[i].name) == 0)
			return subcmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "hull img: unknown command '%s' (see 'hull img --help')\n", argv[1]);
	return 1;
}
