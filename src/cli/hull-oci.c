/*
 * hull-oci: a runc-compatible OCI runtime. The command line mirrors runc's (podman and
 * containerd call it exactly like runc): global options, then a command and its options.
 * Flags take one or two dashes and "--flag value" or "--flag=value", as runc's do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/oci-cli.h"
#include "common/error.h"
#include "common/log.h"

static const struct {
	const char *name;
	int (*fn)(struct oci_cli *cli, int argc, char **argv);
} commands[] = {
	{ "create", oci_cmd_create }, { "run", oci_cmd_run },
	{ "start", oci_cmd_start },   { "state", oci_cmd_state },
	{ "kill", oci_cmd_kill },     { "delete", oci_cmd_delete },
	{ "list", oci_cmd_list },     { "ps", oci_cmd_ps },
	{ "features", oci_cmd_features }, { "spec", oci_cmd_spec },
	{ "exec", oci_cmd_exec },     { "update", oci_cmd_update },
	{ "pause", oci_cmd_pause },   { "resume", oci_cmd_resume },
	{ "events", oci_cmd_events },
};

/* runc commands that later issues add. */
static const char *const later[] = { "checkpoint", "restore" };

static const char *const summaries[][2] = {
	{ "create", "create a container from a bundle (start runs its process)" },
	{ "run", "create and start a container, and wait for it" },
	{ "start", "run the user process of a created container" },
	{ "state", "print a container's state as JSON" },
	{ "kill", "send a signal to a container's init (or all its processes)" },
	{ "delete", "delete a stopped container (any container with --force)" },
	{ "list", "list the containers" },
	{ "ps", "list a container's processes" },
	{ "exec", "run a process in a running container" },
	{ "update", "change a container's cgroup limits" },
	{ "pause", "freeze a container's processes" },
	{ "resume", "thaw a paused container" },
	{ "events", "print a container's statistics and events as JSON" },
	{ "features", "print what this runtime supports, as JSON" },
	{ "spec", "write a default config.json" },
};

static void commands_list(FILE *f)
{
	fprintf(f, "Commands:\n");
	for (size_t i = 0; i < sizeof(summaries) / sizeof(summaries[0]); i++)
		fprintf(f, "  %-10s %s\n", summaries[i][0], summaries[i][1]);
	fprintf(f, "\nFlags take one dash or two, and \"--flag value\" or \"--flag=value\", as "
		   "runc's.\nRun 'hull-oci COMMAND --help' for a command's options.\n");
}

static const struct cli_option global_opts[] = {
	{ "root", required_argument, NULL, 'r', "DIR", "where container states are kept" },
	{ "log", required_argument, NULL, 'l', "FILE", "write errors and debug messages here" },
	{ "log-format", required_argument, NULL, 'f', "FORMAT", "text (default) or json" },
	{ "debug", no_argument, NULL, 'd', NULL, "log debug messages" },
	{ "systemd-cgroup", no_argument, NULL, 's', NULL,
	  "cgroupsPath is slice:prefix:name (systemd's cgroup driver)" },
	{ "rootless", required_argument, NULL, 'R', "true|false|auto", "accepted, ignored" },
	{ "criu", required_argument, NULL, 'C', "PATH", "accepted, ignored" },
	{ "version", no_argument, NULL, 'v', NULL, "print the version and exit" },
	{ 0 },
};
static const struct cli_command global_cmd = {
	.name = "", .args = "[GLOBAL OPTIONS] COMMAND [OPTIONS] [ARG...]", .optstring = "+v",
	.opts = global_opts, .flags = CLI_LONG_ONLY, .more = commands_list,
	.summary = "An OCI runtime with runc's command line.",
};

static void version(void)
{
	printf("hull-oci version %s\nspec: 1.1.0\n", HULL_VERSION);
}

int main(int argc, char **argv)
{
	struct oci_cli cli = { .ctx = { .root = OCI_RUNTIME_DEFAULT_ROOT }, .prog = "hull-oci" };
	const char *log_path = NULL;
	enum log_format fmt = LOG_FORMAT_TEXT;
	int c;

	cli_prog = "hull-oci";
	while ((c = cli_getopt(argc, argv, &global_cmd)) != -1) {
		switch (c) {
		case 'r':
			cli.ctx.root = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0) {
				fmt = LOG_FORMAT_JSON;
			} else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr, "hull-oci: --log-format: unknown format \"%s\"\n",
					optarg);
				return 1;
			}
			break;
		case 'd':
			if (cli_opt_on)
				log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 's':
			cli.ctx.systemd_cgroup = cli_opt_on;
			break;
		case 'R':
		case 'C':
			break;
		case 'v':
			version();
			return 0;
		default:
			return 1;
		}
	}
	if (log_path || fmt != LOG_FORMAT_TEXT) {
		int r = log_open(log_path, fmt);

		if (r < 0) {
			fprintf(stderr, "hull-oci: --log %s: %s\n", log_path, strerror(-r));
			return 1;
		}
	}
	if (optind >= argc) {
		cli_usage(stderr, &global_cmd);
		return 1;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int argc2 = argc - optind;

			optind = 0; /* re-initialise getopt for the command's own options */
			return commands[i].fn(&cli, argc2, argv + (argc - argc2));
		}
	}
	if (strcmp(argv[optind], "version") == 0) {
		version();
		return 0;
	}
	if (strcmp(argv[optind], "help") == 0) {
		/* runc help COMMAND: the command's --help */
		for (size_t i = 0; optind + 1 < argc && i < sizeof(commands) / sizeof(commands[0]);
		     i++) {
			if (strcmp(argv[optind + 1], commands[i].name) == 0) {
				char *args[] = { argv[optind + 1], (char *)"--help", NULL };

				optind = 0;
				return commands[i].fn(&cli, 2, args);
			}
		}
		cli_usage(stdout, &global_cmd);
		return 0;
	}
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		if (strcmp(argv[optind], later[i]) == 0) {
			log_error("\"%s\" is not implemented yet", argv[optind]);
			return 1;
		}
	}
	log_error("unknown command \"%s\"", argv[optind]);
	return 1;
}
