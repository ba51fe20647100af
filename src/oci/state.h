#pragma once
/*
 * The persisted state of one container: <root>/<id>/state.json (written atomically) and
 * <root>/<id>/exec.fifo (present from create until start). Internal to src/oci.
 */
#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "oci/runtime.h"

#define STATE_FILE "state.json"
#define EXEC_FIFO "exec.fifo"

struct state_rec {
	char *oci_version;
	char *id;
	char *bundle;
	char *rootfs;
	char *created;
	pid_t pid;
	unsigned long long starttime; /* of pid, from /proc/<pid>/stat: guards against reuse */
	json_t *annotations;          /* object */
	json_t *hooks;                /* the config's hooks object, or NULL */
	json_t *cgroup;               /* cgroup_paths_to_json() of the container, or NULL */
	bool rootfs_bind; /* no mount namespace: the rootfs bind in the runtime's, for delete */
};

void state_rec_free(struct state_rec *rec);
DEFINE_CLEANUP_FUNC(struct state_rec, state_rec_free)
#define cleanup_state_rec __attribute__((cleanup(state_rec_free_cleanup)))

const char *state_root(const struct oci_runtime_ctx *ctx);

/* mkdir <root> (0700, parents) and <root>/<id>; EEXIST means the id is taken. Returns a dirfd. */
int state_dir_create(const char *root, const char *id, struct hull_err *err);
/* O_PATH dirfd of <root>/<id>, or an error naming the container when it does not exist. */
int state_dir_open(const char *root, const char *id, struct hull_err *err);
int state_dir_remove(const char *root, const char *id, struct hull_err *err);

int state_write(int dirfd, const struct state_rec *rec, struct hull_err *err);
int state_read(int dirfd, const char *id, struct state_rec **ret, struct hull_err *err);

/* stopped when the pid is gone, a zombie or reused; created while exec.fifo exists. */
enum oci_status state_status(int dirfd, const struct state_rec *rec);

/* Field 22 of /proc/<pid>/stat; 0 on success. *ret_zombie when the state is Z or X. */
int proc_stat_read(pid_t pid, unsigned long long *ret_starttime, bool *ret_zombie);

/* The OCI state document (runtime-spec "State") for rec with the given status. */
json_t *state_to_json(const struct state_rec *rec, enum oci_status status);

/*
 * The container's cgroup as recorded at create time. Returns 0 with *ret filled in (free
 * with cgroup_paths_clear()), or -ENOENT when none was recorded (an older state file).
 */
struct cgroup_paths;
int state_cgroup(const struct state_rec *rec, struct cgroup_paths *ret, struct hull_err *err);
/* True when the container is running or created and its cgroup is frozen (runc "paused"). */
bool state_is_paused(const struct state_rec *rec, enum oci_status status);
/* oci_status_name(), with "paused" for a frozen container. */
const char *state_status_name(const struct state_rec *rec, enum oci_status status);
