#pragma once
/*
 * Paths, and resolution inside a root directory that never escapes it.
 *
 * Every path taken from an image, a config.json or a guest is resolved with
 * openat2(RESOLVE_IN_ROOT): "..", absolute symlinks and absolute paths are all scoped to the
 * root, so a hostile rootfs cannot send an open, a mkdir or a mount onto the host.
 */
#include <stdbool.h>
#include <sys/types.h>

/* openat2(root_fd, path, flags, mode, RESOLVE_IN_ROOT | extra_resolve); returns fd or -errno. */
int path_open_in_root(int root_fd, const char *path, int flags, mode_t mode,
		      unsigned long long extra_resolve);

/*
 * Create every missing directory of path inside root_fd (mode for new ones) and return an
 * O_PATH|O_DIRECTORY fd on the last one, or -errno. Each step is resolved in root.
 */
int path_mkdirs_in_root(int root_fd, const char *path, mode_t mode);

/*
 * mkdir -p for trusted host paths (state and store roots, not container paths): create each
 * missing directory with mode. Returns 0 or -errno.
 */
int path_mkdir_p(const char *path, mode_t mode);

/* Join a and b with exactly one '/' between them. Returns a heap string. */
char *path_join(const char *a, const char *b);

/* True if path is absolute. */
bool path_is_absolute(const char *path);

/*
 * Lexically normalise path: collapse "//", drop "." components, and resolve ".." without
 * going above "/" (or above the start of a relative path). Returns a heap string.
 */
char *path_normalize(const char *path);
