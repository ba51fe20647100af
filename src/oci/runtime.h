#pragma once
/*
 * hull's OCI runtime as a library: what `hull-oci` does, callable in process (the `hull`
 * engine uses this instead of spawning hull-oci).
 *
 * Lifecycle (OCI runtime-spec "Lifecycle"): oci_runtime_create() sets everything up and
 * leaves the container's init blocked just before execve() until oci_runtime_start();
 * states go creating -> created -> running -> stopped. State lives under
 * <ctx->root>/<id>/ (state.json, written atomically, and the exec fifo).
 *
 * Reaping: the container's init is a child of the process that called oci_runtime_create().
 * That process must reap it: waitpid(*ret_pid) or poll the pidfd from ret_pidfd and then
 * waitpid(), or oci_runtime_wait(). If the caller exits, the init is reparented to the
 * nearest subreaper (conmon, containerd-shim) or to pid 1.
 *
 * Threads: create clone()s the calling process; the child allocates memory before exec.
 * Call it from a single-threaded process, or from one whose other threads hold no malloc
 * or stdio locks (e.g. right after fork()). A config with a time namespace needs a
 * single-threaded caller (setns(2) of a time namespace refuses threaded processes).
 *
 * oci_runtime_start() returns once the container's process has exec'd (the init's copy of
 * the exec fifo closes on exec), so a caller can look at /proc/<pid> right away.
 *
 * Errors: every function returns 0 on success or a negative errno with err set to one line
 * ("config.json: linux.namespaces[2].type: unknown namespace type \"foo\"").
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/error.h"

#define OCI_RUNTIME_DEFAULT_ROOT "/run/hull-oci"
/* Longest container id accepted: one path component (NAME_MAX). */
#define OCI_ID_MAX 255

struct oci_runtime_ctx {
	const char *root;      /* state root; NULL means OCI_RUNTIME_DEFAULT_ROOT */
	bool systemd_cgroup;   /* the systemd cgroup driver: refused until supported */
};

struct oci_create_opts {
	const char *pid_file;       /* written atomically with the init's pid; NULL: none */
	const char *console_socket; /* AF_UNIX path that receives the pty master (terminal) */
	bool no_pivot;              /* chroot instead of pivot_root (e.g. on a ramfs root) */
	bool no_new_keyring;        /* keep the caller's session keyring */
	unsigned preserve_fds;      /* pass fds 3 .. 3+N-1 into the container */
	/*
	 * fds the container gets as 0, 1, 2; -1 keeps the caller's own. The caller keeps
	 * ownership of these fds (they are dup'ed in the child).
	 */
	int stdio[3];
};

enum oci_status {
	OCI_STATUS_CREATING,
	OCI_STATUS_CREATED,
	OCI_STATUS_RUNNING,
	OCI_STATUS_STOPPED,
	OCI_STATUS_PAUSED, /* running or created, with its cgroup frozen (oci_runtime_state only) */
	OCI_STATUS_COUNT,
};

/* The OCI state of one container (runtime-spec "State"). Free with oci_state_free(). */
struct oci_state {
	char *oci_version;
	char *id;
	enum oci_status status;
	pid_t pid;            /* 0 once stopped */
	char *bundle;         /* absolute */
	char *rootfs;         /* absolute */
	char *created;        /* RFC 3339, UTC */
	char *annotations_json; /* the config's annotations object, "{}" if none */
};

/* Fill opts with the defaults (stdio all -1, everything else off). */
void oci_create_opts_init(struct oci_create_opts *opts);

/*
 * Create container id from the bundle directory (config.json inside it). On success the
 * init is blocked before exec, the state is "created", *ret_pid is its pid (in the caller's
 * pid namespace) and, when ret_pidfd is not NULL, *ret_pidfd a pidfd for it (O_CLOEXEC;
 * the caller owns it). On failure nothing is left behind: no state directory, no process.
 */
int oci_runtime_create(const struct oci_runtime_ctx *ctx, const char *id, const char *bundle,
		       const struct oci_create_opts *opts, pid_t *ret_pid, int *ret_pidfd,
		       struct hull_err *err);

/* Let a created container exec its process; runs the poststart hooks. */
int oci_runtime_start(const struct oci_runtime_ctx *ctx, const char *id, struct hull_err *err);

/* Send sig to the init (all == true: to every process of the container). */
int oci_runtime_kill(const struct oci_runtime_ctx *ctx, const char *id, int sig, bool all,
		     struct hull_err *err);

/*
 * Delete a stopped (or created) container: poststop hooks, then the state directory.
 * A running container is refused unless force, which SIGKILLs it and waits for its exit.
 */
int oci_runtime_delete(const struct oci_runtime_ctx *ctx, const char *id, bool force,
		       struct hull_err *err);

/* Read the current state; *ret is allocated and owned by the caller. */
int oci_runtime_state(const struct oci_runtime_ctx *ctx, const char *id,
		      struct oci_state **ret, struct hull_err *err);

/* The OCI state document, pretty-printed (what `hull-oci state` prints); heap string. */
int oci_runtime_state_json(const struct oci_runtime_ctx *ctx, const char *id, char **ret_json,
			   struct hull_err *err);

/*
 * Pids (host view) of the container's processes: its init first. *ret is a heap array (may
 * be NULL when *ret_n is 0). Empty when the container is stopped.
 */
int oci_runtime_pids(const struct oci_runtime_ctx *ctx, const char *id, pid_t **ret,
		     size_t *ret_n, struct hull_err *err);

/*
 * Ids of every container under the root, as a NULL-terminated vector (strv_free());
 * an absent root gives an empty vector.
 */
int oci_runtime_list(const struct oci_runtime_ctx *ctx, char ***ret_ids, struct hull_err *err);

/*
 * Reap the init the caller created (waitpid, retried on EINTR) and turn its wait status
 * into a shell-style exit code: the exit status, or 128+signal when killed.
 * Returns the code (>= 0) or -errno.
 */
int oci_runtime_wait(pid_t pid);

/*
 * exec: a new process in a running (or created) container (runc's `exec`). The process is
 * config.json's process (of the bundle in the state) with these overrides, or, with
 * process_file / process_json, that runtime-spec "process" object as is.
 */
struct oci_exec_opts {
	const char *process_file; /* --process: a process.json; the fields below are ignored */
	const char *process_json; /* the same, held in memory (the engine's in-process use) */
	char **args;              /* NULL-terminated; required without a process file */
	char **env;               /* K=V, added to (or replacing in) the config's env */
	const char *cwd;          /* NULL: the config's */
	bool has_user;
	uint32_t uid, gid;        /* has_user: process.user.uid/gid */
	const uint32_t *additional_gids; /* replace the config's when n_additional_gids > 0 */
	size_t n_additional_gids;
	char **caps;              /* capability names added to bounding/effective/permitted/ambient */
	bool no_new_privs;        /* force noNewPrivileges on */
	const char *apparmor;     /* accepted; this build applies no LSM profile */
	const char *process_label;
	bool tty;                 /* process.terminal */
	const char *console_socket; /* AF_UNIX path that receives the pty master */
	const char *pid_file;     /* written atomically with the new process's pid */
	unsigned preserve_fds;    /* pass fds 3 .. 3+N-1 into the process */
	int stdio[3];             /* as in oci_create_opts: -1 keeps the caller's own */
	char **cgroups;           /* --cgroup: "PATH" or "CTRL[,CTRL]:PATH" under the container's */
};

/* Fill opts with the defaults (stdio all -1, everything else off). */
void oci_exec_opts_init(struct oci_exec_opts *opts);

/*
 * Start the process in container id: it joins the cgroups and every namespace of the
 * container's init (pidfd setns), its root and cwd, then gets the rlimits, user, groups,
 * capabilities, no_new_privs and seccomp filter, and execs. Returns once it has exec'd:
 * *ret_pid (the caller's pid namespace view; a child of the caller, which must reap it,
 * e.g. with oci_runtime_wait()) and, when ret_pidfd is not NULL, a pidfd for it (O_CLOEXEC).
 * A stopped or paused container, or a failure before the exec (args[0] not found, a bad
 * cwd), is an error with nothing left running. Same threading rules as create.
 */
int oci_runtime_exec(const struct oci_runtime_ctx *ctx, const char *id,
		     const struct oci_exec_opts *opts, pid_t *ret_pid, int *ret_pidfd,
		     struct hull_err *err);

/*
 * cgroup commands (runc's update, pause, resume, events). The container must be created,
 * running or paused; a stopped one is an error naming it.
 *
 * update: resources_json is a linux.resources object (runc's `update --resources` file, or
 * the object built from update's flags); where names it in messages. Every value is checked
 * before any is written; on a failed write the old values are restored and the error names
 * the field.
 */
int oci_runtime_update(const struct oci_runtime_ctx *ctx, const char *id,
		       const char *resources_json, const char *where, struct hull_err *err);
/* Freeze / thaw every process of the container (its cgroup's freezer). */
int oci_runtime_pause(const struct oci_runtime_ctx *ctx, const char *id, struct hull_err *err);
int oci_runtime_resume(const struct oci_runtime_ctx *ctx, const char *id, struct hull_err *err);
/* True when the container's cgroup is frozen (state/list show "paused"). */
bool oci_runtime_is_paused(const struct oci_runtime_ctx *ctx, const char *id);
/*
 * One runc "stats" event as a heap JSON string ({"type":"stats","id":..,"data":{"cpu":..,
 * "memory":..,"pids":..,"blkio":..,"hugetlb":..}}), and the count of OOM kills so far in
 * *ret_oom_kills (may be NULL). A stopped container is -ESRCH.
 */
int oci_runtime_stats(const struct oci_runtime_ctx *ctx, const char *id, char **ret_json,
		      uint64_t *ret_oom_kills, struct hull_err *err);
/*
 * The OOM killer's kills in the container's cgroup since create, running or stopped (its
 * cgroup lasts until delete): v2 memory.events oom_kill, v1 memory.oom_control oom_kill.
 * -ENOENT when it has no memory cgroup.
 */
int oci_runtime_oom_kills(const struct oci_runtime_ctx *ctx, const char *id, uint64_t *ret,
			  struct hull_err *err);

void oci_state_free(struct oci_state *st);
DEFINE_CLEANUP_FUNC(struct oci_state, oci_state_free)
#define cleanup_oci_state __attribute__((cleanup(oci_state_free_cleanup)))

const char *oci_status_name(enum oci_status status);

/* A default config.json (what `hull-oci spec` writes); rootless adds a user namespace. */
char *oci_default_spec(bool rootless);
/* The runtime-spec features document (features.md) for this build. */
char *oci_features_json(void);

/* 0 if id is a valid container id (1..OCI_ID_MAX of [A-Za-z0-9_+.-], not "." or ".."). */
int oci_id_validate(const char *id, struct hull_err *err);
