/* hull-oci update, pause, resume, events: the cgroup commands (runc's command line). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/oci-cli.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/size.h"

#define RESOURCES_MAX (1U << 20)

static int parse_int(const char *s, int64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoll(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

enum {
	UPD_RESOURCES = 'r', UPD_BLKIO_WEIGHT = 256, UPD_CPU_PERIOD, UPD_CPU_QUOTA, UPD_CPU_SHARES,
	UPD_RT_PERIOD, UPD_RT_RUNTIME, UPD_CPUSET_CPUS, UPD_CPUSET_MEMS, UPD_KMEM, UPD_KMEM_TCP,
	UPD_MEMORY, UPD_MEM_RES, UPD_MEM_SWAP, UPD_PIDS, UPD_L3, UPD_MEMBW,
};

static const struct {
	int opt;
	const char *obj, *key; /* linux.resources.<obj>.<key> */
	bool size, str;
} upd_fields[] = {
	{ UPD_BLKIO_WEIGHT, "blockIO", "weight", false, false },
	{ UPD_CPU_PERIOD, "cpu", "period", false, false },
	{ UPD_CPU_QUOTA, "cpu", "quota", false, false },
	{ UPD_CPU_SHARES, "cpu", "shares", false, false },
	{ UPD_RT_PERIOD, "cpu", "realtimePeriod", false, false },
	{ UPD_RT_RUNTIME, "cpu", "realtimeRuntime", false, false },
	{ UPD_CPUSET_CPUS, "cpu", "cpus", false, true },
	{ UPD_CPUSET_MEMS, "cpu", "mems", false, true },
	{ UPD_KMEM, "memory", "kernel", true, false },
	{ UPD_KMEM_TCP, "memory", "kernelTCP", true, false },
	{ UPD_MEMORY, "memory", "limit", true, false },
	{ UPD_MEM_RES, "memory", "reservation", true, false },
	{ UPD_MEM_SWAP, "memory", "swap", true, false },
	{ UPD_PIDS, "pids", "limit", false, false },
};

/* Put one flag's value into the resources object; false (logged) when it does not parse. */
static bool set_flag(json_t *res, int opt, const char *name, const char *val)
{
	for (size_t i = 0; i < sizeof(upd_fields) / sizeof(upd_fields[0]); i++) {
		json_t *obj;
		int64_t v;

		if (upd_fields[i].opt != opt)
			continue;
		obj = json_object_get(res, upd_fields[i].obj);
		if (!obj) {
			obj = json_object();
			json_object_set_new(res, upd_fields[i].obj, obj);
		}
		if (upd_fields[i].str) {
			json_object_set_new(obj, upd_fields[i].key, json_string(val));
			return true;
		}
		/* runc's sizes: units.RAMInBytes, or -1 */
		if ((upd_fields[i].size ? size_parse(val, SIZE_RUNC, &v) : parse_int(val, &v)) < 0) {
			log_error("update: --%s: invalid value \"%s\"", name, val);
			return false;
		}
		json_object_set_new(obj, upd_fields[i].key, json_integer(v));
		return true;
	}
	return true;
}

static char *read_resources(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r;

	if (strcmp(path, "-") == 0) {
		size_t cap = 4096;

		buf = malloc(cap);
		for (;;) {
			ssize_t n;

			if (!buf)
				return NULL;
			n = read(STDIN_FILENO, buf + len, cap - len - 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				log_error("update: --resources -: read stdin: %s", strerror(errno));
				return NULL;
			}
			if (n == 0)
				break;
			len += (size_t)n;
			if (len + 1 == cap) {
				if (cap >= RESOURCES_MAX) {
					log_error("update: --resources -: more than %u bytes",
						  RESOURCES_MAX);
					return NULL;
				}
				buf = xrealloc(buf, cap *= 2);
			}
		}
		buf[len] = '\0';
		return steal_ptr(&buf);
	}
	if ((r = fd_read_file_at(AT_FDCWD, path, RESOURCES_MAX, &buf, &len)) < 0) {
		log_error("update: --resources %s: %s", path, strerror(-r));
		return NULL;
	}
	return steal_ptr(&buf);
}

int oci_cmd_update(struct oci_cli *cli, int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "resources", required_argument, NULL, UPD_RESOURCES, "FILE",
		  "the new resources as JSON (runtime-spec's linux.resources; - for stdin)" },
		{ "r", required_argument, NULL, UPD_RESOURCES, "FILE", "the same as --resources" },
		{ "blkio-weight", required_argument, NULL, UPD_BLKIO_WEIGHT, "N",
		  "block I/O weight (10 to 1000)" },
		{ "cpu-period", required_argument, NULL, UPD_CPU_PERIOD, "USEC", "CFS period" },
		{ "cpu-quota", required_argument, NULL, UPD_CPU_QUOTA, "USEC", "CFS quota per period" },
		{ "cpu-share", required_argument, NULL, UPD_CPU_SHARES, "N", "the same as --cpu-shares" },
		{ "cpu-shares", required_argument, NULL, UPD_CPU_SHARES, "N", "relative CPU weight" },
		{ "cpu-rt-period", required_argument, NULL, UPD_RT_PERIOD, "USEC", "realtime period" },
		{ "cpu-rt-runtime", required_argument, NULL, UPD_RT_RUNTIME, "USEC",
		  "realtime runtime per period" },
		{ "cpuset-cpus", required_argument, NULL, UPD_CPUSET_CPUS, "LIST", "CPUs to use" },
		{ "cpuset-mems", required_argument, NULL, UPD_CPUSET_MEMS, "LIST",
		  "memory nodes to use" },
		{ "kernel-memory", required_argument, NULL, UPD_KMEM, "BYTES", "accepted (cgroup v1)" },
		{ "kernel-memory-tcp", required_argument, NULL, UPD_KMEM_TCP, "BYTES",
		  "accepted (cgroup v1)" },
		{ "memory", required_argument, NULL, UPD_MEMORY, "BYTES", "memory limit" },
		{ "memory-reservation", required_argument, NULL, UPD_MEM_RES, "BYTES",
		  "memory soft limit" },
		{ "memory-swap", required_argument, NULL, UPD_MEM_SWAP, "BYTES",
		  "memory plus swap limit" },
		{ "pids-limit", required_argument, NULL, UPD_PIDS, "N", "maximum number of processes" },
		{ "l3-cache-schema", required_argument, NULL, UPD_L3, "S", "Intel RDT: not supported" },
		{ "mem-bw-schema", required_argument, NULL, UPD_MEMBW, "S", "Intel RDT: not supported" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "update", .args = "[OPTIONS] CONTAINER_ID", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Change a container's cgroup limits.",
	};
	cleanup_free char *text = NULL;
	const char *file = NULL;
	struct hull_err err = { 0 };
	json_t *res = json_object();
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == UPD_RESOURCES) {
			file = optarg;
		} else if (c == UPD_L3 || c == UPD_MEMBW) {
			log_error("update: --%s: Intel RDT is not supported", cli_opt_long->name);
			json_decref(res);
			return 1;
		} else if (c == '?' || !set_flag(res, c, cli_opt_long->name, optarg)) {
			return 1;
		}
	}
	if (oci_cli_nargs("update", argc - optind, 1, 1)) {
		json_decref(res);
		return 1;
	}
	/* As runc: --resources replaces the flags. */
	if (file) {
		text = read_resources(file);
		json_decref(res);
		if (!text)
			return 1;
	} else {
		text = json_dumps(res, JSON_COMPACT);
		json_decref(res);
		if (!text)
			abort();
	}
	{
		/* Errors name the document and the field: "r.json: resources.memory.limit". */
		cleanup_free char *where = NULL;

		if (asprintf(&where, "%s: resources", file ? file : "update flags") < 0)
			abort();
		if (oci_runtime_update(&cli->ctx, argv[optind], text, where, &err) < 0)
			return oci_cli_fail(&err);
	}
	return 0;
}

int oci_cmd_pause(struct oci_cli *cli, int argc, char **argv)
{
	struct hull_err err = { 0 };
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "pause", .args = "CONTAINER_ID", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Freeze a container's processes.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return 1;
	if (oci_cli_nargs("pause", argc - 1, 1, 1))
		return 1;
	if (oci_runtime_pause(&cli->ctx, argv[1], &err) < 0)
		return oci_cli_fail(&err);
	return 0;
}

int oci_cmd_resume(struct oci_cli *cli, int argc, char **argv)
{
	struct hull_err err = { 0 };
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "resume", .args = "CONTAINER_ID", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Thaw a paused container.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return 1;
	if (oci_cli_nargs("resume", argc - 1, 1, 1))
		return 1;
	if (oci_runtime_resume(&cli->ctx, argv[1], &err) < 0)
		return oci_cli_fail(&err);
	return 0;
}

/* Go-style durations as runc takes them: "5s", "100ms", "1m30s", "2" (seconds). */
static int parse_duration(const char *s, long long *ret_ms)
{
	long long total = 0;
	const char *p = s;

	if (!*p)
		return -1;
	while (*p) {
		char *end;
		double v = strtod(p, &end);
		long long mul;

		if (end == p || v < 0)
			return -1;
		if (*end == '\0' && p == s)
			mul = 1000;
		else if (strncmp(end, "ms", 2) == 0)
			mul = 1, end += 2;
		else if (*end == 's')
			mul = 1000, end++;
		else if (*end == 'm')
			mul = 60000, end++;
		else if (*end == 'h')
			mul = 3600000, end++;
		else
			return -1;
		total += (long long)(v * (double)mul);
		p = end;
	}
	*ret_ms = total;
	return 0;
}

static int sleep_ms(long long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int oci_cmd_events(struct oci_cli *cli, int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "interval", required_argument, NULL, 'i', "DURATION",
		  "time between samples (default 5s)" },
		{ "stats", no_argument, NULL, 's', NULL, "print one sample and exit" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "events", .args = "[OPTIONS] CONTAINER_ID", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY,
		.summary = "Print a container's statistics (and OOM events) as JSON lines.",
	};
	struct hull_err err = { 0 };
	long long interval = 5000, since = 0;
	bool once = false;
	uint64_t ooms = 0, seen_ooms = 0;
	const char *id;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 's') {
			once = cli_opt_on;
		} else if (c == 'i' && parse_duration(optarg, &interval) == 0 && interval > 0) {
			continue;
		} else {
			if (c == 'i')
				log_error("events: --interval %s: not a duration", optarg);
			return 1;
		}
	}
	if (oci_cli_nargs("events", argc - optind, 1, 1))
		return 1;
	id = argv[optind];
	(void)signal(SIGPIPE, SIG_IGN);
	for (bool first = true;; first = false) {
		cleanup_free char *json = NULL;
		int r = oci_runtime_stats(&cli->ctx, id, &json, &ooms, &err);

		if (r < 0) {
			/* The container stopping ends the stream (runc's behaviour). */
			if (r == -ESRCH && !first && !once)
				return 0;
			return oci_cli_fail(&err);
		}
		if (first)
			seen_ooms = ooms;
		if (ooms > seen_ooms) {
			printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id);
			seen_ooms = ooms;
		}
		if (once || since >= interval) {
			printf("%s\n", json);
			since = 0;
		}
		if (fflush(stdout) != 0 || once)
			return once ? 0 : 1;
		/* OOM kills are looked at every 100 ms, stats every interval. */
		(void)sleep_ms(interval < 100 ? interval : 100);
		since += interval < 100 ? interval : 100;
	}
}
