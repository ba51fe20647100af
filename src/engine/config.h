#pragma once
/* The OCI config.json of a container, generated from the image config and `hull run` flags. */
#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/run.h"

/*
 * Build config.json for container id from the image config (img, the whole config blob)
 * and the options. rootfs_fd is the mounted rootfs (users, groups and the command are
 * looked up in it); dir is the container directory. *ret_exit is set to 125, 126 or 127
 * on failure.
 */
int ctr_config_build(const struct run_opts *o, json_t *img, int rootfs_fd, const char *dir,
		     const char *id, json_t **ret, int *ret_exit, struct hull_err *err);

/*
 * USER[:GROUP] (names or numbers; "" or NULL is root) resolved in rootfs's /etc/passwd and
 * /etc/group: *ret_user is a runtime-spec process.user object (uid, gid, additionalGids: the
 * groups that list the user), *ret_home the passwd home or NULL (heap). -ENOENT "unable to
 * find user NAME: no matching entries in passwd file" (or group), -EINVAL out of range.
 */
int ctr_user_resolve(const char *spec, int rootfs, json_t **ret_user, char **ret_home,
		     struct hull_err *err);

/* GROUP (a gid, or a name in rootfs's /etc/group) as a gid: -ENOENT "unable to find group
 * NAME: ...", -EINVAL out of range. */
int ctr_group_resolve(int rootfs, const char *group, uint32_t *ret_gid, struct hull_err *err);
