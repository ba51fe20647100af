#pragma once
/*
 * `hull create`/`run`/`start`/`stop`/`kill`/`rm` on the runtime library (src/oci/runtime.h),
 * in process: no hull-oci is spawned.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "engine/backend.h"
#include "engine/container.h"
#include "image/store.h"
#include "spec/spec.h"
#include "spec/spec-field.h"

/* One mount of config.json made from -v, --mount, --tmpfs... (engine/volume.h) */
struct run_mount {
	char *type, *src, *dst, *opts; /* opts: comma separated */
};

/* --device HOST[:CONTAINER][:PERMS], parsed by the CLI (cli/create-security.c) */
struct run_device {
	char *host, *path; /* absolute; path: where in the container */
	char perms[4];     /* a subset of "rwm" in that order */
};

/* What `hull create`/`run` was asked for. */
struct run_opts {
	const char *name;       /* NULL: generated */
	const char *image;
	char **cmd;             /* after IMAGE; NULL: the image's Cmd */
	const char *entrypoint; /* NULL: the image's; "": none */
	char **env;             /* -e and --env-file, in order: "K=V" or "K" (from the host) */
	char **volumes;         /* -v values */
	char **mount_args, **tmpfs, **volumes_from; /* --mount, --tmpfs, --volumes-from */
	struct run_mount *mounts; /* all of them resolved by the engine (volume.h) */
	size_t n_mounts;
	const char *workdir, *user, *hostname, *network;
	int64_t memory;         /* bytes, 0: none */
	int64_t memory_swap;    /* memory + swap, bytes; 0: twice memory (docker), -1: unlimited */
	double cpus;            /* 0: none */
	uint64_t cpu_shares;    /* 0: none */
	const char *cpuset_cpus; /* NULL: none */
	int64_t pids_limit;     /* 0: none */
	int64_t shm_size;       /* bytes of /dev/shm; 0: docker's 64m */
	bool read_only, privileged, interactive, tty, rm, detach, force_copy;
	char **cap_add, **cap_drop;
	/* networks (engine/network.h): -p values, -P, --ip, --dns, --dns-search, --add-host,
	 * --network-alias; netns_path is the engine's (engine_net_ns_path), for config.json */
	char **publish, **dns, **dns_search, **add_host, **aliases;
	bool publish_all;
	const char *ip, *netns_path;
	const char *mac_address; /* --mac-address (checked: aa:bb:cc:dd:ee:ff); NULL: netavark's */
	const char *binfmt_dir; /* binfmt_misc's mount (engine/arch.h); NULL: the host's */
	/* security (cli/create-security.c parses, engine/security.c applies): --security-opt
	 * seccomp= (NULL: the default profile, "unconfined", or a profile file),
	 * no-new-privileges, systempaths=unconfined; --device, --group-add (names or gids),
	 * --sysctl ("key=value", keys checked), --ulimit */
	const char *seccomp;
	bool no_new_privs, unmask_paths;
	char **security_opt_given; /* the --security-opt values as typed, in order (inspect) */
	struct run_device *devices;
	size_t n_devices;
	char **group_add, **sysctls;
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	/* lifecycle (engine/lifecycle.h): --init, --stop-signal, --stop-timeout, --label and
	 * --label-file ("KEY[=VALUE]", in order), --restart */
	bool init, has_stop_timeout;
	const char *stop_signal; /* NULL: the image's STOPSIGNAL */
	int stop_timeout;        /* seconds, -1: forever */
	char **labels;
	struct ctr_restart restart;
	/* flags that set one config.json field each (cli/create-spec.h), applied in order
	 * after everything above */
	struct spec_field_set *spec_sets;
	size_t n_spec_sets;
	/* --vm: the container runs in a microVM (engine/backend-vm.c) booting kernel (NULL:
	 * the newest /boot/vmlinuz-*-amd64) */
	bool vm;
	const char *kernel;
};

/* linux.resources.memory.swap for o (docker's and podman's rule), or 0 for none. */
int64_t run_opts_memory_swap(const struct run_opts *o);

/* docker's exit codes */
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/*
 * Create the container (record, rootfs, config.json); its status is "created".
 * On failure nothing is left. *ret_exit gets the docker exit code for the failure
 * (125, or 126/127 when the command cannot be executed or found).
 */
int engine_create(struct image_store *s, const struct run_opts *o, struct ctr **ret,
		  int *ret_exit, struct hull_err *err);

/*
 * Run a created (or exited) container in the foreground with the caller's stdio, forwarding
 * signals; returns its exit code (128+signal when killed) or -errno with err set.
 * With rm the container is removed afterwards.
 */
int engine_run_foreground(struct image_store *s, struct ctr *c, bool interactive, bool rm,
			  struct hull_err *err);

/*
 * Start a created or exited container detached: a monitor process holds its stdio, writes
 * ctr.log, records the exit status, and removes the container afterwards when rm.
 * Returns once the container runs (or failed to start).
 */
int engine_start_detached(struct image_store *s, struct ctr *c, struct hull_err *err);

/* The monitor's body (`hull __monitor ID` is not used: it runs after fork()). */
int engine_monitor(struct image_store *s, struct ctr *c, int notify_fd);

int engine_kill(struct image_store *s, struct ctr *c, int sig, struct hull_err *err);
/*
 * The stop signal (--stop-signal, the image's, or TERM), then KILL after timeout seconds
 * (ENGINE_STOP_TIMEOUT_DEFAULT: the container's --stop-timeout, or 10; < 0: wait forever).
 * Marks the container stopped by the user first: its restart policy does not restart it.
 */
#define ENGINE_STOP_TIMEOUT_DEFAULT (-1000)
int engine_stop(struct image_store *s, struct ctr *c, int timeout, struct hull_err *err);
/* Remove a container; a running one only with force (killed first). Its anonymous volumes
 * go too with volumes (rm -v) or when it was made with --rm, under ctr_names_lock (so the
 * caller must not hold it then), and not one another container uses. */
int engine_remove(struct image_store *s, struct ctr *c, bool force, struct hull_err *err);
int engine_remove_v(struct image_store *s, struct ctr *c, bool force, bool volumes,
		    struct hull_err *err);
/* Reap a process handle of c's backend (create's or exec's): its exit code or -errno. */
int engine_wait_handle(struct image_store *s, struct ctr *c, pid_t pid);
/* The running container's counters, from its backend (`hull stats`). */
int engine_stats(struct image_store *s, struct ctr *c, struct engine_stats *ret,
		 struct hull_err *err);
/* Wait until the container is no longer running (polling state.json); timeout < 0: forever.
 * Returns 0, or -ETIMEDOUT. */
int engine_wait_exit(struct ctr *c, int timeout_ms);
