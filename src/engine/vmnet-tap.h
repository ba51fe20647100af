#pragma once
/* The tap of a VM on a hull network, inside its namespace (engine/vmnet.h, vmnet-tap.c). */
#include <stdbool.h>

#include "common/error.h"

/* Make the persistent tap in the namespace file netns, up, wired to eth0 by tc mirred
 * redirects both ways; eth0's addresses removed. multi_queue: IFF_MULTI_QUEUE (a NIC with
 * more than one queue pair attaches once per pair). err names the step that failed. */
int vmnet_tap_setup(const char *netns, const char *tap, bool multi_queue, struct hull_err *err);
/* The same wired to interface dev instead of eth0 (a VM container's second network: eth1). */
int vmnet_tap_setup_dev(const char *netns, const char *tap, const char *dev, bool multi_queue,
			struct hull_err *err);
/* Delete the tap (harmless when it or the namespace file is gone). */
void vmnet_tap_remove(const char *netns, const char *tap);
