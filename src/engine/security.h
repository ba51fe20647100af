#pragma once
/*
 * The security half of `hull run/create` (docs/engine.md "Security"): the seccomp profile
 * (hull's default, a file, or none), no-new-privileges, --device, --group-add, --sysctl,
 * --ulimit, and what --privileged adds (the host's devices, every device allowed).
 */
#include "common/error.h"
#include "engine/run.h"
#include "spec/spec.h"

/*
 * Apply o's security options to s, whose process capabilities are final (the seccomp
 * profile is resolved against the bounding set, as docker does). rootfs_fd: the mounted
 * rootfs (group names are looked up in its /etc/group). Errors name the flag; 0 or -errno.
 */
int engine_security_build(const struct run_opts *o, int rootfs_fd, struct oci_spec *s,
			  struct hull_err *err);
