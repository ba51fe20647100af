/* See sched.h. */
#include "container/sched.h"

int sched_apply_personality(const struct oci_spec *s, struct hull_err *err)
{
	(void)s;
	(void)err;
	return 0;
}

int sched_apply_process(const struct oci_spec *s, struct hull_err *err)
{
	(void)s;
	(void)err;
	return 0;
}
