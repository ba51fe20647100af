/* hull push IMAGE [REFERENCE] */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/registry-cli.h"
#include "image/digest.h"
#include "image/registry.h"

int cmd_push(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print nothing" },
		CLI_REGISTRY_OPTIONS,
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "push", .optstring = "+q", .opts = opts,
		.args = "[OPTIONS] IMAGE [[REGISTRY/]REPO[:TAG]]",
		.summary = "Copy an image of the store to a registry.",
	};
	cleanup_image_store struct image_store *s = NULL;
	struct cli_registry c;
	struct hull_err err = { 0 };
	char digest[DIGEST_STR_LEN + 1];
	bool quiet;
	int r = cli_registry_parse("push", &def, argc, argv, &c, &quiet);

	if (r == 0 && (optind + 1 != argc && optind + 2 != argc))
		r = cli_usage_error("push", "usage: hull push [OPTIONS] IMAGE [REFERENCE]");
	if (r == 0 && cli_store_open("push", &s) != 0)
		r = EXIT_ENGINE;
	if (r == 0) {
		cli_registry_finish(&c);
		if (registry_push(s, argv[optind], optind + 2 == argc ? argv[optind + 1] : NULL,
				  &c.o, cli_registry_progress(&c, quiet), digest, &err) < 0)
			r = cli_fail("push", &err);
		else if (!quiet)
			printf("%s\n", digest);
	}
	cli_registry_free(&c);
	return r;
}
