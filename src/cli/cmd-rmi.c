/* hull rmi [-f] IMAGE...: names lose their tag; an id removes the image. */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "image/image.h"

int cmd_rmi(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1)
		if (c != 'f')
			return EXIT_ENGINE;
	if (optind >= argc)
		return cli_usage_error("rmi", "usage: hull rmi IMAGE...");
	if (cli_store_open("rmi", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		struct hull_err err = { 0 };
		char removed[DIGEST_STR_LEN + 1] = "";

		if (image_remove(s, argv[i], removed, &err) < 0) {
			rc = cli_fail("rmi", &err);
			continue;
		}
		printf("Untagged: %s\n", argv[i]);
		if (removed[0])
			printf("Deleted: %s\n", removed);
	}
	return rc;
}
