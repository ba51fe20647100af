/* hull exec [-i] [-t] [-e K=V] [-u USER[:GROUP]] [-w DIR] CONTAINER CMD... */
#include <stdio.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "engine/exec.h"

int cmd_exec(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "interactive", no_argument, NULL, 'i', NULL, "keep standard input open" },
		{ "tty", no_argument, NULL, 't', NULL, "allocate a pseudo-terminal" },
		{ "env", required_argument, NULL, 'e', "KEY=VALUE", "set an environment variable" },
		{ "user", required_argument, NULL, 'u', "USER[:GROUP]", "run as this user" },
		{ "workdir", required_argument, NULL, 'w', "DIR", "working directory" },
		{ "detach", no_argument, NULL, 'd', NULL, "run in the background (not supported "
							    "yet)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "exec", .args = "[OPTIONS] CONTAINER COMMAND [ARG...]",
		.optstring = "+ite:u:w:d", .opts = opts,
		.summary = "Run a command in a running container.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	cleanup_strv char **env = NULL;
	struct exec_opts o = { 0 };
	struct hull_err err = { 0 };
	int ch, code = EXIT_ENGINE, r;

	while ((ch = cli_getopt(argc, argv, &def)) != -1) {
		switch (ch) {
		case 'i': o.interactive = cli_opt_on; break;
		case 't': o.tty = cli_opt_on; break;
		case 'd':
			if (cli_opt_on)
				return cli_usage_error("exec", "-d: not supported yet");
			break;
		case 'e': cli_env_push(&env, optarg); break;
		case 'u': o.user = optarg; break;
		case 'w': o.workdir = optarg; break;
		default: return EXIT_ENGINE;
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("exec", "usage: hull exec [-i] [-t] [-e K=V] [-u USER] "
					       "[-w DIR] CONTAINER CMD...");
	o.env = env;
	o.args = argv + optind + 1;
	if (cli_store_open("exec", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind], &c, &err) < 0)
		return cli_fail("exec", &err);
	r = engine_exec(s, c, &o, &code, &err);
	if (r < 0) {
		(void)cli_fail("exec", &err);
		return code;
	}
	return r;
}
