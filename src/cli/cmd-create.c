/* hull create [flags] IMAGE [CMD...] (the flags of `hull run`) */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/fd.h"
#include "common/strv.h"
#include "engine/human.h"
#include "engine/run.h"

enum {
	OPT_RM = 256,
	OPT_NAME,
	OPT_ENV_FILE,
	OPT_ENTRYPOINT,
	OPT_CPUS,
	OPT_PIDS,
	OPT_READ_ONLY,
	OPT_CAP_ADD,
	OPT_CAP_DROP,
	OPT_PRIVILEGED,
	OPT_NETWORK,
	OPT_ROOTFS_COPY,
};

static int env_file(const char *cmd, const char *path, struct run_opts *o)
{
	cleanup_free char *buf = NULL;
	char *save = NULL;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);

	if (r < 0)
		return cli_usage_error(cmd, "--env-file %s: %s", path, strerror(-r));
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		strv_push(&o->env, line);
	}
	return 0;
}

int cli_run_opts_parse(const char *cmd, int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "rm", no_argument, NULL, OPT_RM },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "env", required_argument, NULL, 'e' },
		{ "env-file", required_argument, NULL, OPT_ENV_FILE },
		{ "volume", required_argument, NULL, 'v' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
		{ "hostname", required_argument, NULL, 'h' },
		{ "memory", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "pids-limit", required_argument, NULL, OPT_PIDS },
		{ "read-only", no_argument, NULL, OPT_READ_ONLY },
		{ "cap-add", required_argument, NULL, OPT_CAP_ADD },
		{ "cap-drop", required_argument, NULL, OPT_CAP_DROP },
		{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "net", required_argument, NULL, OPT_NETWORK },
		{ "rootfs-copy", no_argument, NULL, OPT_ROOTFS_COPY },
		{ 0 },
	};
	char *end = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+ditre:v:w:u:h:m:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o->detach = true; break;
		case 'i': o->interactive = true; break;
		case 't': o->tty = true; break;
		case OPT_RM: o->rm = true; break;
		case OPT_NAME: o->name = optarg; break;
		case 'e': strv_push(&o->env, optarg); break;
		case OPT_ENV_FILE:
			if (env_file(cmd, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case 'v': strv_push(&o->volumes, optarg); break;
		case 'w': o->workdir = optarg; break;
		case 'u': o->user = optarg; break;
		case OPT_ENTRYPOINT: o->entrypoint = optarg; break;
		case 'h': o->hostname = optarg; break;
		case 'm':
			o->memory = human_parse_bytes(optarg);
			if (o->memory <= 0)
				return cli_usage_error(cmd, "-m %s: invalid size", optarg);
			break;
		case OPT_CPUS:
			o->cpus = strtod(optarg, &end);
			if (end == optarg || *end || !(o->cpus > 0 && o->cpus <= 4096))
				return cli_usage_error(cmd, "--cpus %s: invalid number", optarg);
			break;
		case OPT_PIDS:
			o->pids_limit = strtoll(optarg, &end, 10);
			if (end == optarg || *end || (o->pids_limit <= 0 && o->pids_limit != -1))
				return cli_usage_error(cmd, "--pids-limit %s: invalid number", optarg);
			if (o->pids_limit < 0)
				o->pids_limit = 0;
			break;
		case OPT_READ_ONLY: o->read_only = true; break;
		case OPT_CAP_ADD: strv_push(&o->cap_add, optarg); break;
		case OPT_CAP_DROP: strv_push(&o->cap_drop, optarg); break;
		case OPT_PRIVILEGED: o->privileged = true; break;
		case OPT_NETWORK: o->network = optarg; break;
		case OPT_ROOTFS_COPY: o->force_copy = true; break;
		case ':':
			return cli_usage_error(cmd, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "usage: hull %s [OPTIONS] IMAGE [COMMAND [ARG...]]",
				       cmd);
	if (o->network && strcmp(o->network, "none") != 0 && strcmp(o->network, "host") != 0)
		return cli_usage_error(cmd, "--network %s: only 'none' and 'host' are supported",
				       o->network);
	o->image = argv[optind];
	if (optind + 1 < argc)
		o->cmd = strv_dup(argv + optind + 1);
	return 0;
}

void cli_run_opts_free(struct run_opts *o)
{
	strv_free(o->env);
	strv_free(o->volumes);
	strv_free(o->cap_add);
	strv_free(o->cap_drop);
	strv_free(o->cmd);
	memset(o, 0, sizeof(*o));
}

int cmd_create(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	struct run_opts o;
	struct hull_err err = { 0 };
	int code = 0;

	if (cli_run_opts_parse("create", argc, argv, &o) != 0) {
		cli_run_opts_free(&o);
		return EXIT_ENGINE;
	}
	if (cli_store_open("create", &s) != 0) {
		cli_run_opts_free(&o);
		return EXIT_ENGINE;
	}
	if (engine_create(s, &o, &c, &code, &err) < 0) {
		cli_run_opts_free(&o);
		(void)cli_fail("create", &err);
		return code ? code : EXIT_ENGINE;
	}
	cli_run_opts_free(&o);
	printf("%s\n", c->id);
	return 0;
}
