#pragma once
/*
 * process.scheduler, process.ioPriority, linux.personality and linux.memoryPolicy
 * (runtime-spec config.md "Process", config-linux.md "Personality", "Memory policy"),
 * applied in the container init before the uid switch: a negative nice, a realtime policy
 * or the RT I/O class need CAP_SYS_NICE / CAP_SYS_ADMIN, which the process may not keep.
 * Every error names the field.
 */
#include "common/error.h"
#include "spec/spec.h"

/* personality(2) from linux.personality, set_mempolicy(2) from linux.memoryPolicy. */
int sched_apply_linux(const struct oci_spec *s, struct hull_err *err);

/*
 * sched_setattr(2) from process.scheduler, ioprio_set(2) from process.ioPriority. A
 * realtime policy refused with EPERM says why it usually is (no realtime budget in the cpu
 * cgroup, cpu.rt_runtime_us = 0 on cgroup v1 hosts).
 */
int sched_apply_process(const struct oci_process *p, struct hull_err *err);
/* sched_setattr(2) of process pid (0: the caller) from a process.scheduler. 0 or -errno. */
int sched_set_pid(const struct oci_scheduler *sc, pid_t pid, struct hull_err *err);
