/* hull kill [-s SIGNAL] CONTAINER... */
#include <signal.h>
#include <stdio.h>

#include "cli/commands.h"
#include "common/signame.h"
#include "engine/human.h"
#include "engine/run.h"

int cmd_kill(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "signal", required_argument, NULL, 's', "SIGNAL",
		  "the signal, by name or number (default KILL)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "kill", .args = "[OPTIONS] CONTAINER...", .optstring = "+s:", .opts = opts,
		.summary = "Send a signal to running containers.",
	};
	cleanup_image_store struct image_store *s = NULL;
	int sig = SIGKILL, c, rc = 0;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 's')
			return EXIT_ENGINE;
		sig = signal_parse(optarg);
		if (sig < 0)
			return cli_usage_error("kill", "-s %s: unknown signal", optarg);
	}
	if (optind >= argc)
		return cli_usage_error("kill", "usage: hull kill [-s SIGNAL] CONTAINER...");
	if (cli_store_open("kill", &s) != 0)
		return EXIT_ENGINE;
	for (int i = optind; i < argc; i++) {
		cleanup_ctr struct ctr *ct = NULL;
		struct hull_err err = { 0 };

		if (ctr_load(s, argv[i], &ct, &err) < 0 || engine_kill(s, ct, sig, &err) < 0) {
			rc = cli_fail("kill", &err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
