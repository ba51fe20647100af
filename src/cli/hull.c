/* hull: the daemonless docker/podman-style front door. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "image/store.h"

struct hull_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct hull_cmd cmds[] = {
	{ .name = "run", .fn = cmd_run, .help = "run a command in a new container" },
	{ .name = "create", .fn = cmd_create, .help = "create a container" },
	{ .name = "start", .fn = cmd_start, .help = "start created or stopped containers" },
	{ .name = "ps", .fn = cmd_ps, .help = "list containers" },
	{ .name = "logs", .fn = cmd_logs, .help = "print a container's output" },
	{ .name = "stop", .fn = cmd_stop, .help = "stop containers (TERM, then KILL)" },
	{ .name = "kill", .fn = cmd_kill, .help = "send a signal to containers" },
	{ .name = "rm", .fn = cmd_rm, .help = "remove containers" },
	{ .name = "inspect", .fn = cmd_inspect, .help = "show containers or images as JSON" },
	{ .name = "top", .fn = cmd_top, .help = "list a container's processes" },
	{ .name = "stats", .fn = cmd_stats, .help = "show containers' resource usage" },
	{ .name = "exec", .fn = cmd_exec, .help = "run a command in a running container" },
	{ .name = "export", .fn = cmd_export, .help = "write a container's file system as a tar" },
	{ .name = "images", .fn = cmd_images, .help = "list images" },
	{ .name = "load", .fn = cmd_load, .help = "load images from a docker- or oci-archive" },
	{ .name = "import", .fn = cmd_import, .help = "make an image from a root file system tar" },
	{ .name = "pull", .fn = cmd_pull, .help = "copy an image from oci:, oci-archive: or "
						   "docker-archive:" },
	{ .name = "save", .fn = cmd_save, .help = "write images to an archive" },
	{ .name = "rmi", .fn = cmd_rmi, .help = "remove images" },
	{ .name = "tag", .fn = cmd_tag, .help = "give an image another name" },
	{ .name = "system", .fn = cmd_system, .help = "system prune: remove unused data" },
	{ .name = "img", .fn = cmd_img, .help = "create, inspect, check and convert disk images" },
	{ .name = "vm", .fn = cmd_vm, .help = "run a virtual machine on hull's own VMM" },
};

const char *cli_root;

int cli_fail(const char *cmd, const struct hull_err *err)
{
	fprintf(stderr, "hull %s: %s\n", cmd, err->msg[0] ? err->msg : "failed");
	return EXIT_ENGINE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hull %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return EXIT_ENGINE;
}

int cli_store_open(const char *cmd, struct image_store **ret)
{
	struct hull_err err = { 0 };

	if (image_store_open(cli_root, ret, &err) < 0)
		return cli_fail(cmd, &err);
	return 0;
}

int cli_force_targets(const char *cmd, const char *usage_line, int argc, char **argv,
		      bool *ret_force, struct image_store **ret_store)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	int c;

	*ret_force = false;
	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		if (c != 'f')
			return EXIT_ENGINE;
		*ret_force = true;
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "%s", usage_line);
	return cli_store_open(cmd, ret_store) != 0 ? EXIT_ENGINE : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: hull [--root DIR] [--version] COMMAND [ARGS...]\n\n"
		   "The image store is at --root, else $HULL_ROOT, else %s.\n\nCommands:\n",
		IMAGE_STORE_DEFAULT_ROOT);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (cmds[i].help)
			fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--version") == 0) {
			printf("hull version %s\n", HULL_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
			cli_root = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--root=", 7) == 0) {
			cli_root = argv[i] + 7;
			i++;
		} else {
			fprintf(stderr, "hull: unknown option '%s' (see 'hull --help')\n", argv[i]);
			return EXIT_ENGINE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_ENGINE;
	}
	if (strcmp(argv[i], "version") == 0) {
		printf("hull version %s\n", HULL_VERSION);
		return 0;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++)
		if (strcmp(argv[i], cmds[c].name) == 0)
			return cmds[c].fn(argc - i, argv + i);
	fprintf(stderr, "hull: unknown command '%s' (see 'hull --help')\n", argv[i]);
	return EXIT_ENGINE;
}
