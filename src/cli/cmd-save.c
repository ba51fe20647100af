/* hull save [-o FILE] [--format oci-archive|docker-archive] NAME... (stdout without -o) */
#include <stdio.h>
#include <unistd.h>

#include "cli/commands.h"
#include "image/transfer.h"

int cmd_save(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "output", required_argument, NULL, 'o', "FILE", "write the archive to FILE (default: standard output)" },
		{ "format", required_argument, NULL, 'f', "FORMAT",
		  "docker-archive (the default) or oci-archive" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "save", .args = "[OPTIONS] IMAGE...", .optstring = "+o:", .opts = opts,
		.summary = "Write images to an archive.",
	};
	cleanup_image_store struct image_store *s = NULL;
	struct hull_err err = { 0 };
	const char *out = NULL, *format = "docker-archive";
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'f')
			format = optarg;
		else
			return EXIT_ENGINE;
	}
	if (optind >= argc)
		return cli_usage_error("save", "usage: hull save [-o FILE] [--format "
					       "oci-archive|docker-archive] NAME...");
	/* as docker: without -o the archive goes to standard output, never to a terminal */
	if (!out && isatty(STDOUT_FILENO))
		return cli_usage_error("save", "refusing to write an archive to a terminal: "
				       "use -o FILE or redirect standard output");
	if (!out)
		out = "-";
	if (cli_store_open("save", &s) != 0)
		return EXIT_ENGINE;
	if (image_save(s, argv + optind, out, format, &err) < 0)
		return cli_fail("save", &err);
	return 0;
}
