/* hull pull [docker://]REF | oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE:
 * one call, the transport found by image/source.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/registry-cli.h"
#include "common/alloc.h"
#include "common/strv.h"
#include "image/registry.h"
#include "image/source.h"
#include "image/transfer.h"

int cmd_pull(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "quiet", no_argument, NULL, 'q', NULL, "print nothing" },
		{ "platform", required_argument, NULL, CLI_REG_PLATFORM, "OS/ARCH[/VARIANT]",
		  "the platform to pick from an index (default: the host's)" },
		CLI_REGISTRY_OPTIONS,
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "pull", .optstring = "+q", .opts = opts,
		.args = "[OPTIONS] [REGISTRY/]REPO[:TAG|@DIGEST] | oci:DIR[:TAG] | "
			"oci-archive:FILE[:TAG] | docker-archive:FILE",
		.summary = "Copy an image from a registry or an archive into the store.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_strv char **names = NULL;
	struct image_source_opts so = { 0 };
	struct cli_registry c;
	struct hull_err err = { 0 };
	bool quiet = false;
	int opt, r = 0;

	cli_registry_init(&c);
	while (r == 0 && (opt = cli_getopt(argc, argv, &def)) != -1) {
		if (opt == 'q')
			quiet = cli_opt_on;
		else if (opt == CLI_REG_PLATFORM)
			c.o.platform = optarg;
		else if (cli_registry_opt(&c, opt, optarg) != 0)
			r = EXIT_ENGINE;
	}
	if (r == 0 && optind + 1 != argc)
		r = cli_usage_error("pull", "usage: hull pull [OPTIONS] REFERENCE | oci:DIR[:TAG] | "
					    "oci-archive:FILE[:TAG] | docker-archive:FILE");
	if (r == 0 && cli_store_open("pull", &s) != 0)
		r = EXIT_ENGINE;
	if (r == 0) {
		cli_registry_finish(&c);
		so.registry = &c.o;
		so.progress = cli_registry_progress(&c, quiet);
		if (image_pull(s, argv[optind], &so, &names, &err) < 0)
			r = cli_fail("pull", &err);
	}
	for (size_t i = 0; r == 0 && !quiet && names && names[i]; i++)
		printf("%s\n", names[i]);
	cli_registry_free(&c);
	return r;
}
