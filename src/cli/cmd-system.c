/* hull system prune [-a] [-f]: remove stopped containers' leftovers, unused blobs and layers. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/human.h"
#include "image/image.h"

static void system_commands(FILE *f)
{
	fprintf(f, "Commands:\n  prune      remove unused data\n\n"
		   "Run 'hull system COMMAND --help' for a command's options.\n");
}

int cmd_system(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "all", no_argument, NULL, 'a', NULL, "remove all unused images, not only "
							 "dangling ones" },
		{ "force", no_argument, NULL, 'f', NULL, "do not ask for confirmation" },
		{ 0 },
	};
	static const struct cli_option no_opts[] = { { 0 } };
	static const struct cli_command sys_def = {
		.name = "system", .args = "COMMAND [OPTIONS]", .optstring = "+", .opts = no_opts,
		.summary = "Manage hull's data.", .more = system_commands,
	};
	static const struct cli_command def = {
		.name = "system prune", .args = "[OPTIONS]", .optstring = "+af", .opts = opts,
		.summary = "Remove stopped containers' leftovers, unused blobs and layers.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **keep = NULL;
	struct image_gc_stats st;
	struct hull_err err = { 0 };
	char size[32];
	int c;

	while ((c = cli_getopt(argc, argv, &sys_def)) != -1)
		return EXIT_ENGINE;
	if (optind + 2 == argc && strcmp(argv[optind], "help") == 0 &&
	    strcmp(argv[optind + 1], "prune") == 0) {
		char *args[] = { argv[optind + 1], (char *)"--help", NULL };

		optind = 0;
		return cli_getopt(2, args, &def) == -1 ? 0 : EXIT_ENGINE; /* prints, exits 0 */
	}
	if (optind + 1 == argc && strcmp(argv[optind], "help") == 0) {
		cli_usage(stdout, &sys_def);
		return 0;
	}
	if (optind + 1 < argc && strcmp(argv[optind], "help") == 0)
		return cli_usage_error("system", "help: unknown command '%s'", argv[optind + 1]);
	if (optind >= argc || strcmp(argv[optind], "prune") != 0)
		return cli_usage_error("system", "usage: hull system prune [-a] [-f]");
	argc -= optind;
	argv += optind;
	optind = 0;
	while ((c = cli_getopt(argc, argv, &def)) != -1)
		if (c != 'a' && c != 'f')
			return EXIT_ENGINE;
	if (cli_store_open("system prune", &s) != 0)
		return EXIT_ENGINE;
	unsigned incomplete = 0;

	if (container_prune_incomplete(s, &incomplete, &err) < 0 ||
	    container_image_ids(s, &keep, &err) < 0)
		return cli_fail("system prune", &err);
	if (image_gc(s, keep, &st, &err) < 0)
		return cli_fail("system prune", &err);
	human_size(st.bytes, size, sizeof(size));
	if (incomplete)
		printf("Removed %u half-created containers\n", incomplete);
	printf("Deleted %u blobs and %u layers\nTotal reclaimed space: %s\n", st.blobs, st.layers,
	       size);
	return 0;
}
