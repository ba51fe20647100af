/* hull: the daemonless docker/podman-style front door. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opt.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"
#include "engine/vm-proc.h"
#include "engine/vm-warm.h"
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
	{ .name = "port", .fn = cmd_port, .help = "list a container's published ports" },
	{ .name = "network", .fn = cmd_network, .help = "manage networks" },
	{ .name = "volume", .fn = cmd_volume, .help = "manage volumes" },
	{ .name = "export", .fn = cmd_export, .help = "write a container's file system as a tar" },
	{ .name = "images", .fn = cmd_images, .help = "list images" },
	{ .name = "load", .fn = cmd_load, .help = "load images from a docker- or oci-archive" },
	{ .name = "import", .fn = cmd_import, .help = "make an image from a root file system tar" },
	{ .name = "pull", .fn = cmd_pull, .help = "copy an image from a registry or an archive" },
	{ .name = "push", .fn = cmd_push, .help = "copy an image to a registry" },
	{ .name = "login", .fn = cmd_login, .help = "store credentials for a registry" },
	{ .name = "logout", .fn = cmd_logout, .help = "remove credentials for a registry" },
	{ .name = "save", .fn = cmd_save, .help = "write images to an archive" },
	{ .name = "rmi", .fn = cmd_rmi, .help = "remove images" },
	{ .name = "tag", .fn = cmd_tag, .help = "give an image another name" },
	{ .name = "system", .fn = cmd_system, .help = "system prune: remove unused data" },
	{ .name = "img", .fn = cmd_img, .help = "create, inspect, check and convert disk images" },
	{ .name = "vm", .fn = cmd_vm, .help = "run a virtual machine on hull's own VMM" },
	{ .name = "bench", .fn = cmd_bench,
	  .help = "compare an image run as a container and as a microVM" },
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
	/* secure_getenv: a set-uid hull must not take its store from the caller's environment */
	const char *root = cli_root ? cli_root : secure_getenv("HULL_ROOT");

	if (image_store_open(root, ret, &err) < 0)
		return cli_fail(cmd, &err);
	return 0;
}

int cli_read_lines(const char *cmd, const char *flag, const char *path,
		   int (*fn)(const char *line, void *opaque), void *opaque)
{
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);

	if (r < 0)
		return cli_usage_error(cmd, "%s %s: %s", flag, path, strerror(-r));
	if (memchr(buf, '\0', len))
		return cli_usage_error(cmd, "%s %s: not a text file", flag, path);
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (fn(line, opaque) != 0)
			return EXIT_ENGINE;
	}
	return 0;
}

void cli_env_push(char ***env, const char *kv)
{
	const char *v;

	/* NAME=VALUE and the malformed "=x" or "" go on as given (the engine refuses the latter) */
	if (!*kv || *kv == '=' || strchr(kv, '=')) {
		strv_push(env, kv);
	} else if ((v = secure_getenv(kv))) {
		cleanup_free char *pair = xasprintf("%s=%s", kv, v);

		strv_push(env, pair);
	}
}

static const struct cli_option force_opts[] = {
	{ "force", no_argument, NULL, 'f', NULL, "remove even what is in use or running" },
	{ 0 },
};
static const struct cli_option rm_opts[] = {
	{ "force", no_argument, NULL, 'f', NULL, "remove even what is in use or running" },
	{ "volumes", no_argument, NULL, 'v', NULL, "remove its anonymous volumes too" },
	{ 0 },
};
bool cli_rm_volumes;
static const struct cli_command rm_cmd = {
	.name = "rm", .args = "[OPTIONS] CONTAINER...", .optstring = "+fv", .opts = rm_opts,
	.summary = "Remove containers (running ones only with -f, which kills them first).",
};
static const struct cli_command rmi_cmd = {
	.name = "rmi", .args = "[OPTIONS] IMAGE...", .optstring = "+f", .opts = force_opts,
	.summary = "Remove images: a name loses its tag, an id removes the image.",
};

int cli_force_targets(const char *cmd, const char *usage_line, int argc, char **argv,
		      bool *ret_force, struct image_store **ret_store)
{
	const struct cli_command *def = strcmp(cmd, "rm") == 0 ? &rm_cmd : &rmi_cmd;
	int c;

	*ret_force = false;
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		if (c == 'v') {
			cli_rm_volumes = cli_opt_on;
			continue;
		}
		if (c != 'f')
			return EXIT_ENGINE;
		*ret_force = cli_opt_on;
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "%s", usage_line);
	return cli_store_open(cmd, ret_store) != 0 ? EXIT_ENGINE : 0;
}

static void commands_list(FILE *f)
{
	fprintf(f, "The image store is at --root, else $HULL_ROOT, else %s.\n\nCommands:\n",
		IMAGE_STORE_DEFAULT_ROOT);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "  %-10s %s\n  %-10s %s\n\nRun 'hull COMMAND --help' (or 'hull help COMMAND') "
		   "for a command's options.\n",
		"help", "show the usage of a command", "version", "show the version");
}

static const struct cli_option global_opts[] = {
	{ "root", required_argument, NULL, 'r', "DIR", "the image and container store" },
	{ "version", no_argument, NULL, 'v', NULL, "print the version and exit" },
	{ 0 },
};
static const struct cli_command hull_cmd = {
	.name = "", .args = "[OPTIONS] COMMAND [ARG...]", .optstring = "+v",
	.opts = global_opts, .more = commands_list,
	.summary = "A daemonless container engine with docker's command line.",
};

static const struct hull_cmd *find_cmd(const char *name)
{
	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++)
		if (strcmp(name, cmds[c].name) == 0)
			return &cmds[c];
	return NULL;
}

/* hull help [COMMAND [SUBCOMMAND]]: the command's own --help */
static int help_cmd(int argc, char **argv)
{
	const struct hull_cmd *cmd;
	char *args[4];
	int n = 0;

	if (argc < 2) {
		cli_usage(stdout, &hull_cmd);
		return 0;
	}
	cmd = find_cmd(argv[1]);
	if (!cmd || argc > 3)
		return cli_usage_error("help", "unknown command '%s' (see 'hull --help')",
				       argv[argc > 3 ? 3 : 1]);
	args[n++] = argv[1];
	if (argc == 3)
		args[n++] = argv[2];
	args[n++] = (char *)"--help";
	args[n] = NULL;
	optind = 0;
	return cmd->fn(n, args);
}

/* The environment's knobs for the engine's VM backend (docs/engine.md "`hull run --vm`"):
 * HULL_VM_COLD=1 boots cold, no warm snapshot used or built ("Fast start"; bench compare's
 * cold column); HULL_VM_AGENT_TIMEOUT=SECONDS waits that long for the guest's agent (90 s). */
static int env_knobs(void)
{
	const char *cold = getenv("HULL_VM_COLD");
	const char *t = getenv("HULL_VM_AGENT_TIMEOUT");
	char *end = NULL;
	long v = t ? strtol(t, &end, 10) : 0;

	vm_warm_set_cold(cold && *cold && strcmp(cold, "0") != 0);
	if (t && (end == t || *end || v < 1 || v > 86400)) {
		fprintf(stderr, "hull: HULL_VM_AGENT_TIMEOUT=%s: not a number of seconds (1 to "
			"86400)\n", t);
		return -EINVAL;
	}
	vm_agent_wait_set((int)v);
	return 0;
}

int main(int argc, char **argv)
{
	const struct hull_cmd *cmd;
	int c, i;

	cli_prog = "hull";
	if (env_knobs() < 0)
		return EXIT_ENGINE;
	while ((c = cli_getopt(argc, argv, &hull_cmd)) != -1) {
		switch (c) {
		case 'r':
			cli_root = optarg;
			break;
		case 'v':
			printf("hull version %s\n", HULL_VERSION);
			return 0;
		default:
			return EXIT_ENGINE;
		}
	}
	if (optind >= argc) {
		cli_usage(stderr, &hull_cmd);
		return EXIT_ENGINE;
	}
	i = optind;
	optind = 0; /* the command parses its own options from its argv[1] */
	if (strcmp(argv[i], "version") == 0) {
		printf("hull version %s\n", HULL_VERSION);
		return 0;
	}
	if (strcmp(argv[i], "help") == 0)
		return help_cmd(argc - i, argv + i);
	cmd = find_cmd(argv[i]);
	if (cmd)
		return cmd->fn(argc - i, argv + i);
	fprintf(stderr, "hull: unknown command '%s' (see 'hull --help')\n", argv[i]);
	return EXIT_ENGINE;
}
