/* hull rm [-f] CONTAINER... */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "engine/run.h"

int cmd_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	bool force = false;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (c != 'f')
			return EXIT_ENGINE;
		force = true;
	}
	if (optind >= argc)
		return cli_usage_error("rm", "usage: hull rm [-f] CONTAINER...");
	if (cli_store_open("rm", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		cleanup_ctr struct ctr *ct = NULL;
		struct hull_err err = { 0 };

		if (container_load(s, argv[i], &ct, &err) < 0 ||
		    engine_remove(s, ct, force, &err) < 0) {
			rc = cli_fail("rm", &err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
