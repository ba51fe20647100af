#pragma once
/*
 * Idmapped bind mounts (runtime-spec 1.1 mount uidMappings/gidMappings, crun's "idmap" and
 * "ridmap" options): the source is cloned with open_tree(2) and idmapped with
 * mount_setattr(MOUNT_ATTR_IDMAP) by the runtime, before the container's init exists; the
 * init attaches the detached tree with move_mount(2) (container/mount.c).
 */
#include "common/error.h"
#include "spec/spec.h"

/*
 * Clone and idmap s->mounts[i] into s->mounts[i].src_fd. The user namespace is a helper's,
 * with the mount's mappings, or with the container's mappings when the mount gives none
 * (or the container's user namespace itself, when joined by path). Returns 0 or -errno
 * with err naming the mount.
 */
int idmount_open(const struct oci_spec *s, size_t i, struct hull_err *err);
