#pragma once
/*
 * The container's network namespace, and netavark driving it (docs/engine.md "Networks").
 *
 * A namespace is a file bind-mounted from /proc/<pid>/ns/net at a path under hull's run
 * directory (<store>/netns/<id>), so that netavark's setup, the runtime (linux.namespaces
 * path) and the teardown see the same one, whoever outlived whom.
 */
#include <jansson.h>

#include "common/error.h"

#define NETAVARK_BIN "/usr/lib/podman/netavark"
#define AARDVARK_BIN "/usr/lib/podman/aardvark-dns"

/* Create the namespace file at path with loopback up. */
int netns_create(const char *path, struct hull_err *err);
/* Unmount and delete it; a missing one is no error. -errno. */
int netns_remove(const char *path);

/*
 * `netavark --config cfg_dir --rootless false --aardvark-binary ... VERB netns` with opts on
 * standard input (VERB: "setup" or "teardown"). setup's reply (the networks' interfaces,
 * addresses, DNS servers) goes to *ret when ret is not NULL. On failure err holds netavark's
 * message.
 */
int netavark_run(const char *cfg_dir, const char *verb, const char *netns, json_t *opts,
		 json_t **ret, struct hull_err *err);
