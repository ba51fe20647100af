/* The flags hull pull and push share (registry-cli.h); the rest of it is in cmd-login.c. */
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/registry-cli.h"
#include "image/registry.h"

int cli_platform_check(const char *cmd, const char *arg)
{
	char *os = NULL, *arch = NULL, *variant = NULL;
	int r = registry_platform_parse(arg, &os, &arch, &variant, NULL);

	free(os);
	free(arch);
	free(variant);
	if (r < 0)
		return cli_usage_error(cmd, "--platform %s: expected os/arch[/variant]", arg);
	return 0;
}

int cli_registry_parse(const char *cmd, const struct cli_command *def, int argc, char **argv,
		       struct cli_registry *c, bool *ret_quiet)
{
	int opt, r = 0;

	cli_registry_init(c);
	*ret_quiet = false;
	while (r == 0 && (opt = cli_getopt(argc, argv, def)) != -1) {
		if (opt == 'q')
			*ret_quiet = cli_opt_on;
		else if (opt == CLI_REG_PLATFORM)
			r = cli_platform_check(cmd, optarg) ? EXIT_ENGINE
							    : (c->o.platform = optarg, 0);
		else if (cli_registry_opt(c, opt, optarg) != 0)
			r = EXIT_ENGINE;
	}
	return r;
}
