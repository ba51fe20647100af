#pragma once
/*
 * The lifecycle flags of `hull create`/`run` (engine/lifecycle.h): --init, --stop-signal,
 * --stop-timeout, --label, --label-file, --restart. Their option rows and values live here
 * so that cmd-create.c only lists them and hands them over.
 */
#include "cli/opt.h"
#include "engine/run.h"

enum {
	CLI_LC_INIT = 600,
	CLI_LC_STOP_SIGNAL,
	CLI_LC_STOP_TIMEOUT,
	CLI_LC_LABEL,
	CLI_LC_LABEL_FILE,
	CLI_LC_RESTART,
	CLI_LC_LAST = CLI_LC_RESTART,
};

#define CLI_LIFECYCLE_OPTIONS                                                                \
	{ "init", no_argument, NULL, CLI_LC_INIT, NULL,                                      \
	  "run an init (catatonit) as PID 1 that forwards signals and reaps zombies" },        \
	{ "stop-signal", required_argument, NULL, CLI_LC_STOP_SIGNAL, "SIGNAL",               \
	  "the signal that stops the container (default: the image's, or TERM)" },           \
	{ "stop-timeout", required_argument, NULL, CLI_LC_STOP_TIMEOUT, "SECONDS",            \
	  "seconds `hull stop` waits before KILL (default 10, -1: forever)" },               \
	{ "label", required_argument, NULL, CLI_LC_LABEL, "KEY[=VALUE]",                     \
	  "set a label (over the image's of the same key)" },                                \
	{ "label-file", required_argument, NULL, CLI_LC_LABEL_FILE, "FILE",                   \
	  "read labels from FILE, one KEY[=VALUE] a line" },                                 \
	{ "restart", required_argument, NULL, CLI_LC_RESTART, "POLICY",                       \
	  "no, on-failure[:N], always or unless-stopped (carried out by the -d monitor)" }

/* One of the flags above (opt: CLI_LC_*) into o; 0, or the exit code after one line. */
int cli_lifecycle_opt(const char *cmd, int opt, const char *arg, struct run_opts *o);
/* The rules between them and the other flags, once all are parsed (--rm with --restart). */
int cli_lifecycle_check(const char *cmd, const struct run_opts *o);
