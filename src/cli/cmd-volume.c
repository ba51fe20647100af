/* hull volume create|ls|inspect|rm|prune: the volumes of docs/engine.md ("Volumes"). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/table.h"
#include "engine/volume.h"
#include "image/store.h"

DEFINE_CLEANUP_FUNC(json_t, json_decref)
#define cleanup_json __attribute__((cleanup(json_decref_cleanup)))

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
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	struct hull_err err = { 0 };
	struct table *t;
	bool quiet = false;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 'q')
			return EXIT_ENGINE;
		quiet = cli_opt_on;
	}
	if (optind < argc)
		return cli_usage_error("volume ls", "unexpected argument '%s'", argv[optind]);
	if (cli_store_open("volume ls", &s) != 0)
		return EXIT_ENGINE;
	if (volume_names(s, &names, &err) < 0)
		return cli_fail("volume ls", &err);
	t = table_new(2);
	table_add(t, (const char *[]){ "DRIVER", "VOLUME NAME" });
	for (size_t i = 0; names[i]; i++) {
		if (quiet)
			printf("%s\n", names[i]);
		else
			table_add(t, (const char *[]){ "local", names[i] });
	}
	if (!quiet)
		table_print(t, stdout);
	table_free(t);
	return 0;
}

static int vol_inspect(int argc, char **argv)
{
	static const struct cli_command def = {
		.name = "volume inspect", .args = "VOLUME...", .optstring = "+", .opts = no_opts,
		.summary = "Show volumes as JSON.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_json json_t *out = json_array();
	cleanup_free char *text = NULL;
	struct hull_err err = { 0 };
	int rc = 0;

	if (cli_getopt(argc, argv, &def) != -1)
		return EXIT_ENGINE;
	if (optind >= argc)
		return cli_usage_error("volume inspect", "usage: hull volume inspect VOLUME...");
	if (cli_store_open("volume inspect", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		json_t *v = NULL;

		if (volume_inspect(s, argv[i], &v, &err) < 0) {
			rc = cli_fail("volume inspect", &err);
			continue;
		}
		(void)json_array_append_new(out, v);
	}
	text = hjson_dump(out, JSON_INDENT(4));
	printf("%s\n", text);
	return rc;
}

/* rm and prune: under both locks, so that no create takes the volume meanwhile */
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
	cleanup_image_store struct image_store *s = NULL;
	cleanup_close int names_lock = -1;
	cleanup_close int lock = -1;
	struct hull_err err = { 0 };
	bool force = false;
	int c, rc = 0;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 'f')
			return EXIT_ENGINE;
		force = cli_opt_on;
	}
	if (optind >= argc)
		return cli_usage_error("volume rm", "usage: hull volume rm [-f] VOLUME...");
	if (cli_store_open("volume rm", &s) != 0)
		return EXIT_ENGINE;
	names_lock = ctr_names_lock(s, &err);
	if (names_lock < 0 || (lock = volume_lock(s, &err)) < 0)
		return cli_fail("volume rm", &err);
	for (int i = optind; i < argc; i++) {
		int r = volume_remove(s, argv[i], &err);

		if (r == -ENOENT && force)
			continue;
		if (r < 0)
			rc = cli_fail("volume rm", &err);
		else
			printf("%s\n", argv[i]);
	}
	return rc;
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
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	cleanup_close int names_lock = -1;
	cleanup_close int lock = -1;
	struct hull_err err = { 0 };
	bool all = false;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'a')
			all = cli_opt_on;
		else if (c != 'f')
			return EXIT_ENGINE;
	}
	if (optind < argc)
		return cli_usage_error("volume prune", "unexpected argument '%s'", argv[optind]);
	if (cli_store_open("volume prune", &s) != 0)
		return EXIT_ENGINE;
	names_lock = ctr_names_lock(s, &err);
	if (names_lock < 0 || (lock = volume_lock(s, &err)) < 0 ||
	    volume_names(s, &names, &err) < 0)
		return cli_fail("volume prune", &err);
	printf("Deleted Volumes:\n");
	for (size_t i = 0; names[i]; i++) {
		cleanup_json json_t *v = NULL;
		cleanup_free char *user = NULL;

		/* docker >= 23 prunes anonymous volumes only unless --all */
		if (volume_inspect(s, names[i], &v, &err) < 0 ||
		    (!all && !json_is_true(json_object_get(v, "Anonymous"))))
			continue;
		user = volume_user(s, names[i]);
		if (!user && volume_remove(s, names[i], &err) == 0)
			printf("%s\n", names[i]);
	}
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
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{ "create", vol_create }, { "ls", vol_ls }, { "list", vol_ls },
		{ "inspect", vol_inspect }, { "rm", vol_rm }, { "remove", vol_rm },
		{ "prune", vol_prune },
	};
	char *help_argv[3] = { NULL, (char *)"--help", NULL };
	bool help = false;

	if (cli_getopt(argc, argv, &volume_def) != -1)
		return EXIT_ENGINE;
	if (optind < argc && strcmp(argv[optind], "help") == 0) {
		if (optind + 1 == argc) {
			cli_usage(stdout, &volume_def);
			return 0;
		}
		if (optind + 2 != argc)
			return cli_usage_error("volume", "usage: hull volume help COMMAND");
		help_argv[0] = argv[optind + 1];
		help = true;
	}
	if (optind >= argc)
		return cli_usage_error("volume", VOLUME_USAGE);
	argc -= optind;
	argv += optind;
	optind = 0;
	if (help) {
		argc = 2;
		argv = help_argv;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (strcmp(argv[0], subs[i].name) == 0)
			return subs[i].fn(argc, argv);
	return cli_usage_error("volume", "unknown command '%s'; %s", argv[0], VOLUME_USAGE);
}
