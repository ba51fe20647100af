#pragma once
/*
 * `hull vm run` flag values turned into the VMM's typed configuration (struct vm_config,
 * vmm.h). Syntax only: ranges, files and cross-flag rules are the VMM's to check, once, in
 * vmm_run, so that a value is judged in one place whatever built the configuration.
 */
#include "common/error.h"
#include "vmm/vmm.h"

/*
 * --disk "PATH[,ro|rw][,format=raw|qcow2][,serial=ID]" into d (its strings point into s,
 * which is modified). The format is raw unless given: a guest-writable raw disk is never
 * probed, since a guest that wrote QCOW2 magic into it would then choose the host files
 * behind it. 0, or -EINVAL with err naming the flag, the path and the bad option.
 */
int vm_opt_disk(char *s, struct vm_disk_config *d, struct hull_err *err);
/* A decimal count ("8", no sign, no suffix) that fits an unsigned: 0 or -EINVAL. */
int vm_opt_uint(const char *s, unsigned *ret);
/* --memory: docker's size grammar (512M, 2GiB, 1.5g, 4096 bytes), as hull's other flags. */
int vm_opt_size(const char *s, uint64_t *ret);
/* --console: serial, virtio or none; 0 or -EINVAL. */
int vm_opt_console(const char *s, enum vm_console *ret);
/*
 * --net "tap=IFNAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N]" into n (its strings point into s,
 * which is modified). 0, or -EINVAL with err naming --net and the bad option.
 */
int vm_opt_net(char *s, struct vm_net_config *n, struct hull_err *err);

/* `hull vm snapshot` and `hull vm restore` (cmd-vm-snap.c): the exit status. */
int vm_snapshot_main(int argc, char **argv);
int vm_restore_main(int argc, char **argv);
