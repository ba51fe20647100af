/* hull: the daemonless docker/podman-style front door. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/cleanup.h"

struct hull_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct hull_cmd cmds[] = {
	{ .name = "img", .fn = cmd_img, .help = "create, inspect, check and convert disk images" },
	{ .name = "vm", .fn = cmd_vm, .help = "run a virtual machine on hull's own VMM" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: hull [--version] COMMAND [ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 125;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("hull version %s\n", HULL_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "hull: unknown command '%s' (see 'hull --help')\n", argv[1]);
	return 125;
}
