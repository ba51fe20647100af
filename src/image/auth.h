#pragma once
/*
 * Registry credentials in the containers auth file format (containers-auth.json(5), also
 * docker's ~/.docker/config.json):  {"auths": {"HOST[:PORT]": {"auth": base64("user:pass")}}}.
 * The caller (src/cli) picks the files: library code never reads the environment.
 */
#include <stdbool.h>

#include "common/error.h"

#define AUTH_FILE_MAX (1u << 20)

/*
 * Look registry ("host:port", or "docker.io") up in files, in order, the first match
 * winning; keys may also carry a scheme and a path ("https://index.docker.io/v1/").
 * ("https://index.docker.io/v1/").
 * is skipped; an unreadable or malformed one is -errno with err naming it.
 */
int auth_lookup(char *const *files, const char *registry, char **ret_user, char **ret_pass,
		struct hull_err *err);

/* Add or replace registry's entry in file (created 0600, its directory 0700; atomic). */
int auth_store(const char *file, const char *registry, const char *user, const char *pass,
	       struct hull_err *err);

/* Remove registry's entry; *ret_found tells whether there was one. */
int auth_remove(const char *file, const char *registry, bool *ret_found,
		struct hull_err *err);
