#pragma once
/*
 * The typed container record of the `hull` engine and its two files under
 * <store>/containers/<id>/ (the only place that reads or writes them, and the only JSON in
 * the record's life):
 *
 *   hull.json   what was asked for (name, image, command, options): written once at create
 *   state.json  status, pids, exit code, times: replaced atomically on every change
 *
 * Both carry "Version" (CTR_RECORD_VERSION). A file without it is version 0 (hull before the
 * typed record): same fields, read with the defaults of what version 1 added (Backend "oci",
 * OOMKilled false). A version newer than ours is refused with a message naming the file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define CTR_ID_LEN 64
#define CTR_RECORD_VERSION 1

enum ctr_status {
	CTR_CREATED,
	CTR_RUNNING,
	CTR_EXITED,
	CTR_DEAD, /* a removal was interrupted, or a creation: only rm -f or prune remain */
	CTR_STATUS_COUNT,
};

/* docker's HostConfig.RestartPolicy (engine/lifecycle.h) */
enum ctr_restart_policy {
	CTR_RESTART_NO,
	CTR_RESTART_ON_FAILURE,
	CTR_RESTART_ALWAYS,
	CTR_RESTART_UNLESS_STOPPED,
	CTR_RESTART_COUNT,
};

struct ctr_restart {
	enum ctr_restart_policy policy;
	int max_retries; /* on-failure:N; 0: no limit */
};

/* docker's Config: the process as it was built at create (inspect shows it). */
struct ctr_config {
	char **cmd; /* the whole argv: entrypoint and command */
	char **env;
	char *working_dir, *hostname, *image, *user;
	char *stop_signal; /* --stop-signal, the image's STOPSIGNAL (a name signal_parse() knows)
			    * or SIGTERM */
	bool tty, open_stdin;
	bool has_stop_timeout; /* --stop-timeout given: */
	int stop_timeout;      /* seconds `hull stop` waits before KILL; -1: forever */
	char **labels;         /* "KEY=VALUE", the image's merged with --label (lifecycle.h) */
};

/* docker's HostConfig: the `hull run` flags that are not the process's. */
/* A one-field flag's value as inspect shows it (cli/create-spec.h: "OomScoreAdj", 500) */
struct ctr_field {
	char *key;
	enum { CTR_FIELD_NUM, CTR_FIELD_BOOL, CTR_FIELD_STR } type;
	int64_t num;
	char *str;
};

/* --ulimit as inspect shows it: NAME (nofile...), SOFT, HARD (-1: unlimited) */
struct ctr_ulimit {
	char *name;
	int64_t soft, hard;
};

/* --device as inspect shows it: PathOnHost, PathInContainer, CgroupPermissions */
struct ctr_device {
	char *host, *path;
	char perms[4];
};

struct ctr_host_config {
	bool auto_remove, readonly_rootfs, privileged;
	char *network_mode;
	int64_t memory, memory_swap, nano_cpus, pids_limit;
	uint64_t cpu_shares;
	char *cpuset_cpus;
	char **cap_add, **cap_drop, **binds;
	bool init;                  /* --init: catatonit is the process's PID 1 */
	struct ctr_restart restart; /* RestartPolicy, carried out by the monitor */
	/* what the security flags asked for, shown by inspect (config.json holds the effect):
	 * SecurityOpt ("seccomp=FILE|unconfined", "no-new-privileges",
	 * "systempaths=unconfined"), GroupAdd as given, Sysctls "KEY=VALUE" */
	char **security_opt, **group_add, **sysctls;
	/* SecurityOpt as typed (the --security-opt values in order, duplicates kept), what
	 * inspect shows, as docker does; hull.json's "SecurityOptGiven" beside HostConfig, whose
	 * SecurityOpt keeps the list above. A record from before it has none (has_...: false):
	 * inspect shows the list above. */
	char **security_opt_given;
	bool has_security_opt_given;
	struct ctr_ulimit *ulimits;
	size_t n_ulimits;
	struct ctr_device *devices;
	size_t n_devices;
	/* the one-field flags given (HostConfig keys; hull.json lists their keys in FieldKeys) */
	struct ctr_field *fields;
	size_t n_fields;
};

/* state.json */
struct ctr_state {
	enum ctr_status status;
	pid_t pid;         /* the init, in our pid namespace; 0 when not running */
	pid_t monitor_pid; /* the process that waits for the init and records its exit */
	/* the init's starttime in /proc/<pid>/stat (proc(5), clock ticks since boot): tells
	 * the init from a later process that got its recycled pid (--network container:X) */
	unsigned long long start_ticks;
	int exit_code;
	bool oom_killed;   /* the kernel's OOM killer killed a process of it during the last run */
	char *started_at, *finished_at; /* RFC 3339, "" when never */
	unsigned restart_count; /* restarts by the monitor since the last `hull start` */
};

struct ctr {
	char id[CTR_ID_LEN + 1];
	char *dir;        /* absolute: <store>/containers/<id>; the OCI bundle */
	bool leftover;    /* no hull.json: a creation or a removal interrupted */
	unsigned version; /* of hull.json as read */
	/* hull.json */
	char *name, *created; /* created: RFC 3339 */
	char *image;          /* the reference given to create ("busybox") */
	char *image_name;     /* the image's name in the store, or its id */
	char *image_id;       /* the config digest */
	char *path;           /* argv[0], and the rest: */
	char **args;
	char *rootfs_mode;    /* "overlay" or "copy" (engine/rootfs.h) */
	char **layers;        /* the image's diff ids, bottom first */
	char *backend;        /* engine/backend.h: "oci" */
	struct ctr_config config;
	struct ctr_host_config host;
	struct ctr_state state;
};

const char *ctr_status_name(enum ctr_status st);

/* Free what c holds and c itself; NULL and half-filled records are fine. */
void ctr_free(struct ctr *c);

/*
 * Read hull.json and state.json of the container directory dirfd into c (c->id, c->dir set
 * by the caller). A missing hull.json is -ENOENT (the caller decides whether the directory
 * is a leftover); a missing state.json reads as status "dead" (state.json goes first when a
 * container is removed). Other errors name the file and field.
 */
int ctr_record_read_at(int dirfd, struct ctr *c, struct hull_err *err);
/* Fill c as the record of a directory without hull.json (status dead, empty name). */
void ctr_record_leftover(struct ctr *c);
/* Re-read state.json only (same rules as above). */
int ctr_state_read_at(int dirfd, struct ctr *c, struct hull_err *err);

/* The Config and HostConfig objects as hull.json holds them and `inspect` shows them (new). */
struct json_t;
struct json_t *ctr_record_config_json(const struct ctr_config *cf);
struct json_t *ctr_record_host_config_json(const struct ctr_host_config *h);
/* The same as inspect shows it: SecurityOpt as typed (security_opt_given) when recorded. */
struct json_t *ctr_record_host_config_shown(const struct ctr_host_config *h);

/* Write hull.json (creation: once), or state.json (every change), atomically. */
int ctr_record_write(const struct ctr *c, struct hull_err *err);
int ctr_state_write(const struct ctr *c, struct hull_err *err);
