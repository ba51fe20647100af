/* hull pull oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE */
#include <stdio.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "image/transfer.h"

int cmd_pull(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print nothing" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "pull", .optstring = "+q", .opts = opts,
		.args = "[OPTIONS] oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE",
		.summary = "Copy an image into the store.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	struct hull_err err = { 0 };
	bool quiet = false;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'q')
			quiet = cli_opt_on;
		else
			return EXIT_ENGINE;
	}
	if (optind + 1 != argc)
		return cli_usage_error("pull", "usage: hull pull oci:DIR[:TAG] | "
					       "oci-archive:FILE[:TAG] | docker-archive:FILE");
	if (cli_store_open("pull", &s) != 0)
		return EXIT_ENGINE;
	if (image_pull(s, argv[optind], &names, &err) < 0)
		return cli_fail("pull", &err);
	for (size_t i = 0; !quiet && names && names[i]; i++)
		printf("%s\n", names[i]);
	return 0;
}
