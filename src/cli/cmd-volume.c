/* hull volume create|ls|inspect|rm|prune: the volumes of docs/engine.md ("Volumes"). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/objcmd.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/table.h"
#include "engine/volume.h"
#include "image/store.h"

#define VOLUME_USAGE "usage: hull volume create|ls|inspect|rm|prune ..."

static const struct cli_option no_opts[] = { { 0 } };

static int vol_create(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "label", required_argument, NULL, 'l', "KEY=VALUE", "set a label" },
		{ "driver", required_argument, NULL, 'd', "DRIVER", "local (the only one)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "volume create", .args = "[OPTIONS] [NAME]", .optstring = "+d:",
		.opts = opts, .summary = "Create a volume (an existing name is kept, as docker).",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **labels = NULL;
	cleanup_free char *name = NULL;
	cleanup_close int lock = -1;
	struct hull_err err = { 0 };
	bool created;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'l' && (!strchr(optarg, '=') || optarg[0] == '='))
			return cli_usage_error("volume create", "--label %s: use KEY=VALUE", optarg);
		if (c == 'l')
			strv_push(&labels, optarg);
		else if (c != 'd')
			return EXIT_ENGINE;
		else if (strcmp(optarg, "local") != 0)
			return cli_usage_error("volume create", "--driver %s: only local is "
					       "supported", optarg);
	}
	if (optind + 1 < argc)
		return cli_usage_error("volume create", "usage: hull volume create [OPTIONS] "
				       "[NAME]");
	if (cli_store_open("volume create", &s) != 0)
		return EXIT_ENGINE;
	lock = volume_lock(s, &err);
	if (lock < 0 || volume_create(s, optind < argc ? argv[optind] : NULL, labels, &name,
				      &created, &err) < 0)
		return cli_fail("volume create", &err);
	printf("%s\n", name);
	return 0;
}

static int vol_ls(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print names only" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "volume ls", .args = "[OPTIONS]", .optstring = "+q", .opts = opts,
		.summary = "List volumes.",
	};
	cleanup_strv char **names = NULL;
	struct hull_err err = { 0 };
	struct objcmd o;
	struct table *t;
	int rc = objcmd_begin(&def, NULL, argc, argv, 0, 0, NULL, &o);

	if (rc == 0 && volume_names(o.s, &names, &err) < 0)
		rc = cli_fail("volume ls", &err);
	if (rc != 0) {
		objcmd_end(&o);
		return rc;
	}
	t = table_new(2);
	table_add(t, (const char *[]){ "DRIVER", "VOLUME NAME" });
	for (size_t i = 0; names[i]; i++) {
		if (o.flag['q'])
			printf("%s\n", names[i]);
		else
			table_add(t, (const char *[]){ "local", names[i] });
	}
	if (!o.flag['q'])
		table_print(t, stdout);
	table_free(t);
	objcmd_end(&o);
	return 0;
}

static int vol_inspect(int argc, char **argv)
{
	static const struct cli_command def = {
		.name = "volume inspect", .args = "VOLUME...", .optstring = "+", .opts = no_opts,
		.summary = "Show volumes as JSON.",
	};

	return objcmd_inspect(&def, "usage: hull volume inspect VOLUME...", NULL, volume_inspect,
			      argc, argv);
}

/* rm and prune: under both locks, so that no create takes the volume meanwhile */
static const objcmd_lock_fn rm_locks[] = { ctr_names_lock, volume_lock, NULL };

static int vol_rm(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "force", no_argument, NULL, 'f', NULL, "no error for a missing volume" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "volume rm", .args = "[OPTIONS] VOLUME...", .optstring = "+f", .opts = opts,
		.summary = "Remove volumes (not one a container uses).",
	};

	return objcmd_rm(&def, "usage: hull volume rm [-f] VOLUME...", rm_locks, volume_remove,
			 argc, argv);
}

static int vol_prune(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "force", no_argument, NULL, 'f', NULL, "do not ask (hull never asks)" },
		{ "all", no_argument, NULL, 'a', NULL, "named volumes too (not only anonymous)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "volume prune", .args = "[OPTIONS]", .optstring = "+fa", .opts = opts,
		.summary = "Remove the anonymous volumes no container uses (-a: all unused).",
	};
	cleanup_strv char **names = NULL;
	struct hull_err err = { 0 };
	struct objcmd o;
	int rc = objcmd_begin(&def, NULL, argc, argv, 0, 0, rm_locks, &o);

	if (rc == 0 && volume_names(o.s, &names, &err) < 0)
		rc = cli_fail("volume prune", &err);
	if (rc != 0) {
		objcmd_end(&o);
		return rc;
	}
	printf("Deleted Volumes:\n");
	for (size_t i = 0; names[i]; i++) {
		cleanup_json json_t *v = NULL;
		cleanup_free char *user = NULL;

		/* docker >= 23 prunes anonymous volumes only unless --all */
		if (volume_inspect(o.s, names[i], &v, &err) < 0 ||
		    (!o.flag['a'] && !json_is_true(json_object_get(v, "Anonymous"))))
			continue;
		user = volume_user(o.s, names[i]);
		if (!user && volume_remove(o.s, names[i], &err) == 0)
			printf("%s\n", names[i]);
	}
	objcmd_end(&o);
	return 0;
}

static void volume_more(FILE *f)
{
	fprintf(f, "\nCommands:\n  create   create a volume\n  ls       list volumes\n"
		   "  inspect  show volumes as JSON\n  rm       remove volumes\n"
		   "  prune    remove unused volumes\n");
}

static const struct cli_command volume_def = {
	.name = "volume", .args = "COMMAND", .optstring = "+", .opts = no_opts,
	.more = volume_more, .summary = "Manage volumes.",
};

int cmd_volume(int argc, char **argv)
{
	static const struct objcmd_sub subs[] = {
		{ "create", vol_create }, { "ls", vol_ls }, { "list", vol_ls },
		{ "inspect", vol_inspect }, { "rm", vol_rm }, { "remove", vol_rm },
		{ "prune", vol_prune },
	};

	return objcmd_dispatch(&volume_def, VOLUME_USAGE, subs, ARRAY_SIZE(subs), argc, argv);
}
