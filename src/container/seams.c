#include "container/seams.h"

#include "common/log.h"
#include "container/cgroup.h"

static int seccomp_noop_load(const struct oci_spec *s, struct hull_err *err)
{
	if (s->seccomp)
		log_debug("linux.seccomp: not applied yet (seccomp support comes later)");
	return 0;
}

/*
 * The runtime (src/oci) calls container/cgroup.h directly: kill_all, pids and destroy need
 * the cgroup directories recorded in the container's state, which an id alone cannot find
 * (a relative linux.cgroupsPath depends on the cgroup of the process that ran create).
 * This table stays for callers that only have a spec and an id.
 */
static int cgroup_real_enter(const struct oci_spec *s, const char *id, pid_t pid,
			     struct hull_err *err)
{
	struct cgroup_paths p;
	int r;

	if ((r = cgroup_paths_resolve(s->cgroups_path, id, &p, err)) < 0)
		return r;
	r = cgroup_create_enter(&p, s, pid, err);
	cgroup_paths_clear(&p);
	return r;
}

static const struct cgroup_ops cgroup_real = {
	.enter = cgroup_real_enter,
	.kill_all = NULL,
	.pids = NULL,
	.destroy = NULL,
};

static const struct seccomp_ops seccomp_noop = {
	.load = seccomp_noop_load,
};

const struct cgroup_ops *container_cgroup_ops = &cgroup_real;
const struct seccomp_ops *container_seccomp_ops = &seccomp_noop;
