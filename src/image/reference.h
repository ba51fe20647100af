#pragma once
/*
 * Image references as docker and podman parse them (the distribution project's grammar,
 * docs/registry.md):
 *
 *   reference := name [":" tag] ["@" digest]
 *   name      := [domain "/"] path        domain := host [":" port]
 *
 * Normalisation (docker's ParseNormalizedNamed): a first component without '.' or ':' that
 * is not "localhost" is part of the path, on docker.io; a one-component path on docker.io
 * gets "library/"; "index.docker.io" is docker.io; no tag and no digest means ":latest".
 */
#include <stdbool.h>

#include "common/error.h"

#define REFERENCE_NAME_MAX 255 /* the grammar's bound on domain/path */
#define REFERENCE_TAG_MAX 128
#define REFERENCE_DOCKER_DOMAIN "docker.io"

struct image_reference {
	char *domain; /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char *path;   /* "library/busybox" */
	char *tag;    /* "latest"; NULL when only a digest was given */
	char *digest; /* "sha256:<hex>", or NULL */
};

/*
 * Parse and normalise s. -EINVAL with err naming s and what is wrong ("invalid reference
 * format: repository name must be lowercase"), as docker words it.
 */
int reference_parse(const char *s, struct image_reference *ret, struct hull_err *err);
void reference_clear(struct image_reference *r);
/* Does s name no domain ("busybox", "user/app:1"): docker.io's, or registries.conf's
 * unqualified-search-registries' (docs/registry.md)? */
bool reference_is_short(const char *s);

/* "domain/path" (heap). */
char *reference_repo(const struct image_reference *r);
/* "domain/path:tag" for the store's index, or NULL for a digest-only reference (heap). */
char *reference_name(const struct image_reference *r);
/* The full form "domain/path[:tag][@digest]" (heap). */
char *reference_string(const struct image_reference *r);
/* What to ask the registry for: the digest when given, else the tag. */
const char *reference_object(const struct image_reference *r);
