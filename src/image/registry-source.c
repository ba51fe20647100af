/* The registry as an image source (source.h): transport "docker", and the default. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "image/reference.h"
#include "image/source.h"

/* "//host/repo:tag" (docker://) or a bare reference: checked now, so that a bad one fails
 * before anything else is done. */
static int docker_parse(const char *rest, struct image_source *src, struct hull_err *err)
{
	struct image_reference ref = { 0 };
	int r;

	if (strncmp(rest, "//", 2) == 0)
		rest += 2;
	r = reference_parse(rest, &ref, err);
	reference_clear(&ref);
	if (r < 0)
		return r;
	src->path = xstrdup(rest);
	return 0;
}

/* Nothing to open: the session is the pull's (its credentials depend on the options). */
static int docker_open(struct image_store *s, struct image_source *src, struct hull_err *err)
{
	return 0;
}

static int docker_pull(struct image_store *s, struct image_source *src,
		       const struct image_source_opts *o, char ***ret_names,
		       struct hull_err *err)
{
	static const struct registry_opts defaults = { .tls_verify = true };
	char *name = NULL;
	int r = registry_pull(s, src->path, o->registry ? o->registry : &defaults, o->progress,
			      &name, err);

	if (r == 0)
		strv_push(ret_names, name);
	free(name);
	return r;
}

const struct image_source_ops image_source_docker = {
	.transport = "docker",
	.parse = docker_parse,
	.open = docker_open,
	.pull = docker_pull,
};
