#pragma once
/*
 * process.scheduler, process.ioPriority, linux.personality and linux.memoryPolicy, applied
 * in the container init before the uid switch (runtime-spec config.md "Process",
 * config-linux.md "Personality" and "Memory policy").
 */
#include "common/error.h"
#include "oci/spec.h"

/* personality(2) from linux.personality; errors name the field. */
int sched_apply_personality(const struct oci_spec *s, struct hull_err *err);

/* sched_setattr(2), ioprio_set(2) and set_mempolicy(2); errors name the field. */
int sched_apply_process(const struct oci_spec *s, struct hull_err *err);
