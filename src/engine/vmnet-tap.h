#pragma once
/* The tap of a VM on a hull network, inside its namespace (engine/vmnet.h, vmnet-tap.c). */
#include "common/error.h"

/* Make the persistent tap in the namespace file netns, up, wired to eth0 by tc mirred
 * redirects both ways; eth0's addresses removed. err names the step that failed. */
int vmnet_tap_setup(const char *netns, const char *tap, struct hull_err *err);
/* Delete the tap (harmless when it or the namespace file is gone). */
void vmnet_tap_remove(const char *netns, const char *tap);
