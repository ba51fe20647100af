/* hull tag IMAGE NEW_NAME */
#include <stdio.h>

#include "cli/commands.h"
#include "image/image.h"

int cmd_tag(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	struct hull_err err = { 0 };

	if (argc != 3)
		return cli_usage_error("tag", "usage: hull tag IMAGE NEW_NAME");
	if (cli_store_open("tag", &s) != 0)
		return EXIT_ENGINE;
	if (image_tag(s, argv[1], argv[2], &err) < 0)
		return cli_fail("tag", &err);
	return 0;
}
