/* hull stats [--no-stream] [CONTAINER...]: CPU and memory of running containers, from /proc
 * (the cgroup counters come with the cgroup layer). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "engine/human.h"
#include "engine/procs.h"

static uint64_t sum_ticks(struct ctr *c, uint64_t *ret_rss, size_t *ret_n)
{
	struct hull_err err;
	struct ctr_proc *p = NULL;
	uint64_t t = 0;
	size_t n = 0;

	*ret_rss = 0;
	*ret_n = 0;
	if (ctr_procs(c, &p, &n, &err) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		t += p[i].cpu_ticks;
		*ret_rss += p[i].rss_bytes;
	}
	*ret_n = n;
	procs_free(p, n);
	return t;
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-stream", no_argument, NULL, 'N' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	struct ctr **list = NULL;
	struct hull_err err = { 0 };
	uint64_t *before;
	size_t n = 0;
	int c;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1)
		if (c != 'N')
			return EXIT_ENGINE;
	if (cli_store_open("stats", &s) != 0)
		return EXIT_ENGINE;
	if (optind < argc) {
		list = xcalloc((size_t)(argc - optind) + 1, sizeof(*list));
		for (int i = optind; i < argc; i++, n++)
			if (container_load(s, argv[i], &list[n], &err) < 0) {
				ctr_list_free(list);
				return cli_fail("stats", &err);
			}
	} else {
		struct ctr **all = NULL;

		if (container_list(s, &all, &err) < 0)
			return cli_fail("stats", &err);
		list = xcalloc(1, sizeof(*list));
		for (size_t i = 0; all[i]; i++) {
			if (ctr_status_live(all[i]) == CTR_RUNNING) {
				list = xreallocarray(list, n + 2, sizeof(*list));
				list[n++] = all[i];
				list[n] = NULL;
			} else {
				ctr_free(all[i]);
			}
		}
		free(all);
	}
	before = xcalloc(n + 1, sizeof(*before));
	for (size_t i = 0; i < n; i++) {
		uint64_t rss;
		size_t np;

		before[i] = sum_ticks(list[i], &rss, &np);
	}
	(void)usleep(200000);
	printf("%-14s %-24s %-8s %-12s %s\n", "CONTAINER ID", "NAME", "CPU %", "MEM USAGE", "PIDS");
	for (size_t i = 0; i < n; i++) {
		uint64_t rss = 0;
		size_t np = 0;
		uint64_t after = sum_ticks(list[i], &rss, &np);
		double cpu = (double)(after - before[i]) * 100.0 /
			     ((double)sysconf(_SC_CLK_TCK) * 0.2);
		char mem[32], id[13], pct[32];

		human_size(rss, mem, sizeof(mem));
		(void)snprintf(id, sizeof(id), "%s", list[i]->id);
		(void)snprintf(pct, sizeof(pct), "%.2f%%", cpu);
		printf("%-14s %-24s %-8s %-12s %zu\n", id, ctr_name(list[i]), pct, mem, np);
	}
	free(before);
	ctr_list_free(list);
	return 0;
}
