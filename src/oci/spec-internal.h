#pragma once
/* Shared between spec.c and spec-linux.c only. */
#include <jansson.h>

#include "common/error.h"
#include "oci/spec.h"

int oci_spec_parse_mounts(json_t *doc, struct oci_spec *s, struct hull_err *err);
int oci_spec_parse_linux(json_t *doc, struct oci_spec *s, struct hull_err *err);
