#include "container/seams.h"

#include "common/log.h"

static int seccomp_noop_load(const struct oci_spec *s, struct hull_err *err)
{
	if (s->seccomp)
		log_debug("linux.seccomp: not applied yet (seccomp support comes later)");
	return 0;
}

static int cgroup_noop_enter(const struct oci_spec *s, const char *id, pid_t pid,
			     struct hull_err *err)
{
	if (s->resources || s->cgroups_path)
		log_debug("linux.resources/cgroupsPath: not applied yet (cgroups come later)");
	return 0;
}

static const struct cgroup_ops cgroup_noop = {
	.enter = cgroup_noop_enter,
	.kill_all = NULL,
	.pids = NULL,
	.destroy = NULL,
};

static const struct seccomp_ops seccomp_noop = {
	.load = seccomp_noop_load,
};

const struct cgroup_ops *container_cgroup_ops = &cgroup_noop;
const struct seccomp_ops *container_seccomp_ops = &seccomp_noop;
