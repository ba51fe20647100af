/* hull stop [-t N] CONTAINER...: the stop signal, then KILL after N seconds (default: the
 * container's --stop-timeout, or 10; -1: wait forever). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "engine/run.h"

int cmd_stop(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "time", required_argument, NULL, 't', "SECONDS",
		  "seconds to wait before KILL (default: --stop-timeout, or 10; -1: forever)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "stop", .args = "[OPTIONS] CONTAINER...", .optstring = "+t:", .opts = opts,
		.summary = "Stop containers: the stop signal, then KILL after a timeout.",
	};
	cleanup_image_store struct image_store *s = NULL;
	long timeout = ENGINE_STOP_TIMEOUT_DEFAULT;
	char *end = NULL;
	int c, rc = 0;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 't')
			return EXIT_ENGINE;
		timeout = strtol(optarg, &end, 10);
		if (end == optarg || *end || timeout < -1 || timeout > 86400)
			return cli_usage_error("stop", "-t %s: invalid number of seconds", optarg);
	}
	if (optind >= argc)
		return cli_usage_error("stop", "usage: hull stop [-t N] CONTAINER...");
	if (cli_store_open("stop", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		cleanup_ctr struct ctr *ct = NULL;
		struct hull_err err = { 0 };

		if (ctr_load(s, argv[i], &ct, &err) < 0 ||
		    engine_stop(s, ct, (int)timeout, &err) < 0) {
			rc = cli_fail("stop", &err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
