/*
 * hull system prune [-a] [-f] [--volumes]: remove unused images, unused blobs and layers and
 * half-created containers; hull system df: disk usage, as docker prints it.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/human.h"
#include "engine/network.h"
#include "engine/table.h"
#include "image/image.h"

#define SYSTEM_USAGE "usage: hull system prune [-a] [-f] [--volumes] | hull system df [-v]"

/* docker's confirmation: asked on a terminal, refused (not assumed) without one. */
static int confirm(bool all, bool volumes)
{
	char line[64];

	if (!isatty(0))
		return cli_usage_error("system prune", "standard input is not a terminal: "
				       "confirm with -f (--force)");
	printf("WARNING! This will remove:\n  - %s\n  - all blobs and unpacked layers no image "
	       "or container uses\n  - containers a crash left half-created\n%s"
	       "Are you sure you want to continue? [y/N] ",
	       all ? "all images without at least one container associated to them"
		   : "all dangling images",
	       volumes ? "  - (no volumes: hull has none yet)\n" : "");
	(void)fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y'))
		return 1;
	return 0;
}

static int prune(struct image_store *s, bool all)
{
	cleanup_strv char **keep = NULL;
	cleanup_strv char **removed = NULL;
	struct image_gc_stats st;
	struct hull_err err = { 0 };
	unsigned incomplete = 0, nets = 0;
	char size[32];

	/* exclusive first: no container may start using an image between the look-up of
	 * the containers' images and the sweep */
	if (image_store_lock(s, true, &err) < 0 ||
	    engine_net_prune_leftovers(s, &nets, &err) < 0 ||
	    ctr_prune_incomplete(s, &incomplete, &err) < 0 ||
	    ctr_image_ids(s, &keep, &err) < 0 ||
	    image_prune(s, all, keep, &removed, &err) < 0 || image_gc(s, keep, &st, &err) < 0)
		return cli_fail("system prune", &err);
	if (incomplete)
		printf("Removed %u half-created containers\n", incomplete);
	if (nets)
		printf("Tore down %u container networks left behind\n", nets);
	if (removed) {
		printf("Deleted Images:\n");
		for (size_t i = 0; removed[i]; i++)
			printf("deleted: %s\n", removed[i]);
	}
	human_size(st.bytes, size, sizeof(size));
	printf("Deleted %u blobs and %u layers\nTotal reclaimed space: %s\n", st.blobs, st.layers,
	       size);
	return 0;
}

static const struct cli_option prune_opts[] = {
	{ "all", no_argument, NULL, 'a', NULL, "remove all unused images, not only dangling ones" },
	{ "force", no_argument, NULL, 'f', NULL, "do not ask for confirmation" },
	{ "volumes", no_argument, NULL, 'V', NULL, "prune volumes too (hull has none yet)" },
	{ 0 },
};
static const struct cli_command prune_def = {
	.name = "system prune", .args = "[OPTIONS]", .optstring = "+af", .opts = prune_opts,
	.summary = "Remove unused images, unused blobs and layers, and half-created containers.",
};
static const struct cli_option df_opts[] = {
	{ "verbose", no_argument, NULL, 'v', NULL, "show the space each object uses" },
	{ 0 },
};
static const struct cli_command df_def = {
	.name = "system df", .args = "[OPTIONS]", .optstring = "+v", .opts = df_opts,
	.summary = "Show hull's disk usage.",
};

static int cmd_prune(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	bool all = false, force = false, volumes = false;
	int c, r;

	while ((c = cli_getopt(argc, argv, &prune_def)) != -1) {
		if (c == 'a')
			all = cli_opt_on;
		else if (c == 'f')
			force = cli_opt_on;
		else if (c == 'V')
			volumes = cli_opt_on;
		else
			return EXIT_ENGINE;
	}
	if (optind < argc)
		return cli_usage_error("system prune", SYSTEM_USAGE);
	if (!force && (r = confirm(all, volumes)) != 0)
		return r == 1 ? 0 : r;
	if (cli_store_open("system prune", &s) != 0)
		return EXIT_ENGINE;
	if (volumes)
		printf("Deleted Volumes: none (hull has no volumes yet)\n");
	return prune(s, all);
}

static void df_row(const char *type, unsigned total, unsigned active, uint64_t size,
		   uint64_t reclaim)
{
	char sz[32], rc[32], pct[16] = "";

	human_size(size, sz, sizeof(sz));
	human_size(reclaim, rc, sizeof(rc));
	if (size)
		(void)snprintf(pct, sizeof(pct), " (%u%%)", (unsigned)(reclaim * 100 / size));
	printf("%-16s%-10u%-10u%-10s%s%s\n", type, total, active, sz, rc, pct);
}

/* Containers: TOTAL, ACTIVE (running), SIZE (their directories), RECLAIMABLE (not running). */
static int df_containers(struct image_store *s, unsigned *ret_n, unsigned *ret_active,
			 uint64_t *ret_size, uint64_t *ret_reclaim, struct hull_err *err)
{
	struct ctr **all = NULL;
	int r = ctr_list(s, &all, err);

	if (r < 0)
		return r;
	for (size_t i = 0; all[i]; i++) {
		bool running = ctr_status_live(all[i]) == CTR_RUNNING;
		uint64_t du = 0;

		(void)store_du_at(AT_FDCWD, all[i]->dir, &du);
		(*ret_n)++;
		*ret_active += running;
		*ret_size += du;
		if (!running)
			*ret_reclaim += du;
	}
	ctr_list_free(all);
	return 0;
}

static unsigned containers_of(struct ctr **all, const char *image_id)
{
	unsigned n = 0;

	for (size_t i = 0; all[i]; i++)
		n += all[i]->image_id && strcmp(all[i]->image_id, image_id) == 0;
	return n;
}

/* docker's "Images space usage" table (-v). */
static int df_images_verbose(struct image_store *s, struct ctr **all, struct hull_err *err)
{
	struct image_usage *u = NULL;
	struct table *t = table_new(8);
	time_t now = time(NULL);
	size_t n = 0;
	int rc = image_usage_list(s, &u, &n, err);

	if (rc < 0) {
		table_free(t);
		return rc;
	}
	table_add(t, (const char *[]){ "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE",
				       "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS" });
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *repo = NULL;
		cleanup_free char *tag = NULL;
		cleanup_free char *created = NULL;
		cleanup_free char *users = xasprintf("%u", containers_of(all, u[i].info.config));
		char id[13], sz[32], sh[32], un[32], ago[64] = "N/A";

		if (u[i].info.name)
			image_ref_split(u[i].info.name, &repo, &tag);
		(void)snprintf(id, sizeof(id), "%s", u[i].info.config + 7);
		if (u[i].info.created && human_parse_time(u[i].info.created))
			human_duration(now - human_parse_time(u[i].info.created), ago, sizeof(ago));
		created = xasprintf("%s%s", ago, strcmp(ago, "N/A") ? " ago" : "");
		human_size(u[i].size, sz, sizeof(sz));
		human_size(u[i].shared, sh, sizeof(sh));
		human_size(u[i].size - u[i].shared, un, sizeof(un));
		table_add(t, (const char *[]){ repo ? repo : "<none>", tag ? tag : "<none>", id,
					       created, sz, sh, un, users });
		image_info_clear(&u[i].info);
	}
	free(u);
	printf("Images space usage:\n\n");
	table_print(t, stdout);
	table_free(t);
	return 0;
}

/* -v: docker's per-object tables (containers: no COMMAND column; no volumes, no cache). */
static int df_verbose(struct image_store *s, struct hull_err *err)
{
	struct ctr **all = NULL;
	struct table *t;
	time_t now = time(NULL);
	int rc = ctr_list(s, &all, err);

	if (rc < 0)
		return rc;
	rc = df_images_verbose(s, all, err);
	if (rc < 0) {
		ctr_list_free(all);
		return rc;
	}
	t = table_new(6);
	table_add(t, (const char *[]){ "CONTAINER ID", "IMAGE", "SIZE", "CREATED", "STATUS",
				       "NAMES" });
	for (size_t i = 0; all[i]; i++) {
		char id[13], sz[32], ago[64];
		cleanup_free char *created = NULL;
		uint64_t du = 0;

		(void)store_du_at(AT_FDCWD, all[i]->dir, &du);
		human_size(du, sz, sizeof(sz));
		(void)snprintf(id, sizeof(id), "%s", all[i]->id);
		human_duration(now - human_parse_time(all[i]->created), ago, sizeof(ago));
		created = xasprintf("%s ago", ago);
		table_add(t, (const char *[]){ id, all[i]->image, sz, created,
					       ctr_status_name(ctr_status_live(all[i])),
					       all[i]->name });
	}
	ctr_list_free(all);
	printf("\nContainers space usage:\n\n");
	table_print(t, stdout);
	table_free(t);
	printf("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n\n"
	       "Build cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   SHARED    "
	       "USAGE     PRIVATE\n");
	return 0;
}

static int cmd_df(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **keep = NULL;
	struct hull_err err = { 0 };
	struct image_df img;
	unsigned cn = 0, cactive = 0;
	uint64_t csize = 0, creclaim = 0;
	bool verbose = false;
	int c;

	while ((c = cli_getopt(argc, argv, &df_def)) != -1) {
		if (c == 'v')
			verbose = cli_opt_on;
		else
			return EXIT_ENGINE;
	}
	if (optind < argc)
		return cli_usage_error("system df", SYSTEM_USAGE);
	if (cli_store_open("system df", &s) != 0)
		return EXIT_ENGINE;
	if (verbose)
		return df_verbose(s, &err) < 0 ? cli_fail("system df", &err) : 0;
	if (image_store_lock(s, false, &err) < 0 || ctr_image_ids(s, &keep, &err) < 0 ||
	    image_df(s, keep, &img, &err) < 0 ||
	    df_containers(s, &cn, &cactive, &csize, &creclaim, &err) < 0)
		return cli_fail("system df", &err);
	printf("%-16s%-10s%-10s%-10s%s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
	df_row("Images", img.images, img.active, img.size, img.reclaimable);
	df_row("Containers", cn, cactive, csize, creclaim);
	df_row("Local Volumes", 0, 0, 0, 0);
	df_row("Build Cache", 0, 0, 0, 0);
	return 0;
}

static void system_commands(FILE *f)
{
	fprintf(f, "Commands:\n  df         show hull's disk usage\n"
		   "  prune      remove unused data\n\n"
		   "Run 'hull system COMMAND --help' for a command's options.\n");
}

int cmd_system(int argc, char **argv)
{
	static const struct cli_option no_opts[] = { { 0 } };
	static const struct cli_command sys_def = {
		.name = "system", .args = "COMMAND [OPTIONS]", .optstring = "+", .opts = no_opts,
		.summary = "Manage hull's data.", .more = system_commands,
	};
	const struct cli_command *sub = NULL;
	int c;

	while ((c = cli_getopt(argc, argv, &sys_def)) != -1)
		return EXIT_ENGINE;
	if (optind < argc && strcmp(argv[optind], "help") == 0) {
		if (optind + 1 == argc) {
			cli_usage(stdout, &sys_def);
			return 0;
		}
		sub = strcmp(argv[optind + 1], "prune") == 0 ? &prune_def
		      : strcmp(argv[optind + 1], "df") == 0  ? &df_def
							       : NULL;
		if (!sub || optind + 2 != argc)
			return cli_usage_error("system", "help: unknown command '%s'",
					       argv[optind + 1]);
		cli_usage(stdout, sub);
		return 0;
	}
	if (optind >= argc)
		return cli_usage_error("system", SYSTEM_USAGE);
	argc -= optind;
	argv += optind;
	optind = 0;
	if (strcmp(argv[0], "prune") == 0)
		return cmd_prune(argc, argv);
	if (strcmp(argv[0], "df") == 0)
		return cmd_df(argc, argv);
	return cli_usage_error("system", SYSTEM_USAGE);
}
