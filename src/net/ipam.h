#pragma once
/*
 * IPv4 address management: <store>/networks/NAME.ipam, a JSON object "address": "container
 * id", replaced atomically under net_lock(). An address is given once (the file is read and
 * written under the lock) and never lost: the entries of containers whose directory is gone
 * (a hull killed before its teardown, a removed record) are reclaimed on every allocation,
 * and a container's own entries are dropped before it allocates again.
 */
#include <jansson.h>
#include <stdint.h>

#include "common/error.h"

/* Where the engine keeps the records of VMs on a network (engine/vmnet.h): an entry whose
 * owner has a directory there is not reclaimed either. */
#define IPAM_VMS_DIR "vms"

/*
 * Allocate an address of def's first IPv4 subnet to ctr_id (want: that address, 0: the lowest
 * free one after the gateway). ctr_dir is the directory that holds the containers
 * (<store>/containers), for reclaiming. -EADDRINUSE, -ENOSPC, -EINVAL (want outside the
 * subnet) with err naming --ip.
 */
int ipam_alloc(const char *root, json_t *def, const char *ctr_dir, const char *ctr_id,
	       uint32_t want, uint32_t *ret, struct hull_err *err);
/* Drop every address ctr_id holds in network name. */
int ipam_release(const char *root, const char *name, const char *ctr_id, struct hull_err *err);
/* How many addresses network name has given out (after reclaiming). */
int ipam_count(const char *root, const char *name, const char *ctr_dir);
