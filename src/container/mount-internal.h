#pragma once
/* Shared by mount.c and rootfs.c only. */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

/* "/proc/self/fd/<fd>" into buf. */
void fd_proc_path(char buf[static 64], int fd);
/* mount_setattr(2) on the mount fd names (recursively if asked); no-op when both are 0. */
int mount_set_attrs(int fd, uint64_t set, uint64_t clr, bool recursive, const char *what,
		    struct hull_err *err);
/* O_PATH fd on dst inside the root, created as a directory or an empty file if missing. */
int mount_target_open(int root_fd, const char *dst, bool is_dir, struct hull_err *err);
/* tmpcopyup: copy the tree of directory sfd into directory dfd (depth: 0). */
int copyup_dir(int sfd, int dfd, int depth);
