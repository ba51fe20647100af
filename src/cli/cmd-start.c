/* hull start [-a] [-i] CONTAINER...: start created or exited containers. */
#include <stdio.h>

#include "cli/commands.h"
#include "engine/run.h"

int cmd_start(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "attach", no_argument, NULL, 'a', NULL, "attach to the container's output and "
							    "wait for its exit" },
		{ "interactive", no_argument, NULL, 'i', NULL, "attach standard input" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "start", .args = "[OPTIONS] CONTAINER...", .optstring = "+ai",
		.opts = opts, .summary = "Start created or stopped containers.",
	};
	cleanup_image_store struct image_store *s = NULL;
	bool attach = false, interactive = false;
	int c, rc = 0;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'a')
			attach = cli_opt_on;
		else if (c == 'i')
			interactive = cli_opt_on;
		else
			return EXIT_ENGINE;
	}
	if (optind >= argc)
		return cli_usage_error("start", "usage: hull start [-a] [-i] CONTAINER...");
	if (attach && argc - optind != 1)
		return cli_usage_error("start", "-a takes exactly one container");
	if (cli_store_open("start", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		cleanup_ctr struct ctr *ct = NULL;
		struct hull_err err = { 0 };

		if (ctr_load(s, argv[i], &ct, &err) < 0) {
			rc = cli_fail("start", &err);
			continue;
		}
		if (attach) {
			bool rm = ct->host.auto_remove;
			int code = engine_run_foreground(s, ct, interactive, rm, &err);

			return code < 0 ? cli_fail("start", &err) : code;
		}
		if (engine_start_detached(s, ct, &err) < 0) {
			rc = cli_fail("start", &err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
