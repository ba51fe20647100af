#pragma once
/*
 * Seccomp profiles for `hull run/create` (docs/engine.md "Security"): docker's profile file
 * format (defaultAction, defaultErrnoRet, archMap, syscalls[] with names or name, action,
 * errnoRet, args, includes/excludes {caps, arches, minKernel}) or a plain runtime-spec
 * linux.seccomp object, resolved for one container into the typed model (spec/spec.h), as
 * docker does when it writes config.json: a group is kept when the container's bounding set
 * has every capability of includes.caps and none of excludes.caps, and the native
 * architecture and kernel match; archMap gives the native architecture and its
 * sub-architectures.
 */
#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "spec/spec.h"

/* The largest profile file read (docker's default is 20 KiB). */
#define SECCOMP_PROFILE_MAX_SIZE (4U << 20)

/* hull's default profile (seccomp-default.c) in docker's format; a new reference. */
json_t *seccomp_profile_default_json(void);

/*
 * Resolve prof for a container whose bounding set is caps (bit n: capability n). where names
 * the document in errors ("/tmp/p.json"): "/tmp/p.json: syscalls[2].includes.caps: ...".
 * *ret: spec_seccomp_free. Returns 0 or -errno with err set.
 */
int seccomp_profile_resolve(json_t *prof, uint64_t caps, const char *where,
			    struct oci_seccomp **ret, struct hull_err *err);

/* seccomp_profile_resolve on a file (at most SECCOMP_PROFILE_MAX_SIZE bytes, regular). */
int seccomp_profile_load(const char *path, uint64_t caps, struct oci_seccomp **ret,
			 struct hull_err *err);
