#pragma once
/*
 * --network container:X (docs/engine.md "Networks"): the container shares X's network
 * namespace. X is resolved again at every start, never at create only: a /proc/<pid>/ns/net
 * path kept from create would, once X stopped and its pid was recycled, join whatever
 * process got that pid. At start, X's current init (its recorded pid and starttime) has its
 * namespace bind-mounted at <store>/netns/<id>, the path config.json names; teardown
 * unmounts it.
 */
#include <stdbool.h>

#include "common/error.h"
#include "engine/container.h"
#include "image/store.h"

/* The X of "container:X", or NULL when mode is another network mode. */
const char *engine_netjoin_target(const char *mode);
/* Where the namespace of X is mounted for container id (a heap string). */
char *engine_netjoin_path(struct image_store *s, const char *id);
/*
 * Mount the network namespace of X's running init at engine_netjoin_path. -EINVAL "cannot
 * join network of a non running container: X" when X is not running or its recorded init is
 * gone (a recycled pid); -ENOENT when X does not exist.
 */
int engine_netjoin_setup(struct image_store *s, struct ctr *c, struct hull_err *err);
/* Undo engine_netjoin_setup; harmless when nothing is mounted. */
void engine_netjoin_teardown(struct image_store *s, struct ctr *c);
