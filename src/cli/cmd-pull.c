/* hull pull oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "image/transfer.h"

int cmd_pull(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	struct hull_err err = { 0 };
	bool quiet = false;
	int c;

	while ((c = getopt_long(argc, argv, "+q", opts, NULL)) != -1) {
		if (c == 'q')
			quiet = true;
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
