#pragma once
/*
 * rm -rf that holds a bounded number of descriptors, whatever the depth: a tree deeper than
 * RLIMIT_NOFILE (a container can make one) must still be removable.
 */
#include <stdint.h>

/*
 * Remove name (relative to at, or absolute) and everything below it, never following a
 * symlink. Below RM_TREE_KEEP_OPEN levels a directory is closed while its child is emptied
 * and reopened through the child's "..", checked against the device and inode it had.
 * Returns 0 (also when name does not exist) or -errno; -ESTALE when a directory moved
 * under it.
 */
int rm_tree_at(int at, const char *name);

/* rm_tree_at that adds to *freed the bytes it released, as du counts them (st_blocks of
 * directories and of files losing their last link). */
int rm_tree_at_freed(int at, const char *name, uint64_t *freed);

#define RM_TREE_KEEP_OPEN 16
