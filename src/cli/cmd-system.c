/*
 * hull system prune [-a] [-f] [--volumes]: remove unused images, unused blobs and layers and
 * half-created containers; hull system df: disk usage, as docker prints it.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/human.h"
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
	unsigned incomplete = 0;
	char size[32];

	/* exclusive first: no container may start using an image between the look-up of
	 * the containers' images and the sweep */
	if (image_store_lock(s, true, &err) < 0 ||
	    container_prune_incomplete(s, &incomplete, &err) < 0 ||
	    container_image_ids(s, &keep, &err) < 0 ||
	    image_prune(s, all, keep, &removed, &err) < 0 || image_gc(s, keep, &st, &err) < 0)
		return cli_fail("system prune", &err);
	if (incomplete)
		printf("Removed %u half-created containers\n", incomplete);
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

static int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "volumes", no_argument, NULL, 'V' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	bool all = false, force = false, volumes = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "+af", opts, NULL)) != -1) {
		if (c == 'a')
			all = true;
		else if (c == 'f')
			force = true;
		else if (c == 'V')
			volumes = true;
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
	int r = container_list(s, &all, err);

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

static int cmd_df(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **keep = NULL;
	struct hull_err err = { 0 };
	struct image_df img;
	unsigned cn = 0, cactive = 0;
	uint64_t csize = 0, creclaim = 0;
	int c;

	while ((c = getopt_long(argc, argv, "+v", opts, NULL)) != -1)
		if (c != 'v') /* -v: docker's per-object tables; this summary says it all here */
			return EXIT_ENGINE;
	if (optind < argc)
		return cli_usage_error("system df", SYSTEM_USAGE);
	if (cli_store_open("system df", &s) != 0)
		return EXIT_ENGINE;
	if (image_store_lock(s, false, &err) < 0 || container_image_ids(s, &keep, &err) < 0 ||
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

int cmd_system(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "prune") == 0)
		return cmd_prune(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "df") == 0)
		return cmd_df(argc - 1, argv + 1);
	return cli_usage_error("system", SYSTEM_USAGE);
}
