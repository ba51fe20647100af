#pragma once
/*
 * The VMM of a `hull run --vm` container (engine/backend-vm.c): how the shim starts it and
 * waits for its agent, how any hull finds it again in the state directory ID of the
 * backend's root (vmm.pid, cid, api: the API socket's path, console.log).
 */
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/json.h"
#include "engine/record.h"

#define VM_FILE_MAX (1U << 20)
#define VM_CMDLINE "console=ttyS0 quiet panic=-1 hull.root=/dev/vda"

/* What vm.json (engine/vmroot.h) says the VM is. */
struct vm_fs;

struct vm_spec {
	const char *kernel, *initrd, *root;
	int64_t mib, cpus;
	json_t *json;
	const struct vm_fs *fs; /* the shares' daemons (vm-fs.h), NULL: none */
	/* a NIC (engine/vm-net.h; not in vm.json): the VMM runs in netns with --net net */
	const char *netns, *net;
	/* more NICs in the same namespace (guest18: the container's other networks) */
	char *const *net_extra;
	size_t n_net_extra;
};

/* vm.json's values into v (v->json holds them: json_decref it). */
int vm_spec_load(const struct ctr *c, struct vm_spec *v, struct hull_err *err);

/* The API socket's path (<dir>/api; heap), or NULL before the VMM was started. */
char *vm_api_sock(const char *dir);
/* A private /tmp/hull-vm-XXXXXX for the socket (sun_path has 108 bytes: a store path is too
 * deep), its path recorded in <dir>/api; *ret the socket's path. */
int vm_api_sock_make(const char *dir, char **ret, struct hull_err *err);
/* The socket and its directory gone (the VMM removes the socket when it exits, not killed). */
void vm_api_sock_remove(const char *dir);

/* The VMM of dir when it still runs (its pid file checked against its command line, which
 * names our socket: a reused pid is never signalled), else 0. */
pid_t vmm_pid(const char *dir);
/* The guest's CID recorded in <dir>/cid. */
int vm_read_cid(const char *dir, uint32_t *ret, struct hull_err *err);
/* Fork hull-vmm for v: stdin /dev/null, stdout and stderr <dir>/console.log, no other fd. */
int vmm_spawn(const struct vm_spec *v, const char *dir, const char *sock, pid_t *ret,
	      struct hull_err *err);
/* The same VMM restoring the snapshot directory snap (--vsock auto, its own socket). */
int vmm_spawn_restore(const char *snap, const char *dir, const char *sock, pid_t *ret,
		      struct hull_err *err);
/* The same with v's NIC (warmnet18): in v->netns, with restore --net v->net (the snapshot's NIC
 * given this container's tap and MAC); v->netns NULL: as vmm_spawn_restore. */
int vmm_spawn_restore_nic(const struct vm_spec *v, const char *snap, const char *dir,
			  const char *sock, pid_t *ret, struct hull_err *err);
/* What vmm_spawn runs: hull-vmm beside this hull, else this hull (heap; NULL: unknown). */
char *vmm_binary(void);
/* A full snapshot of the VM behind sock into the directory out; the VM resumes. */
int vmm_snapshot(const char *sock, const char *out, struct hull_err *err);
/* The CID the VMM picked (--vsock auto), from its API; fails when it exits meanwhile. */
int vmm_cid(const char *dir, const char *sock, pid_t vmm, uint32_t *ret, struct hull_err *err);
/* Connect to the agent a second at a time while the VMM lives (90 s at most, or what
 * vm_agent_wait_set gave); errors quote the console's last line. */
int vm_agent_wait(const char *dir, pid_t vmm, uint32_t cid, int *ret_fd, struct hull_err *err);
/* Every later vm_agent_wait of this process waits this long (seconds; 0: the default): hull's
 * HULL_VM_AGENT_TIMEOUT, for slow hosts such as the sandbox's nested KVM under TCG. */
void vm_agent_wait_set(int seconds);
/* Reap the VMM, waiting grace_ms for the guest's power-off before SIGKILL; its wait status. */
int vmm_reap(pid_t vmm, int grace_ms);
