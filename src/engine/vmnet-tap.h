#pragma once
/* The tap of a VM on a hull network, inside its namespace (engine/vmnet.h, vmnet-tap.c). */
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/* Make the persistent tap in the namespace file netns, up, wired to eth0 by tc mirred
 * redirects both ways; eth0's addresses removed. multi_queue: IFF_MULTI_QUEUE (a NIC with
 * more than one queue pair attaches once per pair). err names the step that failed. */
int vmnet_tap_setup(const char *netns, const char *tap, bool multi_queue, struct hull_err *err);
/* The same wired to interface dev instead of eth0 (a VM container's second network: eth1). */
int vmnet_tap_setup_dev(const char *netns, const char *tap, const char *dev, bool multi_queue,
			struct hull_err *err);
/* The same, saying why not: 0 (gone, or goes with its last user), -EBUSY (a process holds
 * it: the VMM), or another -errno. */
int vmnet_tap_drop(const char *netns, const char *tap);
/* Delete the tap (harmless when it or the namespace file is gone). */
void vmnet_tap_remove(const char *netns, const char *tap);
/*
 * A hot-plugged NIC on a hull network (engine/vmnet.h "hot"): in the attachment's namespace
 * file netns, a veth pair veth/peer with eth0's MTU, peer moved into the namespace of
 * process peer_pid (the VMM), veth wired to eth0 by tc mirred both ways, eth0's addresses
 * removed. The tap is then made beside peer by vmnet_tap_setup_dev. err names the step.
 */
int vmnet_veth_setup(const char *netns, const char *veth, const char *peer, pid_t peer_pid,
		     struct hull_err *err);
/* Delete link dev in netns (harmless when it or the namespace file is gone). */
void vmnet_link_remove(const char *netns, const char *dev);
