/* hull load -i FILE [-q]: a docker-archive or an oci-archive into the store. */
#include <stdio.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "image/transfer.h"

int cmd_load(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "input", required_argument, NULL, 'i', "FILE", "read the archive from FILE "
								 "(default: standard input)" },
		{ "quiet", no_argument, NULL, 'q', NULL, "print nothing" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "load", .args = "[OPTIONS]", .optstring = "+i:q", .opts = opts,
		.summary = "Load images from a docker-archive or an oci-archive.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	struct hull_err err = { 0 };
	const char *input = NULL;
	bool quiet = false;
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'i')
			input = optarg;
		else if (c == 'q')
			quiet = cli_opt_on;
		else
			return EXIT_ENGINE;
	}
	if (!input && optind < argc)
		input = argv[optind++];
	/* as docker: without -i, the archive comes on standard input */
	if (!input && !isatty(0))
		input = "-";
	if (!input || optind < argc)
		return cli_usage_error("load", "usage: hull load [-i FILE|-] (or the archive on "
					       "standard input)");
	if (cli_store_open("load", &s) != 0)
		return EXIT_ENGINE;
	if (image_load(s, input, &names, &err) < 0)
		return cli_fail("load", &err);
	for (size_t i = 0; !quiet && names && names[i]; i++)
		printf("Loaded image: %s\n", names[i]);
	return 0;
}
