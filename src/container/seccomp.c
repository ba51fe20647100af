/* See seccomp.h. */
#include "container/seccomp.h"

int seccomp_load(const struct oci_spec *s, struct hull_err *err)
{
	(void)s;
	(void)err;
	return 0;
}
