/*
 * The one config.json writer: struct oci_spec back to JSON (runtime-spec config.md). Used by
 * `hull run`/`hull create` (engine/config.c) and `hull-oci spec`; what it writes parses back
 * to the same struct (tests/unit/spec/test-spec-roundtrip.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "spec/spec-internal.h"
#include "spec/spec.h"

json_t *spec_json_u64(uint64_t v)
{
	return hjson_u64(v);
}

json_t *spec_to_json(const struct oci_spec *s)
{
	json_t *o = json_object(), *mounts = json_array();

	json_object_set_new(o, "ociVersion", json_string(s->oci_version ? s->oci_version :
							 OCI_SPEC_VERSION));
	json_object_set_new(o, "root", json_pack("{s:s,s:b}", "path",
						 s->root_path ? s->root_path : "rootfs",
						 "readonly", s->root_readonly));
	if (s->has_process)
		json_object_set_new(o, "process", spec_process_to_json(&s->process));
	if (s->hostname)
		json_object_set_new(o, "hostname", json_string(s->hostname));
	if (s->domainname)
		json_object_set_new(o, "domainname", json_string(s->domainname));
	for (size_t i = 0; i < s->n_mounts; i++)
		json_array_append_new(mounts, spec_mount_to_json(&s->mounts[i]));
	json_object_set_new(o, "mounts", mounts);
	for (int k = 0; k < OCI_HOOK_COUNT; k++)
		if (s->n_hooks[k]) {
			json_object_set_new(o, "hooks", spec_hooks_to_json(s->hooks, s->n_hooks));
			break;
		}
	if (s->annotations && json_object_size(s->annotations))
		json_object_set(o, "annotations", s->annotations);
	json_object_set_new(o, "linux", spec_linux_to_json(s));
	return o;
}

char *spec_dump(const struct oci_spec *s)
{
	json_t *o = spec_to_json(s);
	char *text = json_dumps(o, JSON_INDENT(2));

	json_decref(o);
	if (!text)
		abort(); /* jansson fails only on allocation: OOM aborts, as xmalloc */
	/* Marked uint64 strings back into plain numbers: "\u0000u64:N" -> N. */
	hjson_unmark_u64(text);
	return text;
}

int spec_write_at(int dirfd, const char *name, const struct oci_spec *s,
		      struct hull_err *err)
{
	cleanup_free char *text = spec_dump(s);
	int r;

	if ((r = fd_write_file_atomic_at(dirfd, name, text, strlen(text), 0644)) < 0)
		return hull_err_set(err, -r, "write %s", name);
	return 0;
}
