#pragma once
/*
 * Container networking. Only the two modes that need no set-up exist so far:
 *   none  a new network namespace with only a loopback device (the runtime brings lo up)
 *   host  the host's network namespace
 * Bridged networks, CNI and port publishing come later (docs/engine.md).
 */
#include <stdbool.h>

#include "common/error.h"

enum net_mode {
	NET_MODE_NONE,
	NET_MODE_HOST,
	NET_MODE_COUNT,
};

/* "none" or "host" (NULL: the default, none). -EINVAL with err naming the value otherwise. */
int net_mode_parse(const char *s, enum net_mode *ret, struct hull_err *err);
const char *net_mode_name(enum net_mode m);
/* Whether the container gets its own network namespace. */
bool net_mode_has_netns(enum net_mode m);
