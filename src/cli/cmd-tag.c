/* hull tag IMAGE NEW_NAME */
#include <stdio.h>

#include "cli/commands.h"
#include "image/image.h"

int cmd_tag(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "tag", .args = "IMAGE NEW_NAME", .optstring = "+", .opts = opts,
		.summary = "Give an image another name.",
	};
	struct hull_err err = { 0 };

	if (cli_getopt(argc, argv, &def) != -1)
		return EXIT_ENGINE;
	if (argc - optind != 2)
		return cli_usage_error("tag", "usage: hull tag IMAGE NEW_NAME");
	if (cli_store_open("tag", &s) != 0)
		return EXIT_ENGINE;
	if (image_tag(s, argv[optind], argv[optind + 1], &err) < 0)
		return cli_fail("tag", &err);
	return 0;
}
