#pragma once
/* Shared by the files of src/spec/ only. */
#include <jansson.h>

#include "common/error.h"
#include "spec/spec.h"

/* lnx.<key> (uidMappings, gidMappings) into *ret; where names lnx in messages. */
int spec_idmaps_parse(json_t *lnx, const char *where, const char *key, struct oci_idmap **ret,
		     size_t *ret_n, struct hull_err *err);

int spec_parse_mounts(json_t *doc, struct oci_spec *s, struct hull_err *err);
int spec_parse_linux(json_t *doc, struct oci_spec *s, struct hull_err *err);

/* Writer pieces (spec-write.c puts them together). */
void spec_idmaps_to_json(json_t *o, const char *key, const struct oci_idmap *m, size_t n);
json_t *spec_mount_to_json(const struct oci_mount *m);
json_t *spec_linux_to_json(const struct oci_spec *s);
json_t *spec_hooks_to_json(struct oci_hook *const hooks[OCI_HOOK_COUNT],
			  const size_t n[OCI_HOOK_COUNT]);
/* v as a JSON integer, or above INT64_MAX as the marked string hjson_get_u64 reads back
 * (spec_dump writes it as a plain number). */
json_t *spec_json_u64(uint64_t v);
