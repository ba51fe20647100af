#pragma once
/*
 * rm -rf that holds a bounded number of descriptors, whatever the depth: a tree deeper than
 * RLIMIT_NOFILE (a container can make one) must still be removable.
 */

/*
 * Remove name (relative to at, or absolute) and everything below it, never following a
 * symlink. Below RM_TREE_KEEP_OPEN levels a directory is closed while its child is emptied
 * and reopened through the child's "..", checked against the device and inode it had.
 * Returns 0 (also when name does not exist) or -errno; -ESTALE when a directory moved
 * under it.
 */
int rm_tree_at(int at, const char *name);

#define RM_TREE_KEEP_OPEN 16
