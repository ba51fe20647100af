#pragma once
/* hull-oci's subcommands (runc's command line); one function per command. */
#include "cli/opt.h"
#include "oci/runtime.h"

struct oci_cli {
	struct oci_runtime_ctx ctx;
	const char *prog;
};

/* Each returns the process exit code; errors are logged (log_error) before returning 1. */
int oci_cmd_create(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_run(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_start(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_state(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_kill(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_delete(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_list(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_ps(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_features(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_spec(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_exec(struct oci_cli *cli, int argc, char **argv);   /* oci-cmd-exec.c */
int oci_cmd_update(struct oci_cli *cli, int argc, char **argv); /* oci-cmd-cgroup.c */
int oci_cmd_pause(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_resume(struct oci_cli *cli, int argc, char **argv);
int oci_cmd_events(struct oci_cli *cli, int argc, char **argv);

/* Log err (or "msg") as an error and return 1. */
int oci_cli_fail(const struct hull_err *err);
/* Check the positional argument count: "<cmd>" requires exactly N argument(s). */
int oci_cli_nargs(const char *cmd, int have, int min, int max);
/* "KILL", "SIGKILL", "kill", "9" -> 9; -1 if unknown. */
