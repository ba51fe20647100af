#pragma once
/* `hull export`: a container's root file system as a tar stream. */
#include "common/error.h"
#include "engine/container.h"
#include "image/store.h"

/* Write the rootfs of c as a tar to fd. */
int engine_export(struct image_store *s, struct ctr *c, int fd, struct hull_err *err);
