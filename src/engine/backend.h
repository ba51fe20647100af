#pragma once
/*
 * What runs a container: the engine's only way to the container's processes. The record
 * names its backend (struct ctr's backend: "oci", or "vm" with `--vm`); the engine
 * looks the ops up with engine_backend_open() and never branches on the kind.
 *
 *   oci   the OCI runtime library in process (engine/backend-oci.c, src/oci/runtime.h)
 *   vm    a microVM on hull's VMM with the guest agent as its init (engine/backend-vm.c,
 *         `hull run --vm`)
 *
 * The microVM backend is one more ops table here. Nothing in the interface
 * is a namespace: a container is reached by its record, and the one process the engine sees
 * is the handle create and exec return, a child of the caller that ops->wait reaps (the
 * container's init for oci, the VM's shim, which runs the VMM, for vm); stdio and the terminal are fds and an
 * AF_UNIX console socket whatever carries them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "engine/procs.h"
#include "engine/record.h"
#include "image/store.h"

/* The container's stdio: fds given as its 0, 1, 2 (-1: the caller's own, dup'ed in the
 * child), or a terminal whose master is sent over console_socket (NULL: none). */
struct engine_io {
	int stdio[3];
	const char *console_socket;
};

/* A user as the container's files name it (ops->user). */
struct engine_user {
	uint32_t uid, gid;
	uint32_t *gids; /* the groups that replace the container's (heap; at least gid) */
	size_t n_gids;
};

struct engine_exec_req {
	char **args;     /* NULL-terminated, required */
	char **env;      /* K=V added to the container's */
	const char *cwd; /* NULL: the container's */
	const struct engine_user *user; /* NULL: the container's own */
	struct engine_io io;
};

/* Counters for `hull stats`; a has_ flag is false where the backend has no such counter. */
struct engine_stats {
	bool has_mem;
	uint64_t mem_usage; /* bytes, page cache that can be dropped left out (as docker) */
	uint64_t mem_limit; /* bytes; UINT64_MAX: no limit */
	bool has_cpu;
	uint64_t cpu_ns;
	bool has_pids;
	uint64_t pids;
	uint64_t pids_limit; /* UINT64_MAX: no limit */
	uint64_t oom_kills;  /* processes the OOM killer killed so far */
};

struct engine_backend;

/* Every op returns 0 or -errno with err set naming the container, unless said otherwise. */
struct engine_backend_ops {
	const char *name;
	const char *state_dir; /* its state below the store; NULL: "runtime" */
	/*
	 * Make the container from its bundle (c->dir) with its process not yet running;
	 * *ret_pid is the handle to wait for (a child of the caller), *ret_pidfd a pidfd for
	 * it when ret_pidfd is not NULL. On failure nothing is left.
	 */
	int (*create)(const struct engine_backend *b, const struct ctr *c,
		      const struct engine_io *io, pid_t *ret_pid, int *ret_pidfd,
		      struct hull_err *err);
	/* Let the created container's process run; returns once it has started. */
	int (*start)(const struct engine_backend *b, const struct ctr *c, struct hull_err *err);
	int (*kill)(const struct engine_backend *b, const struct ctr *c, int sig,
		    struct hull_err *err);
	/* Reap a handle create or exec returned: its exit code, 128+N when killed by signal
	 * N, or -errno. */
	int (*wait)(const struct engine_backend *b, pid_t pid);
	/* USER[:GROUP] (names or numbers) looked up in the running container's own files. */
	int (*user)(const struct engine_backend *b, const struct ctr *c, const char *spec,
		    struct engine_user *ret, struct hull_err *err);
	/* A new process in the running container; *ret_pid as create's. -ESRCH when the
	 * container is not running. */
	int (*exec)(const struct engine_backend *b, const struct ctr *c,
		    const struct engine_exec_req *req, pid_t *ret_pid, struct hull_err *err);
	int (*stats)(const struct engine_backend *b, const struct ctr *c, struct engine_stats *ret,
		     struct hull_err *err);
	/* The running container's processes, its init first (ctr_procs_free). */
	int (*procs)(const struct engine_backend *b, const struct ctr *c, struct ctr_proc **ret,
		     size_t *ret_n, struct hull_err *err);
	/* Processes of the container the kernel's OOM killer killed since create, readable
	 * after its init exited until remove (docker's OOMKilled). */
	int (*oom_kills)(const struct engine_backend *b, const struct ctr *c, uint64_t *ret,
			 struct hull_err *err);
	/* Forget the container's runtime state (force: kill what still runs). Absent is 0. */
	int (*remove)(const struct engine_backend *b, const struct ctr *c, bool force,
		      struct hull_err *err);
	int (*pause)(const struct engine_backend *b, const struct ctr *c, struct hull_err *err);
	int (*resume)(const struct engine_backend *b, const struct ctr *c, struct hull_err *err);
};

struct engine_backend {
	const struct engine_backend_ops *ops;
	char *state_root; /* the backend's own state: <store>/runtime for oci, <store>/vm/run
			   * for vm */
};

extern const struct engine_backend_ops engine_backend_oci;

/* USER[:GROUP] looked up in the files of the root file system open at root (ops->user of
 * every backend: the running container's root, or the VM's image root on the host). */
int engine_user_at(int root, const char *spec, struct engine_user *ret, struct hull_err *err);
extern const struct engine_backend_ops engine_backend_vm;

/* The backend that runs c (c->backend). -EPROTONOSUPPORT naming it when this hull has none
 * of that name. Release with engine_backend_close(). */
int engine_backend_open(struct image_store *s, const struct ctr *c, struct engine_backend *ret,
			struct hull_err *err);
void engine_backend_close(struct engine_backend *b);
#define cleanup_backend __attribute__((cleanup(engine_backend_close)))
