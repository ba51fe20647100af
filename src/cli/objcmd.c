/* The shared steps of `hull network` and `hull volume` (objcmd.h). */
#include "cli/objcmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "image/store.h"

int objcmd_dispatch(const struct cli_command *def, const char *usage,
		    const struct objcmd_sub *subs, size_t n, int argc, char **argv)
{
	char *help_argv[3] = { NULL, (char *)"--help", NULL };
	bool help = false;

	if (cli_getopt(argc, argv, def) != -1)
		return EXIT_ENGINE;
	if (optind < argc && strcmp(argv[optind], "help") == 0) {
		if (optind + 1 == argc) {
			cli_usage(stdout, def);
			return 0;
		}
		if (optind + 2 != argc)
			return cli_usage_error(def->name, "usage: hull %s help COMMAND", def->name);
		/* `hull KIND help ls` is `hull KIND ls --help` */
		help_argv[0] = argv[optind + 1];
		help = true;
	}
	if (optind >= argc)
		return cli_usage_error(def->name, "%s", usage);
	argc -= optind;
	argv += optind;
	optind = 0;
	if (help) {
		argc = 2;
		argv = help_argv;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[0], subs[i].name) == 0)
			return subs[i].fn(argc, argv);
	return cli_usage_error(def->name, "unknown command '%s'; %s", argv[0], usage);
}

int objcmd_begin(const struct cli_command *def, const char *usage, int argc, char **argv,
		 int min, int max, const objcmd_lock_fn *locks, struct objcmd *o)
{
	struct hull_err err = { 0 };
	int c;

	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < OBJCMD_LOCKS_MAX; i++)
		o->locks[i] = -1;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		if (c <= 0 || c >= (int)sizeof(o->flag) || c == '+' || c == ':' ||
		    !strchr(def->optstring, c))
			return EXIT_ENGINE;
		o->flag[c] = cli_opt_on;
	}
	if (max == 0 && optind < argc)
		return cli_usage_error(def->name, "unexpected argument '%s'", argv[optind]);
	if (argc - optind < min)
		return cli_usage_error(def->name, "%s", usage);
	if (cli_store_open(def->name, &o->s) != 0)
		return EXIT_ENGINE;
	for (size_t i = 0; locks && locks[i] && i < OBJCMD_LOCKS_MAX; i++) {
		o->locks[i] = locks[i](o->s, &err);
		if (o->locks[i] < 0)
			return cli_fail(def->name, &err);
	}
	return 0;
}

void objcmd_end(struct objcmd *o)
{
	for (size_t i = OBJCMD_LOCKS_MAX; i-- > 0;)
		if (o->locks[i] >= 0)
			(void)close(o->locks[i]);
	image_store_free(o->s);
	o->s = NULL;
}

int objcmd_inspect(const struct cli_command *def, const char *usage,
		   const objcmd_lock_fn *locks, objcmd_inspect_fn one, int argc, char **argv)
{
	struct objcmd o;
	json_t *out;
	cleanup_free char *text = NULL;
	int rc = objcmd_begin(def, usage, argc, argv, 1, -1, locks, &o);

	if (rc != 0) {
		objcmd_end(&o);
		return rc;
	}
	out = json_array();
	for (int i = optind; i < argc; i++) {
		struct hull_err err = { 0 };
		json_t *v = NULL;

		if (one(o.s, argv[i], &v, &err) < 0) {
			rc = cli_fail(def->name, &err);
			continue;
		}
		(void)json_array_append_new(out, v);
	}
	text = hjson_dump(out, JSON_INDENT(4));
	printf("%s\n", text);
	json_decref(out);
	objcmd_end(&o);
	return rc;
}

int objcmd_rm(const struct cli_command *def, const char *usage, const objcmd_lock_fn *locks,
	      objcmd_remove_fn rm_one, int argc, char **argv)
{
	struct objcmd o;
	int rc = objcmd_begin(def, usage, argc, argv, 1, -1, locks, &o);

	if (rc != 0) {
		objcmd_end(&o);
		return rc;
	}
	for (int i = optind; i < argc; i++) {
		struct hull_err err = { 0 };
		int r = rm_one(o.s, argv[i], &err);

		if (r == -ENOENT && o.flag['f'])
			continue;
		if (r < 0)
			rc = cli_fail(def->name, &err);
		else
			printf("%s\n", argv[i]);
	}
	objcmd_end(&o);
	return rc;
}
