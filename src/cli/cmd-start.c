/* hull start [-a] [-i] CONTAINER...: start created or exited containers. */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "engine/run.h"

int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "attach", no_argument, NULL, 'a' },
		{ "interactive", no_argument, NULL, 'i' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	bool attach = false, interactive = false;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "+ai", opts, NULL)) != -1) {
		if (c == 'a')
			attach = true;
		else if (c == 'i')
			interactive = true;
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

		if (container_load(s, argv[i], &ct, &err) < 0) {
			rc = cli_fail("start", &err);
			continue;
		}
		if (attach) {
			bool rm = json_is_true(json_object_get(json_object_get(ct->rec, "HostConfig"),
							       "AutoRemove"));
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
