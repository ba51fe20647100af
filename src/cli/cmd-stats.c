/*
 * hull stats [--no-stream] [CONTAINER...]: CPU, memory and pids of running containers, from
 * their cgroups (docker's columns: MEM USAGE / LIMIT is the memory cgroup's usage without
 * inactive page cache, and its limit or the host's memory when it has none); from /proc
 * where a container has no readable cgroup. --no-stream: one sample over 200 ms. Otherwise the
 * table is refreshed every second (the screen cleared first on a terminal, plain repeated
 * tables when piped) until ^C, or until none of the containers shown is running any more.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "engine/run.h"
#include "engine/human.h"
#include "engine/procs.h"
#include "engine/table.h"

struct sample {
	uint64_t cpu_ns, mem, mem_limit, pids;
	bool from_cgroup;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void take_sample(struct image_store *store, struct ctr *c, struct sample *s)
{
	struct engine_stats cg;
	struct hull_err err;
	struct ctr_proc *p = NULL;
	uint64_t ticks = 0, rss = 0;
	size_t n = 0;
	long hz = sysconf(_SC_CLK_TCK);

	memset(s, 0, sizeof(*s));
	s->mem_limit = UINT64_MAX;
	if (engine_stats(store, c, &cg, &err) == 0 && cg.has_mem && cg.has_cpu) {
		s->from_cgroup = true;
		s->cpu_ns = cg.cpu_ns;
		s->mem = cg.mem_usage;
		s->mem_limit = cg.mem_limit;
	}
	if (s->from_cgroup && cg.has_pids) {
		s->pids = cg.pids;
		return;
	}
	if (ctr_procs(store, c, &p, &n, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		ticks += p[i].cpu_ticks;
		rss += p[i].rss_bytes;
	}
	ctr_procs_free(p, n);
	s->pids = n;
	if (!s->from_cgroup) {
		s->cpu_ns = ticks * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
		s->mem = rss;
	}
}

static int load_list(struct image_store *s, int argc, char **argv, struct ctr ***ret, size_t *ret_n)
{
	struct ctr **list = NULL;
	struct hull_err err = { 0 };
	size_t n = 0;

	if (argc > 0) {
		list = xcalloc((size_t)argc + 1, sizeof(*list));
		for (int i = 0; i < argc; i++, n++)
			if (ctr_load(s, argv[i], &list[n], &err) < 0) {
				ctr_list_free(list);
				return cli_fail("stats", &err);
			}
	} else {
		struct ctr **all = NULL;

		if (ctr_list(s, &all, &err) < 0)
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
	*ret = list;
	*ret_n = n;
	return 0;
}

static void add_row(struct table *t, struct ctr *c, const struct sample *a,
		    const struct sample *b, uint64_t wall_ns)
{
	uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t limit = b->mem_limit == UINT64_MAX || b->mem_limit > host ? host : b->mem_limit;
	bool running = ctr_status_live(c) == CTR_RUNNING;
	char id[13], cpu[32], usage[32], lim[32], mem[80], memp[32], pids[32];

	(void)snprintf(id, sizeof(id), "%s", c->id);
	(void)snprintf(cpu, sizeof(cpu), "%.2f%%",
		       running && b->cpu_ns >= a->cpu_ns && wall_ns
			       ? (double)(b->cpu_ns - a->cpu_ns) * 100.0 / (double)wall_ns : 0.0);
	human_size_binary(running ? b->mem : 0, usage, sizeof(usage));
	human_size_binary(limit, lim, sizeof(lim));
	(void)snprintf(mem, sizeof(mem), "%s / %s", usage, lim);
	(void)snprintf(memp, sizeof(memp), "%.2f%%",
		       running && limit ? (double)b->mem * 100.0 / (double)limit : 0.0);
	(void)snprintf(pids, sizeof(pids), "%llu", running ? (unsigned long long)b->pids : 0ull);
	table_add(t, (const char *const[]){ id, c->name, cpu, mem, memp, pids });
}

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Which containers to show this round: the named ones still there, or every running one. */
static struct ctr **round_list(struct image_store *s, int argc, char **argv, size_t *ret_n)
{
	struct ctr **list = NULL;
	size_t n = 0;

	if (argc == 0) {
		if (load_list(s, 0, argv, &list, &n) != 0)
			return NULL;
		*ret_n = n;
		return list;
	}
	list = xcalloc((size_t)argc + 1, sizeof(*list));
	for (int i = 0; i < argc; i++) {
		struct hull_err err;

		/* one removed since the start is dropped from the table, as docker does */
		if (ctr_load(s, argv[i], &list[n], &err) == 0)
			n++;
	}
	*ret_n = n;
	return list;
}

/* The sample of container id in the previous round, or NULL. */
static const struct sample *find_prev(struct ctr **prev, const struct sample *ps, size_t pn,
				      const char *id)
{
	for (size_t i = 0; i < pn; i++)
		if (strcmp(prev[i]->id, id) == 0)
			return &ps[i];
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* a ^C ends the nap early (no SA_RESTART): the loop checks the flag */
	(void)nanosleep(&ts, NULL);
}

/*
 * Print one table per round; each row's CPU % over the time since the previous round (the
 * first round: a 200 ms interval). Returns when stream is false, on ^C or SIGTERM, or when
 * no shown container runs any more.
 */
static int stats_loop(struct image_store *s, int argc, char **argv, bool stream)
{
	static const char *const head[] = { "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
					    "MEM %", "PIDS" };
	struct ctr **prev = NULL;
	struct sample *ps = NULL;
	size_t pn = 0;
	uint64_t t_prev = now_ns();
	bool tty = isatty(STDOUT_FILENO);

	if (argc > 0) { /* an unknown name is an error at once */
		struct ctr **first = NULL;
		size_t n;

		if (load_list(s, argc, argv, &first, &n) != 0)
			return EXIT_ENGINE;
		ctr_list_free(first);
	}
	for (int round = 0; !stop_requested; round++) {
		size_t n = 0;
		struct ctr **list = round_list(s, argc, argv, &n);
		struct sample *now = xcalloc(n + 1, sizeof(*now));
		size_t live = 0;
		uint64_t wall;
		struct table *t;

		if (!list) {
			free(now);
			break;
		}
		if (round == 0) { /* the first interval */
			for (size_t i = 0; i < n; i++)
				take_sample(s, list[i], &now[i]);
			prev = list;
			ps = now;
			pn = n;
			t_prev = now_ns();
			sleep_ms(200);
			list = round_list(s, argc, argv, &n);
			if (!list)
				break;
			now = xcalloc(n + 1, sizeof(*now));
		}
		for (size_t i = 0; i < n; i++)
			take_sample(s, list[i], &now[i]);
		wall = now_ns() - t_prev;
		t_prev = now_ns();
		t = table_new(ARRAY_SIZE(head));
		table_add(t, head);
		for (size_t i = 0; i < n; i++) {
			const struct sample *before = find_prev(prev, ps, pn, list[i]->id);

			add_row(t, list[i], before ? before : &now[i], &now[i], wall);
			live += ctr_status_live(list[i]) == CTR_RUNNING;
		}
		if (stream && tty)
			fputs("\033[2J\033[H", stdout);
		table_print(t, stdout);
		table_free(t);
		(void)fflush(stdout);
		ctr_list_free(prev);
		free(ps);
		prev = list;
		ps = now;
		pn = n;
		if (!stream || live == 0)
			break;
		sleep_ms(1000);
	}
	ctr_list_free(prev);
	free(ps);
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "no-stream", no_argument, NULL, 'N', NULL, "print one sample and exit" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "stats", .args = "[OPTIONS] [CONTAINER...]", .optstring = "+",
		.opts = opts, .summary = "Show containers' resource usage.",
	};
	cleanup_image_store struct image_store *s = NULL;
	struct sigaction sa = { .sa_handler = on_stop };
	bool stream = true;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1)
		if (c != 'N')
			return EXIT_ENGINE;
		else
			stream = !cli_opt_on;
	if (cli_store_open("stats", &s) != 0)
		return EXIT_ENGINE;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	return stats_loop(s, argc - optind, argv + optind, stream);
}
