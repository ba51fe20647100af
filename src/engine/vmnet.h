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
#include <sys/types.h>

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

/*
 * A NIC hot-plugged on a hull network (`hull vm update --add-net network=NAME`, docs/vmm.md
 * "NIC hot-plug"). The VMM is already running, in whatever namespace it was started in, and
 * its PUT /network-interfaces takes a tap there; so the engine makes the attachment's own
 * namespace as for `hull vm run --net network=` (address from the network's allocator,
 * netavark with the name for aardvark-dns) and joins it to the VMM's namespace: a veth pair
 * (hhn0 in the attachment's, hhv<id> in the VMM's, each wired by tc mirred: hhn0 to eth0,
 * hhv<id> to the tap hht<id>). The record is <store>/vms/<id>/ as for `vm run`, with the VMM
 * (its pid and starttime) as its owner and Iface, Tap, Veth and the VMM's namespace (NetnsDev,
 * NetnsIno) in vm.json: a --del-net tears it down; once the VMM is gone, whatever tears down
 * a `vm run` record whose owner is gone does (engine_vmnet_prune, engine_vmnet_users, and
 * `hull vm run --net network=` when its VMM ends).
 */
struct vmnet_hot_request {
	const char *network; /* network=NAME */
	const char *mac;     /* mac=MAC or NULL: eth0's */
	const char *ip;      /* ip=ADDR or NULL: the allocator's */
	const char *iface;   /* the NIC's id in the VMM */
	pid_t vmm;           /* the VMM (the peer of its API socket) */
};

struct vmnet_hot {
	char id[65];
	char *dir;       /* the record */
	char tap[16];    /* in the VMM's namespace: the PUT's host_dev_name */
	char mac[18];    /* the guest's MAC */
	char *addr;      /* "ADDR/PREFIX" for the guest */
	char *gateway;   /* or "" */
};

/*
 * Check rq (errors name `--add-net` and the field), record it with the VMM as owner and make
 * the attachment up to the tap. On failure nothing is left. *ret: engine_vmnet_hot_down
 * (tear down: the VMM refused the plug) or engine_vmnet_hot_free (keep: plugged).
 */
int engine_vmnet_hot_up(struct image_store *s, const struct vmnet_hot_request *rq,
			struct vmnet_hot **ret, struct hull_err *err);
void engine_vmnet_hot_down(struct image_store *s, struct vmnet_hot *h);
void engine_vmnet_hot_free(struct vmnet_hot *h);
/* Tear down the attachment of live VMM vmm's NIC iface; false when it has none (a tap=
 * NIC). */
bool engine_vmnet_hot_del(struct image_store *s, pid_t vmm, const char *iface);
