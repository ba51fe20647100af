/* hull logs [-f] [--tail N] [-t] CONTAINER */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "engine/container.h"

/* One record "<time> <stream> <F|P> <text>": print text (newline unless partial). */
static void print_record(const char *line, size_t len, bool timestamps)
{
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	const char *text;
	FILE *out;
	bool full;

	if (!sp2 || (size_t)(sp2 - line) + 3 > len)
		return;
	full = sp2[1] == 'F';
	text = sp2 + 3;
	out = strncmp(sp1 + 1, "stderr", 6) == 0 ? stderr : stdout;
	if (timestamps)
		fprintf(out, "%.*s ", (int)(sp1 - line), line);
	fprintf(out, "%.*s%s", (int)(len - (size_t)(text - line)), text, full ? "\n" : "");
}

int cmd_logs(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "follow", no_argument, NULL, 'f', NULL, "keep printing until the container exits" },
		{ "tail", required_argument, NULL, 'n', "N", "print only the last N lines (or all)" },
		{ "timestamps", no_argument, NULL, 't', NULL, "prefix each line with its time" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "logs", .args = "[OPTIONS] CONTAINER", .optstring = "+fn:t", .opts = opts,
		.summary = "Print a container's output.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	struct hull_err err = { 0 };
	bool follow = false, ts = false;
	long tail = -1;
	char *buf = NULL, *end = NULL;
	size_t len = 0, cap = 0, start = 0;
	int ch;

	while ((ch = cli_getopt(argc, argv, &def)) != -1) {
		if (ch == 'f') {
			follow = cli_opt_on;
		} else if (ch == 't') {
			ts = cli_opt_on;
		} else if (ch == 'n') {
			tail = strcmp(optarg, "all") == 0 ? -1 : strtol(optarg, &end, 10);
			if (strcmp(optarg, "all") != 0 && (end == optarg || *end || tail < 0))
				return cli_usage_error("logs", "--tail %s: invalid number", optarg);
		} else {
			return EXIT_ENGINE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("logs", "usage: hull logs [-f] [--tail N] [-t] CONTAINER");
	if (cli_store_open("logs", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind], &c, &err) < 0)
		return cli_fail("logs", &err);
	path = xasprintf("%s/ctr.log", c->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return cli_usage_error("logs", "%s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = 0;

		if (fd >= 0) {
			if (cap - len < 65536) {
				cap = cap * 2 + 65536;
				buf = xrealloc(buf, cap);
			}
			n = read(fd, buf + len, cap - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0) {
				len += (size_t)n;
				continue;
			}
		}
		/* print the complete records read so far */
		{
			size_t first = start, count = 0;

			for (size_t i = start; i < len; i++)
				count += buf[i] == '\n';
			if (tail >= 0 && (size_t)tail < count) {
				for (size_t skip = count - (size_t)tail; skip > 0; first++)
					skip -= buf[first] == '\n';
			}
			tail = -1;
			while (first < len) {
				char *nl = memchr(buf + first, '\n', len - first);

				if (!nl)
					break;
				print_record(buf + first, (size_t)(nl - (buf + first)), ts);
				first = (size_t)(nl - buf) + 1;
			}
			start = first;
			(void)fflush(stdout);
			(void)fflush(stderr);
		}
		if (!follow)
			break;
		if (ctr_state_reload(c, &err) < 0 || ctr_status_live(c) != CTR_RUNNING) {
			/* one more pass for what the monitor wrote last */
			if (follow && fd >= 0 && (n = read(fd, buf + len, cap - len)) > 0) {
				len += (size_t)n;
				continue;
			}
			break;
		}
		if (fd < 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
		(void)usleep(100000);
	}
	free(buf);
	return 0;
}
