#pragma once
/*
 * The OCI runtime-spec config.json as C structs (the model: src/spec/, above common only),
 * parsed and validated in one pass (runtime-spec config.md and config-linux.md, version
 * 1.x), and written back by one writer (spec-write.c) for everything that makes a config.
 *
 * Every error names the file and the field, e.g.
 *   config.json: linux.namespaces[2].type: unknown namespace type "foo"
 * Every list has an upper bound (OCI_MAX_*), so a hostile config cannot make us allocate
 * without limit.
 *
 * The structs are plain data: src/container/ reads them to set up the container (the types
 * live here because config.json defines them; container/ uses no function from oci/).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/error.h"

/* linux.resources and linux.seccomp: typed (spec-resources.h). */
#include "spec/spec-resources.h"

#define OCI_CONFIG_MAX_SIZE (4U << 20)
#define OCI_MAX_ARGS 4096
#define OCI_MAX_ENV 4096
#define OCI_MAX_MOUNTS 1024
#define OCI_MAX_MOUNT_OPTIONS 64
#define OCI_MAX_HOOKS 64
#define OCI_MAX_IDMAPS 340 /* the kernel's limit for uid_map lines */
#define OCI_MAX_DEVICES 1024
#define OCI_MAX_PATHS 1024 /* maskedPaths, readonlyPaths */
#define OCI_MAX_SYSCTL 1024
#define OCI_MAX_GIDS 65536
#define OCI_MAX_RLIMITS 32

enum oci_ns_kind {
	OCI_NS_USER, /* first: it must be joined before the others */
	OCI_NS_MOUNT,
	OCI_NS_PID,
	OCI_NS_NET,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_CGROUP,
	OCI_NS_TIME,
	OCI_NS_COUNT,
};

struct oci_namespace {
	bool present;
	char *path; /* NULL: create a new one; else join this one (setns) */
};

struct oci_idmap {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct oci_mount {
	char *destination;   /* absolute inside the container */
	char *type;          /* NULL for bind mounts without a type */
	char *source;        /* for bind mounts: absolute on the host (bundle-relative resolved) */
	unsigned long flags; /* MS_* from the options */
	unsigned long clear_flags; /* MS_* named by a clearing option ("rw", "suid", ...) */
	unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE [| MS_REC] */
	uint64_t attr_set;   /* MOUNT_ATTR_* to set (bind mounts are changed with mount_setattr) */
	uint64_t attr_clr;
	bool bind;           /* "bind" or "rbind" option, or type "bind" */
	bool recursive;      /* "rbind" */
	bool tmpcopyup;
	char *data;          /* unrecognised options joined with ',' for the filesystem */
	/* A new user namespace: the source, opened (open_tree) by the runtime before the
	 * clone, so that a source container root cannot reach is still bound. */
	bool has_src_fd;
	int src_fd;
	/* Idmapped ("idmap"/"ridmap" options, or uidMappings/gidMappings on the mount): with
	 * these mappings, or the container's user namespace when none are given. */
	bool idmap;
	bool idmap_recursive;
	struct oci_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
};

struct oci_device {
	char *path;
	char type; /* 'c', 'b', 'p' ('u' is stored as 'c') */
	int64_t major, minor;
	uint32_t mode;
	bool has_mode;
	uint32_t uid, gid;
	bool has_uid, has_gid;
};

struct oci_rlimit {
	int resource;
	const char *name; /* "RLIMIT_NOFILE": static */
	uint64_t soft, hard;
};

struct oci_sysctl {
	char *key;
	char *value;
};

enum oci_hook_kind {
	OCI_HOOK_PRESTART,
	OCI_HOOK_CREATE_RUNTIME,
	OCI_HOOK_CREATE_CONTAINER,
	OCI_HOOK_START_CONTAINER,
	OCI_HOOK_POSTSTART,
	OCI_HOOK_POSTSTOP,
	OCI_HOOK_COUNT,
};

struct oci_hook {
	char *path;
	char **args; /* NULL-terminated; NULL means { path } */
	char **env;
	int timeout; /* seconds; 0 means none */
};

enum oci_cap_set {
	OCI_CAP_BOUNDING,
	OCI_CAP_EFFECTIVE,
	OCI_CAP_INHERITABLE,
	OCI_CAP_PERMITTED,
	OCI_CAP_AMBIENT,
	OCI_CAP_COUNT,
};

/* process.scheduler (runtime-spec 1.2 config.md "Scheduler"): sched_setattr(2). */
struct oci_scheduler {
	uint32_t policy; /* SCHED_* */
	int32_t nice;
	uint32_t priority;
	uint64_t flags; /* SCHED_FLAG_* */
	uint64_t runtime, deadline, period; /* SCHED_DEADLINE, nanoseconds */
};

struct oci_process {
	bool terminal;
	unsigned console_height, console_width;
	uint32_t uid, gid;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	bool has_umask;
	uint32_t umask;
	char **args;
	char **env;
	char *cwd;
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	bool has_caps;
	uint64_t caps[OCI_CAP_COUNT]; /* bit n = capability n */
	char *apparmor_profile;
	char *selinux_label;
	bool has_scheduler;
	struct oci_scheduler scheduler;
	bool has_io_priority;
	int io_priority; /* IOPRIO_PRIO_VALUE(class, level), for ioprio_set(2) */
};

#define OCI_MAX_NUMA_NODES 1024

/* linux.memoryPolicy (runtime-spec 1.2 config-linux.md): set_mempolicy(2). */
struct oci_mempolicy {
	int mode;           /* MPOL_* */
	unsigned int flags; /* MPOL_F_* */
	unsigned long nodes[OCI_MAX_NUMA_NODES / (8 * sizeof(unsigned long))];
	unsigned int max_node; /* highest node given + 1; 0 for none */
};

struct oci_spec {
	char *oci_version;
	char *bundle;        /* absolute path of the bundle directory */
	char *root_path;     /* absolute: resolved against the bundle */
	bool root_readonly;
	char *hostname;
	char *domainname;
	bool has_process;
	struct oci_process process;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_hook *hooks[OCI_HOOK_COUNT];
	size_t n_hooks[OCI_HOOK_COUNT];
	json_t *hooks_json;  /* the "hooks" object as given (kept for poststop at delete) */
	json_t *annotations; /* object; never NULL after a successful parse */

	/* linux */
	struct oci_namespace ns[OCI_NS_COUNT];
	struct oci_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct oci_device *devices;
	size_t n_devices;
	struct oci_sysctl *sysctl;
	size_t n_sysctl;
	char **masked_paths;
	char **readonly_paths;
	unsigned long rootfs_propagation; /* 0: the default (MS_REC|MS_SLAVE) */
	char *mount_label;
	char *cgroups_path;
	bool has_resources;
	struct oci_resources resources; /* linux.resources, validated */
	struct oci_seccomp *seccomp;    /* linux.seccomp, validated; NULL when absent */
	bool has_personality;
	unsigned long personality; /* PER_LINUX or PER_LINUX32, | the flags */
	bool has_mempolicy;
	struct oci_mempolicy mempolicy;
	bool has_time_offsets;
	int64_t time_offsets[2][2]; /* [monotonic, boottime][secs, nanosecs] */

	json_t *json; /* the whole document (owned) */
};

/*
 * Parse and validate bundle/config.json. bundle may be relative; it is made absolute.
 * The root filesystem must exist and be a directory. *ret is owned by the caller.
 */
int spec_load(const char *bundle, struct oci_spec **ret, struct hull_err *err);

/*
 * Parse a config document held in memory. name is used in messages ("config.json"); bundle
 * (absolute) resolves relative paths. The rootfs is not checked for existence.
 */
int spec_parse(const char *buf, size_t len, const char *name, const char *bundle,
		   struct oci_spec **ret, struct hull_err *err);

void spec_free(struct oci_spec *spec);

/*
 * Parse one runtime-spec "process" object (config.json's, or `exec --process FILE`); w names
 * it in messages ("config.json: process"). On error p may be half-filled: spec_process_clear.
 */
int spec_process_parse(json_t *proc, const char *w, struct oci_process *p, struct hull_err *err);
/* Free what p holds and zero it. */
void spec_process_clear(struct oci_process *p);
DEFINE_CLEANUP_FUNC(struct oci_spec, spec_free)
#define cleanup_oci_spec __attribute__((cleanup(spec_free_cleanup)))

/* The runtime-spec version hull writes. */
#define OCI_SPEC_VERSION "1.1.0"

/*
 * The writer (spec-write.c): s as a config.json document (new reference); spec_dump as
 * text (heap); spec_write_at writes dirfd/name atomically (temp name, rename). What it
 * writes parses back into an equal struct. A NULL root_path is written as "rootfs".
 */
json_t *spec_to_json(const struct oci_spec *s);
char *spec_dump(const struct oci_spec *s);
int spec_write_at(int dirfd, const char *name, const struct oci_spec *s,
		      struct hull_err *err);
/* One "process" object (config.json's, or for `exec --process`). */
json_t *spec_process_to_json(const struct oci_process *p);

/*
 * The defaults (spec-defaults.c): one list for the engine and `hull-oci spec`, docker's where
 * docker and runc differ (docs/runtime.md "Defaults").
 */
#define OCI_DEFAULT_SHM_SIZE (64LL << 20) /* docker's /dev/shm */
struct oci_defaults {
	bool net_ns;      /* a new network namespace */
	bool cgroup_ns;   /* a new cgroup namespace */
	bool privileged;  /* no maskedPaths, no readonlyPaths; /sys and its cgroups rw */
	int64_t shm_size; /* bytes of /dev/shm; 0: OCI_DEFAULT_SHM_SIZE */
};
extern const char *const spec_default_caps[]; /* NULL-terminated */
/*
 * A new config: version, root "rootfs", a process (cwd /, PATH, the default capabilities as
 * bounding, effective and permitted; no args yet), the default mounts, the pid, ipc, uts and
 * mount namespaces (network and cgroup as d says), masked and readonly paths.
 */
struct oci_spec *spec_new_default(const struct oci_defaults *d);
/* Append a mount; opts is mount(8)'s comma list ("rbind,ro"); type "bind" for a bind mount. */
void spec_add_mount(struct oci_spec *s, const char *dst, const char *type, const char *src,
			const char *opts);
/* The capability bits of a NULL-terminated list of names (unknown names are skipped). */
uint64_t spec_caps_from_names(const char *const *names);

/* Names, for messages: "mount", "prestart", ... */
const char *spec_ns_name(enum oci_ns_kind kind);
int spec_ns_clone_flag(enum oci_ns_kind kind);
/*
 * The namespace a linux.sysctl key ("net.ipv4.ip_forward" or "net/ipv4/ip_forward") lives in:
 * OCI_NS_IPC, OCI_NS_NET or OCI_NS_UTS, the lists runc and crun accept; OCI_NS_COUNT for a
 * key that is not namespaced (writing it changes the host whatever the container).
 */
enum oci_ns_kind spec_sysctl_ns(const char *key);
const char *spec_hook_name(enum oci_hook_kind kind);

/* Parse a hooks object (as in config.json) into out; used for poststop at delete time. */
int spec_hooks_parse(json_t *hooks, const char *where, struct oci_hook *out[OCI_HOOK_COUNT],
		    size_t n_out[OCI_HOOK_COUNT], struct hull_err *err);
void spec_hooks_free(struct oci_hook *hooks[OCI_HOOK_COUNT], size_t n[OCI_HOOK_COUNT]);

/* Capability name ("CAP_SYS_ADMIN") to number, or -1. */
int spec_cap_from_name(const char *name);
/* Capability number to name, or NULL. */
const char *spec_cap_name(int cap);
/* The highest capability number this build knows. */
int spec_cap_last(void);

/*
 * The kernel's rules for an id mapping list, checked up front so that the error names the
 * field: at most OCI_MAX_IDMAPS ranges, none empty or past 2^32, and no two overlapping on
 * either side. where names the list ("config.json: mounts[2].uidMappings").
 */
int spec_idmap_check(const struct oci_idmap *m, size_t n, const char *where, struct hull_err *err);

/* Mount options (runtime-spec "Mounts", mount(8)) into m; unknown ones go to m->data. */
int spec_mount_options_parse(struct oci_mount *m, char *const *options, const char *where,
			    struct hull_err *err);
