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

static unsigned containers_of(struct ctr **all, const char *image_id)
{
	unsigned n = 0;

	for (size_t i = 0; all[i]; i++)
		n += ctr_str(all[i], "ImageID") && strcmp(ctr_str(all[i], "ImageID"), image_id) == 0;
	return n;
}

/* docker's "Images space usage" table (-v). */
static int df_images_verbose(struct image_store *s, struct ctr **all, struct hull_err *err)
{
	struct image_usage *u = NULL;
	struct table *t = table_new(8);
	time_t now = time(NULL);
	size_t n = 0;

	if (image_usage_list(s, &u, &n, err) < 0) {
		table_free(t);
		return -1;
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

	if (container_list(s, &all, err) < 0)
		return -1;
	if (df_images_verbose(s, all, err) < 0) {
		ctr_list_free(all);
		return -1;
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
		human_duration(now - human_parse_time(ctr_str(all[i], "Created")), ago, sizeof(ago));
		created = xasprintf("%s ago", ago);
		table_add(t, (const char *[]){ id, ctr_str(all[i], "Image"), sz, created,
					       ctr_status_name(ctr_status_live(all[i])),
					       ctr_name(all[i]) });
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
	bool verbose = false;
	int c;

	while ((c = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
		if (c == 'v')
			verbose = true;
		else
			return EXIT_ENGINE;
	}
	if (optind < argc)
		return cli_usage_error("system df", SYSTEM_USAGE);
	if (cli_store_open("system df", &s) != 0)
		return EXIT_ENGINE;
	if (verbose)
		return df_verbose(s, &err) < 0 ? cli_fail("system df", &err) : 0;
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
