#pragma once
/*
 * registries.conf (containers-registries.conf(5), version 2), the subset hull reads
 * (docs/registry.md): unqualified-search-registries, and [[registry]] tables with prefix,
 * location, insecure, blocked and [[registry.mirror]] location/insecure. Other keys and tables
 * ([aliases], short-name-mode, the version 1 [registries.*] tables) are skipped.
 */
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define REGCONF_FILE_MAX (1u << 20)
#define REGCONF_ENTRIES_MAX 1024 /* registries, mirrors of one, search entries */

struct regconf_mirror {
	char *location;
	bool insecure;
};

struct regconf_registry {
	char *prefix;   /* "host[:port][/path]" or "*.domain" */
	char *location; /* where prefix's repositories are (NULL: prefix itself) */
	bool insecure, blocked;
	struct regconf_mirror *mirrors;
	size_t n_mirrors;
};

struct regconf {
	char **search; /* unqualified-search-registries; NULL when the files do not set it */
	struct regconf_registry *regs;
	size_t n_regs;
};

/*
 * Read path, then path.d/ *.conf in name order (as containers/image: a later [[registry]]
 * with the same prefix replaces an earlier one, a later search list the earlier one). A file
 * that does not exist is empty. -errno with err naming the file and line on a bad one.
 */
int regconf_load(const char *path, struct regconf *ret, struct hull_err *err);
void regconf_free(struct regconf *c);

/* The [[registry]] whose prefix matches repo ("domain/path") longest, or NULL. */
const struct regconf_registry *regconf_find(const struct regconf *c, const char *repo);
/* repo moved from reg's prefix to location (heap; repo itself for a wildcard prefix). */
char *regconf_rewrite(const struct regconf_registry *reg, const char *location,
		      const char *repo);
