/*
 * hull-oci: a runc-compatible OCI runtime. The command line mirrors runc's (podman and
 * containerd call it exactly like runc): global options, then a command and its options.
 * Flags take one or two dashes and "--flag value" or "--flag=value", as runc's do.
 */
#include <getopt.h>
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

static void usage(FILE *f)
{
	fprintf(f, "usage: hull-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]\n"
		   "                [--systemd-cgroup] COMMAND [OPTIONS] [ARGS]\n"
		   "commands: create run start state kill delete list ps exec update pause resume\n"
		   "          events features spec\n"
		   "          --version\n");
}

static void version(void)
{
	printf("hull-oci version %s\nspec: 1.1.0\n", HULL_VERSION);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "systemd-cgroup", no_argument, NULL, 's' },
		{ "rootless", required_argument, NULL, 'R' },
		{ "criu", required_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct oci_cli cli = { .ctx = { .root = OCI_RUNTIME_DEFAULT_ROOT }, .prog = "hull-oci" };
	const char *log_path = NULL;
	enum log_format fmt = LOG_FORMAT_TEXT;
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+vh", opts, NULL)) != -1) {
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
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 's':
			cli.ctx.systemd_cgroup = true;
			break;
		case 'R':
		case 'C':
			break;
		case 'v':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "hull-oci: unknown global option %s\n", argv[optind - 1]);
			usage(stderr);
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
		usage(stderr);
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
		usage(stdout);
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
