#pragma once
/* docker's check of a container's command before it starts (exit codes 127 and 126). */
#include <jansson.h>

#include "common/error.h"

/*
 * Look cmd up as the container's exec will: a name with a '/' from cwd (absolute, in the
 * container), a bare name along path_env (execvp's rules); each path resolved one component
 * at a time through the container's mounts (bind sources as the container will see them,
 * the image's rootfs elsewhere), symlinks followed. Where a kernel file system (proc, tmpfs)
 * is mounted the verdict is left to the exec. Returns 0, or -errno with *ret_exit 127 (not
 * found) or 126 (not an executable file).
 */
int ctr_command_check(int rootfs, json_t *mounts, const char *cwd, const char *cmd,
		      const char *path_env, int *ret_exit, struct hull_err *err);
