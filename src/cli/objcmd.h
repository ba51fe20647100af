#pragma once
/*
 * What `hull network` and `hull volume` share: the dispatch of their subcommands (with
 * `help [COMMAND]`), and the name-list subcommands' steps: flags, operand count, the store,
 * the locks; inspect (a JSON array) and rm (one line per name removed).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/opt.h"
#include "common/error.h"

struct image_store;

struct objcmd_sub {
	const char *name;
	int (*fn)(int argc, char **argv);
};

/* `hull KIND help [COMMAND]` or `hull KIND COMMAND ...`: the exit status of the subcommand,
 * or EXIT_ENGINE after printing usage (usage: the one-line list of commands). */
int objcmd_dispatch(const struct cli_command *def, const char *usage,
		    const struct objcmd_sub *subs, size_t n, int argc, char **argv);

/* A lock of the store, as ctr_names_lock: a descriptor to close, or -errno with err. */
typedef int (*objcmd_lock_fn)(struct image_store *s, struct hull_err *err);
#define OBJCMD_LOCKS_MAX 2

struct objcmd {
	struct image_store *s;
	int locks[OBJCMD_LOCKS_MAX];
	bool flag[128]; /* flag['q']: the no-argument flags of def->optstring given */
};

/*
 * Parse def's flags (options without an argument, each sets o->flag[letter]), check that
 * there are at least min operands (else usage is the error) and, with max 0, none; open the
 * store and take locks (NULL-terminated, in order). 0 with optind at the first operand, or
 * EXIT_ENGINE after printing; objcmd_end in both cases.
 */
int objcmd_begin(const struct cli_command *def, const char *usage, int argc, char **argv,
		 int min, int max, const objcmd_lock_fn *locks, struct objcmd *o);
void objcmd_end(struct objcmd *o);

/* `KIND inspect NAME...`: one(name) for each, printed as one JSON array; errors per name. */
typedef int (*objcmd_inspect_fn)(struct image_store *s, const char *name, json_t **ret,
				 struct hull_err *err);
int objcmd_inspect(const struct cli_command *def, const char *usage,
		   const objcmd_lock_fn *locks, objcmd_inspect_fn one, int argc, char **argv);

/* `KIND rm [-f] NAME...`: rm_one(name) for each, its name printed when done; with -f (when
 * def has it) a missing one (-ENOENT) is skipped quietly. */
typedef int (*objcmd_remove_fn)(struct image_store *s, const char *name,
				struct hull_err *err);
int objcmd_rm(const struct cli_command *def, const char *usage, const objcmd_lock_fn *locks,
	      objcmd_remove_fn rm_one, int argc, char **argv);
