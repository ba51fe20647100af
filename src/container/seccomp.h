#pragma once
/* linux.seccomp (runtime-spec config-linux.md "Seccomp") through libseccomp. */
#include "common/error.h"
#include "oci/spec.h"

/* Build and load linux.seccomp into the calling thread now. */
int seccomp_load(const struct oci_spec *s, struct hull_err *err);
