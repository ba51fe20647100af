#include "engine/procs.h"

#include <stdlib.h>

#include "engine/backend.h"

int ctr_procs(struct image_store *s, struct ctr *c, struct ctr_proc **ret, size_t *ret_n,
	      struct hull_err *err)
{
	cleanup_backend struct engine_backend b = { 0 };
	int r;

	if (ctr_status_live(c) != CTR_RUNNING || c->state.pid <= 0)
		return hull_err_setx(err, EINVAL, "container %s is not running", c->name);
	if ((r = engine_backend_open(s, c, &b, err)) < 0)
		return r;
	return b.ops->procs(&b, c, ret, ret_n, err);
}

void ctr_procs_free(struct ctr_proc *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].cmd);
	free(v);
}
