/* hull-oci state, list, ps, features, spec. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/oci-cli.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/path.h"
#include "common/strv.h"

int oci_cmd_state(struct oci_cli *cli, int argc, char **argv)
{
	cleanup_free char *json = NULL;
	struct hull_err err = { 0 };
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "state", .args = "CONTAINER_ID", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Print a container's state as JSON.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return 1;
	if (oci_cli_nargs("state", argc - 1, 1, 1))
		return 1;
	if (oci_runtime_state_json(&cli->ctx, argv[1], &json, &err) < 0)
		return oci_cli_fail(&err);
	printf("%s\n", json);
	return 0;
}

static int parse_format(int argc, char **argv, bool *json, bool *quiet)
{
	static const struct cli_option list_opts[] = {
		{ "format", required_argument, NULL, 'f', "FORMAT", "table (default) or json" },
		{ "quiet", no_argument, NULL, 'q', NULL, "print container ids only" },
		{ 0 },
	};
	static const struct cli_command list_cmd = {
		.name = "list", .args = "[OPTIONS]", .optstring = "+f:q", .opts = list_opts,
		.flags = CLI_LONG_ONLY, .summary = "List the containers.",
	};
	static const struct cli_command ps_cmd = {
		.name = "ps", .args = "[OPTIONS] CONTAINER_ID [PS_OPTIONS...]", .optstring = "+f:",
		.opts = list_opts, .flags = CLI_LONG_ONLY,
		.summary = "List a container's processes (through ps(1), with PS_OPTIONS).",
	};
	static const struct cli_option ps_opts[] = { list_opts[0], { 0 } };
	struct cli_command ps_def = ps_cmd;
	int c;

	ps_def.opts = ps_opts;
	while ((c = cli_getopt(argc, argv, quiet ? &list_cmd : &ps_def)) != -1) {
		if (c == 'q' && quiet) {
			*quiet = cli_opt_on;
		} else if (c == 'f' &&
			   (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0)) {
			*json = strcmp(optarg, "json") == 0;
		} else {
			if (c == 'f')
				log_error("%s: --format %s: expected table or json", argv[0], optarg);
			return 1;
		}
	}
	return 0;
}

int oci_cmd_list(struct oci_cli *cli, int argc, char **argv)
{
	cleanup_strv char **ids = NULL;
	struct hull_err err = { 0 };
	bool json = false, quiet = false;
	json_t *arr = json_array();

	if (parse_format(argc, argv, &json, &quiet) || oci_cli_nargs("list", argc - optind, 0, 0) ||
	    oci_runtime_list(&cli->ctx, &ids, &err) < 0) {
		json_decref(arr);
		return err.code ? oci_cli_fail(&err) : 1;
	}
	if (!json && !quiet)
		printf("%-20s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE",
		       "CREATED", "OWNER");
	for (size_t i = 0; ids[i]; i++) {
		cleanup_oci_state struct oci_state *st = NULL;

		if (oci_runtime_state(&cli->ctx, ids[i], &st, &err) < 0) {
			hull_err_clear(&err);
			continue;
		}
		if (quiet)
			printf("%s\n", st->id);
		else if (!json)
			printf("%-20s %-8d %-10s %-40s %-31s %s\n", st->id, st->pid,
			       oci_status_name(st->status), st->bundle, st->created, "root");
		else
			json_array_append_new(
				arr,
				json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:s,s:o,s:s}", "ociVersion",
					  st->oci_version, "id", st->id, "pid", st->pid, "status",
					  oci_status_name(st->status), "bundle", st->bundle,
					  "rootfs", st->rootfs, "created", st->created,
					  "annotations", json_loads(st->annotations_json, 0, NULL),
					  "owner", "root"));
	}
	if (json) {
		char *s = json_dumps(arr, 0);

		printf("%s\n", s ? s : "[]");
		free(s);
	}
	json_decref(arr);
	return 0;
}

/* ps in table form: run ps(1) and keep the header and the container's lines. */
static int ps_table(char **ps_args, const pid_t *pids, size_t n)
{
	cleanup_free char *out = NULL;
	char **argv = NULL;
	int pfd[2], status = 0, pid_col = -1;
	size_t len = 0, cap = 0;
	pid_t child;

	strv_push(&argv, "ps");
	for (size_t i = 0; ps_args[i]; i++)
		strv_push(&argv, ps_args[i]);
	if (!ps_args[0])
		strv_push(&argv, "-ef");
	if (pipe2(pfd, O_CLOEXEC) < 0 || (child = fork()) < 0) {
		strv_free(argv);
		log_error("ps: %s", strerror(errno));
		return 1;
	}
	if (child == 0) {
		(void)dup2(pfd[1], 1);
		execvp("ps", argv);
		_exit(127);
	}
	strv_free(argv);
	(void)close(pfd[1]);
	for (;;) {
		ssize_t r;

		if (len + 4096 > cap)
			out = xrealloc(out, cap = cap * 2 + 8192);
		r = read(pfd[0], out + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	out[len] = '\0';
	(void)close(pfd[0]);
	(void)waitpid(child, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("ps: ps(1) failed");
		return 1;
	}
	for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		cleanup_free char *copy = strdup(line);
		char *s2 = NULL, *tok;
		int col = 0;

		if (pid_col < 0) {
			for (tok = strtok_r(copy, " \t", &s2); tok;
			     tok = strtok_r(NULL, " \t", &s2), col++)
				if (strcmp(tok, "PID") == 0)
					pid_col = col;
			if (pid_col < 0) {
				log_error("ps: no PID column in the output of ps(1)");
				return 1;
			}
			printf("%s\n", line);
			continue;
		}
		for (tok = strtok_r(copy, " \t", &s2); tok && col < pid_col;
		     tok = strtok_r(NULL, " \t", &s2))
			col++;
		for (size_t i = 0; tok && i < n; i++)
			if (strtol(tok, NULL, 10) == pids[i]) {
				printf("%s\n", line);
				break;
			}
	}
	return 0;
}

int oci_cmd_ps(struct oci_cli *cli, int argc, char **argv)
{
	cleanup_free pid_t *pids = NULL;
	struct hull_err err = { 0 };
	bool json = false;
	size_t n = 0;

	if (parse_format(argc, argv, &json, NULL) || oci_cli_nargs("ps", argc - optind, 1, 1000))
		return 1;
	if (oci_runtime_pids(&cli->ctx, argv[optind], &pids, &n, &err) < 0)
		return oci_cli_fail(&err);
	if (!json)
		return ps_table(argv + optind + 1, pids, n);
	printf("[");
	for (size_t i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", pids[i]);
	printf("]\n");
	return 0;
}

int oci_cmd_features(struct oci_cli *cli, int argc, char **argv)
{
	cleanup_free char *s = NULL;
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "features", .args = "", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Print what this runtime supports, as JSON.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return 1;
	if (oci_cli_nargs("features", argc - 1, 0, 0))
		return 1;
	s = oci_features_json();
	printf("%s\n", s);
	return 0;
}

int oci_cmd_spec(struct oci_cli *cli, int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "bundle", required_argument, NULL, 'b', "DIR", "write config.json here (default .)" },
		{ "rootless", no_argument, NULL, 'R', NULL, "a spec for an unprivileged user" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "spec", .args = "[OPTIONS]", .optstring = "+b:", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Write a default config.json.",
	};
	cleanup_free char *doc = NULL, *path = NULL;
	const char *bundle = ".";
	bool rootless = false;
	int c, r;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c == 'b')
			bundle = optarg;
		else if (c == 'R')
			rootless = cli_opt_on;
		else
			return 1;
	}
	if (oci_cli_nargs("spec", argc - optind, 0, 0))
		return 1;
	path = path_join(bundle, "config.json");
	if (access(path, F_OK) == 0) {
		log_error("%s exists: remove it first", path);
		return 1;
	}
	doc = oci_default_spec(rootless);
	r = fd_write_file_atomic_at(AT_FDCWD, path, doc, strlen(doc), 0644);
	if (r < 0) {
		log_error("write %s: %s", path, strerror(-r));
		return 1;
	}
	return 0;
}
