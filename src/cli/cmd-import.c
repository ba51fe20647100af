/* hull import ROOTFS.tar|- [NAME] [--change 'CMD ...']... */
#include <stdio.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "image/transfer.h"

int cmd_import(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "change", required_argument, NULL, 'c', "INSTRUCTION",
		  "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER...)" },
		{ "message", required_argument, NULL, 'm', "TEXT", "commit message (ignored)" },
		{ "quiet", no_argument, NULL, 'q', NULL, "accepted: import prints only the id" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "import", .args = "[OPTIONS] FILE|- [NAME]", .optstring = "c:m:q",
		.opts = opts, .summary = "Make an image from a root file system tar.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **changes = NULL;
	struct hull_err err = { 0 };
	char id[DIGEST_STR_LEN + 1];
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'c')
			strv_push(&changes, optarg);
		else if (c != 'm' && c != 'q')
			return EXIT_ENGINE;
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage_error("import", "usage: hull import FILE|- [NAME] [--change "
						 "'INSTRUCTION']...");
	if (cli_store_open("import", &s) != 0)
		return EXIT_ENGINE;
	if (image_import(s, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, changes,
			 id, &err) < 0)
		return cli_fail("import", &err);
	printf("%s\n", id);
	return 0;
}
