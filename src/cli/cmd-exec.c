/* hull exec [-i] [-t] [-e K=V] [-u USER[:GROUP]] [-w DIR] CONTAINER CMD... */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "common/strv.h"
#include "engine/exec.h"

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "detach", no_argument, NULL, 'd' },
		{ 0 },
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	cleanup_strv char **env = NULL;
	struct exec_opts o = { 0 };
	struct hull_err err = { 0 };
	int ch, code = EXIT_ENGINE, r;

	while ((ch = getopt_long(argc, argv, "+ite:u:w:d", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': o.interactive = true; break;
		case 't': o.tty = true; break;
		case 'd': return cli_usage_error("exec", "-d: not supported yet");
		case 'e': strv_push(&env, optarg); break;
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
	if (container_load(s, argv[optind], &c, &err) < 0)
		return cli_fail("exec", &err);
	r = engine_exec(s, c, &o, &code, &err);
	if (r < 0) {
		(void)cli_fail("exec", &err);
		return code;
	}
	return r;
}
