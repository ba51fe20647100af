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
#include "spec/spec-internal.h"
#include "spec/spec.h"

/* common/json.c's mark for a uint64 above INT64_MAX (a string no JSON text holds as is). */
#define U64_MARK "\0u64:"
#define U64_MARK_LEN 5
#define U64_MARK_JSON "\"\\u0000u64:"

json_t *spec_json_u64(uint64_t v)
{
	char buf[U64_MARK_LEN + 24];
	int n;

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	memcpy(buf, U64_MARK, U64_MARK_LEN);
	n = snprintf(buf + U64_MARK_LEN, sizeof(buf) - U64_MARK_LEN, "%llu",
		     (unsigned long long)v);
	return json_stringn(buf, U64_MARK_LEN + (size_t)n);
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
	char *p;

	json_decref(o);
	if (!text)
		abort(); /* jansson fails only on allocation: OOM aborts, as xmalloc */
	/* Marked uint64 strings back into plain numbers: "\u0000u64:N" -> N. */
	while ((p = strstr(text, U64_MARK_JSON))) {
		char *end = strchr(p + strlen(U64_MARK_JSON), '"');
		size_t digits = (size_t)(end - p) - strlen(U64_MARK_JSON);

		memmove(p, p + strlen(U64_MARK_JSON), digits);
		memmove(p + digits, end + 1, strlen(end + 1) + 1);
	}
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
