/* See sched.h. */
#include "container/sched.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

/* <linux/sched/types.h>, SCHED_ATTR_SIZE_VER0: glibc 2.36 has no wrapper. */
struct sched_attr_v0 {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};
_Static_assert(sizeof(struct sched_attr_v0) == 48, "SCHED_ATTR_SIZE_VER0");

static const char *const policy_names[] = {
	"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
	"SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE",
};

static const char *policy_name(uint32_t p)
{
	return p < sizeof(policy_names) / sizeof(policy_names[0]) ? policy_names[p] : "?";
}

int sched_apply_linux(const struct oci_spec *s, struct hull_err *err)
{
	if (s->has_personality && personality(s->personality) < 0)
		return hull_err_set(err, errno, "config.json: linux.personality: personality(0x%lx)",
				    s->personality);
	if (s->has_mempolicy) {
		const struct oci_mempolicy *m = &s->mempolicy;
		/* maxnode counts bits, and the kernel ignores the last one (set_mempolicy(2)). */
		unsigned long maxnode = m->max_node ? m->max_node + 1 : 0;

		if (syscall(SYS_set_mempolicy, m->mode | (int)m->flags,
			    m->max_node ? m->nodes : NULL, maxnode) < 0)
			return hull_err_set(err, errno, "config.json: linux.memoryPolicy: "
					    "set_mempolicy");
	}
	return 0;
}

int sched_set_pid(const struct oci_scheduler *sc, pid_t pid, struct hull_err *err)
{
	struct sched_attr_v0 a = {
		.size = sizeof(a),
		.sched_policy = sc->policy,
		.sched_flags = sc->flags,
		.sched_nice = sc->nice,
		.sched_priority = sc->priority,
		.sched_runtime = sc->runtime,
		.sched_deadline = sc->deadline,
		.sched_period = sc->period,
	};

	if (syscall(SYS_sched_setattr, pid, &a, 0) < 0) {
		bool rt = sc->policy == 1 || sc->policy == 2 || sc->policy == 6;

		if (errno == EPERM && rt)
			return hull_err_set(err, errno,
					    "config.json: process.scheduler: %s refused "
					    "(no realtime budget for the container's cpu "
					    "cgroup? cpu.rt_runtime_us)",
					    policy_name(sc->policy));
		return hull_err_set(err, errno, "config.json: process.scheduler: %s",
				    policy_name(sc->policy));
	}
	return 0;
}

int sched_apply_process(const struct oci_process *p, struct hull_err *err)
{
	int r;

	if (p->has_scheduler && (r = sched_set_pid(&p->scheduler, 0, err)) < 0)
		return r;
	/* ioprio_set(IOPRIO_WHO_PROCESS, self, prio). */
	if (p->has_io_priority && syscall(SYS_ioprio_set, 1, 0, p->io_priority) < 0)
		return hull_err_set(err, errno, "config.json: process.ioPriority: ioprio_set");
	return 0;
}
