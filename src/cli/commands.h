#pragma once
/*
 * `hull` subcommands. Each cmd_<name>() gets argv starting at its own name (argv[0] is the
 * subcommand), prints its own errors and returns the process exit status (docker's codes:
 * 125 for an error of hull itself or of its flags).
 */
#include "cli/opt.h"
#include "common/error.h"

#define EXIT_ENGINE 125

struct image_store;
struct run_opts;

int cmd_img(int argc, char **argv);
int cmd_vm(int argc, char **argv);

/* images */
int cmd_images(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_rmi(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_system(int argc, char **argv);

/* containers */
int cmd_run(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_port(int argc, char **argv);
int cmd_network(int argc, char **argv);
int cmd_volume(int argc, char **argv);
/* rm -v (set by cli_force_targets) */
extern bool cli_rm_volumes;

/* Shared by the subcommands (hull.c). */
extern const char *cli_root; /* --root, or NULL */
/* Print "hull CMD: msg" to stderr and return EXIT_ENGINE. */
int cli_fail(const char *cmd, const struct hull_err *err);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open the image store (--root, $HULL_ROOT or the default); prints errors. */
int cli_store_open(const char *cmd, struct image_store **ret);
/* Append -e/--env-file entry kv to *env; a bare NAME takes our own value, as docker's, and is
 * dropped when we have none (library code never reads the environment). */
void cli_env_push(char ***env, const char *kv);
/*
 * docker's --env-file/--label-file: fn(line, opaque) for each line of path (at most 1 MiB of
 * text), leading blanks, blank lines and # comments skipped, CR/LF ends. A file that cannot
 * be read or holds a NUL byte is one line naming flag and path: EXIT_ENGINE, as is a
 * non-zero return of fn (which printed its own line).
 */
int cli_read_lines(const char *cmd, const char *flag, const char *path,
		   int (*fn)(const char *line, void *opaque), void *opaque);
/*
 * "[-f|--force] TARGET...", the arguments of rm and rmi: sets *ret_force and opens the store.
 * Returns 0 with optind at the first target, or EXIT_ENGINE after printing.
 */
int cli_force_targets(const char *cmd, const char *usage_line, int argc, char **argv,
		      bool *ret_force, struct image_store **ret_store);

/*
 * Parse `hull create`/`run` flags into o (cmd-create.c); strings point into argv or are
 * owned by o (free with cli_run_opts_free). Returns 0, or EXIT_ENGINE after printing.
 */
struct cli_pull; /* --pull, --platform and the registry flags (cli/registry-cli.h) */
int cli_run_opts_parse(const char *cmd, int argc, char **argv, struct run_opts *o,
		       struct cli_pull *pull);
void cli_run_opts_free(struct run_opts *o);
