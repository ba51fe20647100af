#pragma once
/*
 * The option parser of every hull command line (hull, hull img, hull vm, hull-vmm, hull-oci).
 *
 * getopt_long with three changes: a long option must be spelled in full (getopt's prefix
 * matching made `--pid host` set --pids-limit; docker rejects what it does not know), a
 * boolean long option also takes docker's `--flag=true|false|1|0`, and `--help` (and `-h`
 * where the command gives -h no other meaning) prints the usage, generated from the option
 * table, to stdout and exits 0. The calling convention is getopt_long's: a loop over
 * cli_getopt() with optarg/optind; errors are printed here ("hull run: unknown flag:
 * --pid") and the loop sees '?', upon which the caller returns its usage exit code.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

struct cli_option {
	const char *name; /* long name, without dashes; NULL for a short-only option */
	int has_arg;      /* no_argument (a boolean) or required_argument */
	int *flag;        /* unused, NULL: the rows read like struct option's */
	int val;          /* returned; a character in optstring is also the short option */
	const char *arg;  /* the argument's name in the usage ("NAME"); NULL: "VALUE" */
	const char *help; /* one line for the usage */
};

/* cli_command.flags */
enum {
	CLI_LONG_ONLY = 1 << 0, /* runc's "-root" as well as "--root" (hull-oci) */
};

struct cli_command {
	const char *name;      /* after the program: "run", "img create"; "" for the program */
	const char *args;      /* the synopsis after the name: "[OPTIONS] IMAGE [COMMAND]" */
	const char *summary;   /* one line */
	const char *optstring; /* getopt's: the short options, '+' to stop at an operand */
	const struct cli_option *opts; /* ends with { 0 } */
	unsigned flags;
	void (*more)(FILE *f); /* optional text after the options (subcommands, exit codes) */
};

/* "hull", "hull-oci", "hull-vmm": the first word of usages and messages (set by main). */
extern const char *cli_prog;
/* After a boolean option: false when it was given as --flag=false or --flag=0. */
extern bool cli_opt_on;
/* The long option cli_getopt returned last, or NULL when it was a short one. */
extern const struct cli_option *cli_opt_long;

/*
 * Next option of argv, as getopt_long(argc, argv, cmd->optstring, cmd->opts, NULL).
 * Returns the option's val (cli_opt_on holds a boolean's value), -1 at the end, or '?'
 * after printing one line naming the bad flag to stderr. Exits 0 after --help.
 */
int cli_getopt(int argc, char **argv, const struct cli_command *cmd);
/* The usage of cmd, as --help prints it. */
void cli_usage(FILE *f, const struct cli_command *cmd);
/* Print "PROG NAME: msg" to stderr. */
void cli_opt_error(const struct cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
