#pragma once
/*
 * A VM on a hull network (`hull vm run --net network=NAME`, docs/vmm.md "Networking"): the
 * engine makes the VM a network namespace exactly as for a container (engine/network.h:
 * namespace file, address from the network's allocator, netavark setup with the ports and
 * the name for aardvark-dns), then inside it a persistent tap ENGINE_VMNET_TAP wired to eth0
 * by tc: an ingress qdisc on each with `matchall action mirred egress redirect` to the other
 * (Kata Containers' tcfilter mode), and eth0's address removed: the guest owns it, with
 * eth0's MAC.
 *
 * The record is <store>/vms/<id>/: vm.json (Id, Name, Network, and the owner: the pid and
 * starttime of the `hull vm run` that made it) beside the network.json, hosts and
 * resolv.conf a container has. Teardown happens when the owner ends the VM
 * (engine_vmnet_down); a record whose owner is gone (SIGKILL) is torn down by the next
 * `hull system prune` (engine_vmnet_prune) or `hull network rm/prune/inspect`
 * (engine_vmnet_users).
 */
#include <stdbool.h>

#include "common/error.h"
#include "image/store.h"
#include "net/ipam.h"

#define ENGINE_VMNET_DIR IPAM_VMS_DIR
#define ENGINE_VMNET_TAP "tap0"

/* What `hull vm run` was asked for (strings are the caller's). */
struct vmnet_request {
	const char *network;  /* network=NAME */
	const char *mac;      /* mac=MAC or NULL: eth0's */
	const char *ip;       /* ip=ADDR or NULL: the allocator's */
	char *const *publish; /* -p values (NULL-terminated) or NULL */
	const char *name;     /* --name: the DNS name and hostname; NULL: the id's first 12 */
	unsigned queues;      /* queues=N: the tap's queues (more than 1: multi_queue) */
};

/* A VM's network, up. */
struct vmnet {
	char id[65];
	char *dir;     /* the record */
	char *netns;   /* the namespace file the VMM runs in */
	char mac[18];  /* the guest's MAC ("aa:bb:cc:dd:ee:ff") */
	/* "hull.net=eth0,ADDR/PREFIX,GW hull.dns=A[,B] hull.hostname=NAME" for the guest's init */
	char *cmdline;
};

/*
 * Check rq (network exists, name and MAC unused, ports free: errors name the flag as
 * `hull vm run` spells it), record the VM with the calling process as its owner and set up
 * its network and tap. On failure nothing is left (no record, namespace, address or rule).
 * *ret: free with engine_vmnet_down.
 */
int engine_vmnet_up(struct image_store *s, const struct vmnet_request *rq, struct vmnet **ret,
		    struct hull_err *err);
/* Tear down what engine_vmnet_up made, remove the record, free vm (NULL: nothing). */
void engine_vmnet_down(struct image_store *s, struct vmnet *vm);
/*
 * Caller holds net_lock: append "VM NAME" to *out for each live VM on network; records
 * whose owner is gone are torn down and removed now.
 */
void engine_vmnet_users(struct image_store *s, const char *network, char ***out);
/* For system prune: tear down and remove the records whose owner is gone; how many. */
unsigned engine_vmnet_prune(struct image_store *s);
