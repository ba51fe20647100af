/* hull system prune [-a] [-f]: remove stopped containers' leftovers, unused blobs and layers. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/human.h"
#include "image/image.h"

int cmd_system(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **keep = NULL;
	struct image_gc_stats st;
	struct hull_err err = { 0 };
	char size[32];
	int c;

	if (argc < 2 || strcmp(argv[1], "prune") != 0)
		return cli_usage_error("system", "usage: hull system prune [-a] [-f]");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "+af", opts, NULL)) != -1)
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
