#include "engine/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "engine/config.h"

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

int engine_user_at(int root, const char *spec, struct engine_user *ret, struct hull_err *err)
{
	cleanup_json json_t *user = NULL;
	cleanup_free char *home = NULL;
	json_t *gids, *g;
	size_t i;
	int r = ctr_user_resolve(spec, root, &user, &home, err);

	if (r < 0)
		return r;
	ret->uid = (uint32_t)json_integer_value(json_object_get(user, "uid"));
	ret->gid = (uint32_t)json_integer_value(json_object_get(user, "gid"));
	gids = json_object_get(user, "additionalGids");
	ret->gids = xcalloc(json_array_size(gids) + 1, sizeof(*ret->gids));
	json_array_foreach(gids, i, g)
		ret->gids[i] = (uint32_t)json_integer_value(g);
	ret->n_gids = json_array_size(gids);
	if (ret->n_gids == 0)
		ret->gids[ret->n_gids++] = ret->gid;
	return 0;
}
