/* hull img compare, measure, dd: option parsing and output as qemu-img 7.2's. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cmd-img.h"
#include "common/cleanup.h"
#include "disk/img.h"

enum { OPT_OUTPUT = 300, OPT_SIZE, OPT_FORCE };

static int img_fail(const struct hull_err *err, int code)
{
	fprintf(stderr, "hull img: %s\n", err->msg);
	return code;
}

const struct cli_option img_compare_opts[] = {
	{ NULL, required_argument, NULL, 'f', "FMT", "the first image's format" },
	{ NULL, required_argument, NULL, 'F', "FMT", "the second image's format" },
	{ NULL, no_argument, NULL, 's', NULL, "strict: sizes and allocation must match too" },
	{ NULL, no_argument, NULL, 'q', NULL, "quiet: print nothing, only the exit code" },
	{ NULL, no_argument, NULL, 'p', NULL, "show progress (accepted, no effect)" },
	IMG_O_SHARE,
	{ NULL, required_argument, NULL, 'T', "CACHE", "source cache mode (accepted)" },
	{ 0 },
};

int img_compare_cmd(int argc, char **argv)
{
	const struct cli_command *def = img_def("compare");
	enum disk_format f1 = DISK_FORMAT_AUTO, f2 = DISK_FORMAT_AUTO;
	struct img_compare_result res;
	struct hull_err err = { 0 };
	bool strict = false, quiet = false;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'f': if (parse_fmt("compare", optarg, &f1) < 0) return 1; break;
		case 'F': if (parse_fmt("compare", optarg, &f2) < 0) return 1; break;
		case 's': strict = cli_opt_on; break;
		case 'q': quiet = cli_opt_on; break;
		case 'p': case 'T': break;
		case 'U': img_set_force_share(cli_opt_on); break;
		default: return 1;
		}
	}
	if (argc - optind != 2)
		return usage_err("compare", "expected two image file names");
	if (img_compare(argv[optind], f1, argv[optind + 1], f2, strict, &res, &err) < 0)
		return img_fail(&err, res.code);
	if (quiet)
		return res.code;
	if (res.size_warning)
		printf("Warning: Image size mismatch!\n");
	if (res.code == 0)
		printf("Images are identical.\n");
	else if (res.what == IMG_CMP_SIZE)
		printf("Strict mode: Image size mismatch!\n");
	else if (res.what == IMG_CMP_STATUS)
		printf("Strict mode: Offset %" PRIu64 " block status mismatch!\n", res.offset);
	else
		printf("Content mismatch at offset %" PRIu64 "!\n", res.offset);
	return res.code;
}

const struct cli_option img_measure_opts[] = {
	{ NULL, required_argument, NULL, 'f', "FMT", "the input's format (default: probed)" },
	{ NULL, required_argument, NULL, 'O', "FMT", "the output's format (default raw)" },
	{ NULL, required_argument, NULL, 'o', "OPTIONS", "the output's format options" },
	{ "size", required_argument, NULL, OPT_SIZE, "SIZE", "measure a new image of SIZE" },
	{ "output", required_argument, NULL, OPT_OUTPUT, "FMT", "human or json" },
	IMG_O_SHARE,
	{ 0 },
};

static void print_measure(const struct img_measure *m, bool json)
{
	if (!json) {
		printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64 "\n",
		       m->required, m->fully_allocated);
		if (m->has_bitmaps)
			printf("bitmaps size: %" PRIu64 "\n", m->bitmaps);
		return;
	}
	printf("{\n");
	if (m->has_bitmaps)
		printf("    \"bitmaps\": %" PRIu64 ",\n", m->bitmaps);
	printf("    \"required\": %" PRIu64 ",\n    \"fully-allocated\": %" PRIu64 "\n}\n",
	       m->required, m->fully_allocated);
}

/* raw takes no format options but size and preallocation (qemu-img refuses the others) */
static bool raw_opts_bad(const char *list)
{
	cleanup_free char *copy = strdup(list);
	char *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		kv[strcspn(kv, "=")] = '\0';
		if (strcmp(kv, "size") && strcmp(kv, "preallocation")) {
			fprintf(stderr, "hull img measure: -o %s: not an option of format raw\n", kv);
			return true;
		}
	}
	return false;
}

int img_measure_cmd(int argc, char **argv)
{
	const struct cli_command *def = img_def("measure");
	struct disk_create_opts o = { .format = DISK_FORMAT_RAW };
	enum disk_format fmt = DISK_FORMAT_AUTO;
	cleanup_free char *obuf = NULL;
	const char *optlist = NULL;
	struct hull_err err = { 0 };
	struct img_measure m;
	bool json = false, has_size = false;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'f': if (parse_fmt("measure", optarg, &fmt) < 0) return 1; break;
		case 'O': if (parse_fmt("measure", optarg, &o.format) < 0) return 1; break;
		case 'o': optlist = optarg; break;
		case 'U': img_set_force_share(cli_opt_on); break;
		case OPT_SIZE:
			if (img_parse_size(optarg, &o.size) < 0) {
				fprintf(stderr, "hull img measure: invalid --size '%s'\n", optarg);
				return 1;
			}
			has_size = true;
			break;
		case OPT_OUTPUT:
			if (strcmp(optarg, "json") && strcmp(optarg, "human"))
				return usage_err("measure", "--output must be 'human' or 'json'");
			json = strcmp(optarg, "json") == 0;
			break;
		default: return 1;
		}
	}
	if (has_size == (argc - optind == 1) || argc - optind > 1)
		return usage_err("measure", has_size ? "--size N cannot be used together with a "
						       "filename"
						     : "either --size N or one filename must be "
						       "specified");
	if (optlist && o.format == DISK_FORMAT_RAW && raw_opts_bad(optlist))
		return 1;
	if (optlist) {
		enum disk_format keep = o.format;
		uint64_t size = o.size;

		if (img_parse_create_opts(optlist, &o, &obuf, &err) < 0)
			return img_fail(&err, 1);
		o.format = keep;
		if (has_size)
			o.size = size;
	}
	if (img_measure(has_size ? NULL : argv[optind], fmt, &o, &m, &err) < 0)
		return img_fail(&err, 1);
	print_measure(&m, json);
	return 0;
}

const struct cli_option img_dd_opts[] = {
	{ NULL, required_argument, NULL, 'f', "FMT", "the input's format (default: probed)" },
	{ NULL, required_argument, NULL, 'O', "FMT", "the output's format (default raw)" },
	IMG_O_SHARE,
	{ 0 },
};

/* dd's operand KEY=VALUE into o; -1 after printing why. */
static int dd_operand(char *arg, struct img_dd_opts *o, const char **in, const char **out)
{
	char *v = strchr(arg, '=');
	uint64_t n = 0;

	if (!v) {
		fprintf(stderr, "hull img dd: unrecognized operand '%s'\n", arg);
		return -1;
	}
	*v++ = '\0';
	if (strcmp(arg, "if") == 0 || strcmp(arg, "of") == 0) {
		*(arg[0] == 'i' ? in : out) = v;
		return 0;
	}
	if (strcmp(arg, "bs") && strcmp(arg, "count") && strcmp(arg, "skip")) {
		fprintf(stderr, "hull img dd: unrecognized operand '%s'\n", arg);
		return -1;
	}
	if (img_parse_size(v, &n) < 0 || (arg[0] == 'b' && (n == 0 || n > 0x7fffffff))) {
		fprintf(stderr, "hull img dd: invalid %s '%s'%s\n", arg, v,
			arg[0] == 'b' ? ": must be between 1 and 2147483647" : "");
		return -1;
	}
	if (arg[0] == 'b')
		o->bs = n;
	else if (arg[0] == 'c')
		o->count = n, o->has_count = true;
	else
		o->skip = n, o->has_skip = true;
	return 0;
}

int img_dd_cmd(int argc, char **argv)
{
	const struct cli_command *def = img_def("dd");
	enum disk_format in_fmt = DISK_FORMAT_AUTO, out_fmt = DISK_FORMAT_RAW;
	struct img_dd_opts o = { .bs = 512 };
	struct hull_err err = { 0 };
	const char *in = NULL, *out = NULL;
	bool warn;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'f': if (parse_fmt("dd", optarg, &in_fmt) < 0) return 1; break;
		case 'O': if (parse_fmt("dd", optarg, &out_fmt) < 0) return 1; break;
		case 'U': img_set_force_share(cli_opt_on); break;
		default: return 1;
		}
	}
	for (int i = optind; i < argc; i++)
		if (dd_operand(argv[i], &o, &in, &out) < 0)
			return 1;
	if (!in || !out)
		return usage_err("dd", "must specify both input and output files (if=, of=)");
	if (img_dd(in, in_fmt, out, out_fmt, &o, &warn, &err) < 0)
		return img_fail(&err, 1);
	if (warn)
		fprintf(stderr, "hull img dd: %s: cannot skip to specified offset\n", in);
	return 0;
}

const struct cli_option img_amend_opts[] = {
	{ NULL, required_argument, NULL, 'f', "FMT", "the image's format (default: probed)" },
	{ NULL, required_argument, NULL, 'o', "OPTIONS",
	  "compat=0.10|1.1, lazy_refcounts=on|off, refcount_bits=N, size=N (repeatable)" },
	{ NULL, no_argument, NULL, 'p', NULL, "show progress (accepted, no effect)" },
	{ NULL, no_argument, NULL, 'q', NULL, "quiet" },
	{ NULL, required_argument, NULL, 't', "CACHE", "cache mode (accepted)" },
	{ "force", no_argument, NULL, OPT_FORCE, NULL, "accepted, as qemu-img's" },
	{ 0 },
};

int img_amend_cmd(int argc, char **argv)
{
	const struct cli_command *def = img_def("amend");
	enum disk_format fmt = DISK_FORMAT_AUTO;
	cleanup_free char *list = NULL;
	struct hull_err err = { 0 };
	struct img_amend_opts o;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'f': if (parse_fmt("amend", optarg, &fmt) < 0) return 1; break;
		case 'o': {
			/* several -o add up, as in qemu-img */
			char *n = NULL;

			if (asprintf(&n, "%s%s%s", list ? list : "", list ? "," : "", optarg) < 0)
				return 1;
			free(list);
			list = n;
			break;
		}
		case 'p': case 'q': case 't': case OPT_FORCE: break;
		default: return 1;
		}
	}
	if (!list)
		return usage_err("amend", "must specify options (-o)");
	if (argc - optind != 1)
		return usage_err("amend", "expected one image file name");
	if (img_amend_parse(list, &o, &err) < 0 || img_amend(argv[optind], fmt, &o, &err) < 0)
		return img_fail(&err, 1);
	return 0;
}

const struct cli_option img_snapshot_opts[] = {
	{ NULL, no_argument, NULL, 'l', NULL, "list the image's snapshots" },
	{ NULL, required_argument, NULL, 'c', "NAME", "create a snapshot of the current state" },
	{ NULL, required_argument, NULL, 'a', "SNAPSHOT", "revert to a snapshot (ID or name)" },
	{ NULL, required_argument, NULL, 'd', "NAME", "delete a snapshot" },
	{ NULL, required_argument, NULL, 'f', "FMT", "the image's format (default: probed)" },
	{ NULL, no_argument, NULL, 'q', NULL, "quiet" },
	IMG_O_SHARE,
	{ 0 },
};

/* qemu's human sizes ("0 B", "1.5 MiB") */
static void snap_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	size_t u = 0;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(*units)) {
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

static void print_snapshots(json_t *arr)
{
	size_t i;
	json_t *v;

	if (!json_array_size(arr))
		return;
	printf("Snapshot list:\nID        TAG               VM SIZE                DATE     "
	       "VM CLOCK     ICOUNT\n");
	json_array_foreach(arr, i, v) {
		time_t t = (time_t)json_integer_value(json_object_get(v, "date-sec"));
		long long clk = json_integer_value(json_object_get(v, "vm-clock-sec"));
		char date[32], size[32];
		struct tm tm;

		snap_size((uint64_t)json_integer_value(json_object_get(v, "vm-state-size")), size,
			  sizeof(size));
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
		printf("%-9s %-17s %7s %s %02lld:%02lld:%02lld.%03lld          0\n",
		       json_string_value(json_object_get(v, "id")),
		       json_string_value(json_object_get(v, "name")), size, date, clk / 3600,
		       clk / 60 % 60, clk % 60,
		       json_integer_value(json_object_get(v, "vm-clock-nsec")) / 1000000);
	}
}

int img_snapshot_cmd(int argc, char **argv)
{
	const struct cli_command *def = img_def("snapshot");
	enum disk_format fmt = DISK_FORMAT_AUTO;
	struct hull_err err = { 0 };
	const char *name = NULL;
	char action = 0;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'l': case 'c': case 'a': case 'd':
			if (action)
				return usage_err("snapshot", "cannot mix '-l', '-a', '-c', '-d'");
			action = (char)c;
			name = c == 'l' ? NULL : optarg;
			break;
		case 'f': if (parse_fmt("snapshot", optarg, &fmt) < 0) return 1; break;
		case 'q': break;
		case 'U': img_set_force_share(cli_opt_on); break;
		default: return 1;
		}
	}
	if (argc - optind != 1)
		return usage_err("snapshot", "expected one image file name");
	if (!action)
		return 0; /* as qemu-img: nothing asked, nothing done */
	if (action == 'l') {
		json_t *arr = NULL;

		if (img_snapshot_list(argv[optind], fmt, &arr, &err) < 0)
			return img_fail(&err, 1);
		print_snapshots(arr);
		json_decref(arr);
		return 0;
	}
	if (img_snapshot(argv[optind], fmt, action, name, &err) < 0)
		return img_fail(&err, 1);
	return 0;
}

enum { OPT_PATTERN = 320, OPT_FLUSH, OPT_NO_DRAIN };

const struct cli_option img_bench_opts[] = {
	{ NULL, required_argument, NULL, 'c', "COUNT", "requests to send (default 75000)" },
	{ NULL, required_argument, NULL, 'd', "DEPTH", "requests in flight (reported; hull "
						      "sends one at a time)" },
	{ NULL, required_argument, NULL, 'f', "FMT", "the image's format (default: probed)" },
	{ NULL, required_argument, NULL, 'o', "OFFSET", "first request's offset" },
	{ NULL, required_argument, NULL, 's', "SIZE", "bytes per request (default 4096)" },
	{ NULL, required_argument, NULL, 'S', "STEP", "offset step (default: the size)" },
	{ NULL, no_argument, NULL, 'w', NULL, "write instead of read" },
	{ NULL, required_argument, NULL, 't', "CACHE", "cache mode (accepted)" },
	{ NULL, required_argument, NULL, 'i', "AIO", "AIO mode (accepted)" },
	{ NULL, no_argument, NULL, 'n', NULL, "native AIO (accepted)" },
	{ NULL, no_argument, NULL, 'q', NULL, "quiet (accepted: qemu-img prints anyway)" },
	IMG_O_SHARE,
	{ "pattern", required_argument, NULL, OPT_PATTERN, "BYTE", "byte written (default 0)" },
	{ "flush-interval", required_argument, NULL, OPT_FLUSH, "N", "flush every N writes" },
	{ "no-drain", no_argument, NULL, OPT_NO_DRAIN, NULL, "accepted" },
	{ 0 },
};

static void bench_started(const struct img_bench_opts *o)
{
	printf("Sending %" PRIu64 " %s requests, %" PRIu64 " bytes each, %" PRIu64
	       " in parallel (starting at offset %" PRIu64 ", step size %" PRIu64 ")\n",
	       o->count, o->write ? "write" : "read", o->size, o->depth, o->offset, o->step);
	if (o->flush_interval)
		printf("Sending flush every %" PRIu64 " requests\n", o->flush_interval);
	fflush(stdout);
}

static int bench_num(int c, const char *arg, struct img_bench_opts *o)
{
	uint64_t v;

	if (img_parse_size(arg, &v) < 0 || (c == OPT_PATTERN && v > 255) ||
	    ((c == 'c' || c == 'd') && v == 0)) {
		fprintf(stderr, "hull img bench: invalid value '%s'\n", arg);
		return -1;
	}
	switch (c) {
	case 'c': o->count = v; break;
	case 'd': o->depth = v; break;
	case 'o': o->offset = v; break;
	case 's': o->size = v; break;
	case 'S': o->step = v; break;
	case OPT_PATTERN: o->pattern = (uint8_t)v; break;
	default: o->flush_interval = v; break;
	}
	return 0;
}

int img_bench_cmd(int argc, char **argv)
{
	const struct cli_command *def = img_def("bench");
	struct img_bench_opts o = { .count = 75000, .depth = 64, .size = 4096 };
	struct hull_err err = { 0 };
	bool step_set = false;
	double secs;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'f': if (parse_fmt("bench", optarg, &o.fmt) < 0) return 1; break;
		case 'w': o.write = cli_opt_on; break;
		case OPT_NO_DRAIN: o.no_drain = cli_opt_on; break;
		case 't': case 'i': case 'n': case 'q': break;
		case 'U': img_set_force_share(cli_opt_on); break;
		case 'c': case 'd': case 'o': case 's': case 'S': case OPT_PATTERN: case OPT_FLUSH:
			if (bench_num(c, optarg, &o) < 0)
				return 1;
			step_set |= c == 'S';
			break;
		default: return 1;
		}
	}
	if (argc - optind != 1)
		return usage_err("bench", "expected one image file name");
	o.path = argv[optind];
	if (!step_set)
		o.step = o.size;
	if (img_bench(&o, bench_started, &secs, &err) < 0)
		return img_fail(&err, 1);
	printf("Run completed in %.3f seconds.\n", secs);
	return 0;
}
