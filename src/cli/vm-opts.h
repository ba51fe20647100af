#pragma once
/*
 * `hull vm run` flag values turned into the VMM's typed configuration (struct vm_config,
 * vmm.h). Syntax only: ranges, files and cross-flag rules are the VMM's to check, once, in
 * vmm_run, so that a value is judged in one place whatever built the configuration.
 */
#include <sys/types.h>

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
/* --uid, --gid: a decimal id below 2^32 - 1; 0 or -EINVAL. */
int vm_opt_id(const char *s, int64_t *ret);
/* --memory: docker's size grammar (512M, 2GiB, 1.5g, 4096 bytes), as hull's other flags. */
int vm_opt_size(const char *s, uint64_t *ret);
/* --vsock: "auto" or a decimal CID (its range is the VMM's to check); 0 or -EINVAL. */
int vm_opt_vsock(const char *s, struct vm_config *cfg);
/* --console: serial, virtio or none; 0 or -EINVAL. */
int vm_opt_console(const char *s, enum vm_console *ret);
/*
 * --net "tap=IFNAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N]" into n (its strings point into s,
 * which is modified). 0, or -EINVAL with err naming --net and the bad option.
 */
int vm_opt_net(char *s, struct vm_net_config *n, struct hull_err *err);
/*
 * --balloon "on" or "[amount_mib=N][,deflate_on_oom=on][,stats=SECONDS][,free_page_reporting=on]"
 * into b, enabled. Syntax only; the VMM checks
 * the amount against --memory. 0, or -EINVAL with err naming the bad option.
 */
int vm_opt_balloon(char *s, struct vm_balloon_config *b, struct hull_err *err);
/*
 * --memory-hotplug "SIZE[,block=SIZE]" into h (a virtio-mem device; docs/vmm.md "virtio-mem").
 * Syntax only; the VMM checks sizes and alignment. 0, or -EINVAL with err naming the option.
 */
#define VM_OPT_MEM_HOTPLUG 0x1b00 /* the long-only option's id (cmd-vm.c) */
int vm_opt_mem_hotplug(char *s, struct vm_mem_hotplug_config *h, struct hull_err *err);
/*
 * --fs "tag=TAG,socket=PATH[,queues=N][,queue-size=N]" into f (a virtio-fs device on a
 * vhost-user backend; its strings point into s, which is modified). 0, or -EINVAL.
 */
#define VM_OPT_FS 0x2200 /* the long-only option's id (cmd-vm.c) */
int vm_opt_fs(char *s, struct vm_fs_config *f, struct hull_err *err);
/* `hull vm update` (cmd-vm-update.c): argv[0] is "update". Returns the exit status. */
int vm_update_main(int argc, char **argv);
/* A connection to the VMM's --api-sock and, if ret_pid, its peer's pid; -1 after one line. */
int vm_update_connect(const char *sock, pid_t *ret_pid);

/* `hull vm snapshot` and `hull vm restore` (cmd-vm-snap.c): the exit status. */
int vm_snapshot_main(int argc, char **argv);
int vm_restore_main(int argc, char **argv);
/* `hull vm migrate` (cmd-vm-migrate.c): the exit status. */
int vm_migrate_main(int argc, char **argv);
