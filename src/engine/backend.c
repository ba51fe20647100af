#include "engine/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* Every backend this hull has; a container's record names one. */
static const struct engine_backend_ops *const backends[] = {
	&engine_backend_oci,
	&engine_backend_vm,
};

int engine_backend_open(struct image_store *s, const struct ctr *c, struct engine_backend *ret,
			struct hull_err *err)
{
	const char *name = c->backend && *c->backend ? c->backend : "oci";

	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0) {
			ret->ops = backends[i];
			ret->state_root = xasprintf("%s/%s", s->root, backends[i]->state_dir
							       ? backends[i]->state_dir : "runtime");
			return 0;
		}
	return hull_err_setx(err, EPROTONOSUPPORT, "container %s: backend \"%s\" is not built "
			     "into this hull", c->id, name);
}

void engine_backend_close(struct engine_backend *b)
{
	free(b->state_root);
	b->state_root = NULL;
}
