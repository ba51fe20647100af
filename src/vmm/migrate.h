#pragma once
/*
 * Live migration (docs/vmm.md "Live migration"): the source's pre-copy rounds and
 * stop-and-copy over a connected socket (the API's "migrate" op: `hull vm migrate` connects
 * and hands the socket over), and the destination's side (`hull vm run --incoming`). The
 * stream is migrate-stream.h's.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct vm;

#define MIGRATE_DOWNTIME_MS_DEFAULT 300U
#define MIGRATE_TIMEOUT_S_DEFAULT 600U
#define MIGRATE_MAX_ROUNDS 30U
#define MIGRATE_TIMEOUT_S_MAX 86400U

struct migrate_params {
	uint64_t max_bw;      /* bytes per second of the pre-copy rounds, 0: unlimited */
	uint64_t downtime_ns; /* the stop-and-copy starts when the dirty set fits this */
	uint64_t timeout_ns;  /* the whole migration, from the first byte to the ack */
	bool test_fake_cpuid; /* tests: offer a CPU feature the destination cannot have */
};

/* What a migration did (filled as it goes: also on failure). */
struct migrate_stats {
	unsigned rounds;       /* pre-copy rounds */
	uint64_t pages;        /* pages sent in all, the stop-and-copy's included */
	uint64_t last_pages;   /* pages sent while paused */
	uint64_t downtime_ns;  /* paused: from the pause to the destination's ack */
	uint64_t total_ns;
	/*
	 * The downtime's steps, in order (docs/vmm.md "Live migration", downtime): stopping the
	 * vCPUs, the disks' flush and unlock, the last dirty-log sync, the last pages, building
	 * the state, sending what is buffered, the destination's ack (it reads what the socket
	 * still holds, loads the state, opens the disks). sent_ns is from the pause to the last
	 * byte handed to the kernel: what QEMU reports as its downtime (its clock stops when
	 * its last write returns, before the destination has read or loaded anything).
	 */
	uint64_t pause_ns, disks_ns, sync_ns, pages_ns, state_ns, flush_ns, ack_ns;
	uint64_t sent_ns;
	uint64_t estimate_ns;  /* the last round's estimate of the downtime */
};

/*
 * Migrate the running VM over fd (a connected stream socket; closed here). On success the VM
 * stops with VM_STOP_MIGRATED and 0 is returned; on any failure (the connection dropped, the
 * destination refused, the timeout) the guest goes on running here and -errno is returned
 * with err saying why. Event loop thread; it blocks that thread for the migration's time.
 */
int vm_migrate(struct vm *vm, int fd, const struct migrate_params *p, struct migrate_stats *st,
	       struct hull_err *err);

/*
 * The destination (vm_build, after the vCPUs and devices exist, before they run): listen on
 * vm->cfg->incoming, take one connection, check the header (RAM size, vCPUs, CPU features)
 * and answer it, receive RAM and state, load the state, acknowledge. 0, or -errno with err
 * saying what was refused or went wrong (also sent to the source when it is still there).
 */
int migrate_incoming(struct vm *vm, struct hull_err *err);

/* --incoming's or --to's form (tcp:HOST:PORT, unix:PATH): 0 or -EINVAL with err. */
int migrate_addr_check(const char *spec, struct hull_err *err);

/*
 * The disks at the stop-and-copy (migrate-disks.c). release (the source, paused): each
 * virtio-blk device's disk flushed and its image lock given up, the file left open; on
 * failure the ones released are taken back. take_back (the source, after a failed
 * migration): their locks again, -EBUSY when another process holds one now. open (the
 * destination, once the stream is in, before its seccomp filter): each disk opened from its
 * --disk and checked against the size the guest saw. 0 or -errno with err naming the disk.
 */
int migrate_disks_release(struct vm *vm, struct hull_err *err);
int migrate_disks_take_back(struct vm *vm, struct hull_err *err);
int migrate_disks_open(struct vm *vm, struct hull_err *err);

/*
 * The destination, once the state is loaded (migrate-net.c): a broadcast RARP from each
 * NIC's MAC on its tap, so that the bridge or switch sends the guest's frames here now.
 * Best effort (a failed write is logged). migrate_rarp_frame builds it: the 12-byte vnet
 * header and a 60-byte Ethernet frame.
 */
#define MIGRATE_RARP_LEN (12 + 60)
void migrate_net_announce(struct vm *vm);
void migrate_rarp_frame(uint8_t frame[MIGRATE_RARP_LEN], const uint8_t mac[6]);
