/* start, kill, delete, state, list: the lifecycle after create (runtime-spec runtime.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strv.h"
#include "container/cgroup.h"
#include "oci/hooks.h"
#include "oci/runtime.h"
#include "spec/spec.h"
#include "oci/state.h"

static int open_rec(const struct oci_runtime_ctx *ctx, const char *id, int *ret_dirfd,
		    struct state_rec **ret, struct hull_err *err)
{
	cleanup_close int dirfd = state_dir_open(state_root(ctx), id, err);
	int r;

	if (dirfd < 0)
		return dirfd;
	if ((r = state_read(dirfd, id, ret, err)) < 0)
		return r;
	*ret_dirfd = steal_fd(&dirfd);
	return 0;
}

static char *state_json_str(const struct state_rec *rec, enum oci_status st)
{
	json_t *o = state_to_json(rec, st);
	char *s = hjson_dump(o, 0);

	json_decref(o);
	return s;
}

static void run_hooks_warn(const struct state_rec *rec, enum oci_hook_kind kind,
			   enum oci_status st)
{
	struct oci_hook *hooks[OCI_HOOK_COUNT] = { 0 };
	size_t n[OCI_HOOK_COUNT] = { 0 };
	struct hull_err err = { 0 };

	if (!rec->hooks)
		return;
	if (spec_hooks_parse(rec->hooks, "state.json: hooks", hooks, n, &err) == 0 && n[kind]) {
		cleanup_free char *json = state_json_str(rec, st);

		/* poststart and poststop failures are warnings, and the remaining hooks still
		 * run (runtime.md "Lifecycle": "log a warning ... continue the lifecycle"). */
		for (size_t i = 0; i < n[kind]; i++)
			if (oci_hook_run(&hooks[kind][i], i, kind, json, &err) < 0)
				log_warn("%s", err.msg);
	}
	spec_hooks_free(hooks, n);
}

int oci_runtime_start(const struct oci_runtime_ctx *ctx, const char *id, struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1, fifo = -1;
	enum oci_status st;
	int r;

	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0)
		return r;
	st = state_status(dirfd, rec);
	if (st == OCI_STATUS_RUNNING)
		return hull_err_setx(err, EBUSY, "cannot start an already running container");
	if (st != OCI_STATUS_CREATED)
		return hull_err_setx(err, EINVAL, "cannot start a container that has stopped");
	/* Non-blocking open of the write side fails with ENXIO when no reader is left,
	 * i.e. the init died: no hang on a dead container. */
	fifo = openat(dirfd, EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0) {
		if (errno == ENXIO || errno == ENOENT)
			return hull_err_setx(err, ESRCH,
					     "cannot start a container that has stopped");
		return hull_err_set(err, errno, "open %s", EXEC_FIFO);
	}
	if (write(fifo, "0", 1) != 1)
		return hull_err_set(err, errno, "signal the container to start");
	(void)unlinkat(dirfd, EXEC_FIFO, 0);
	{
		/* Return once the program runs: the init holds the fifo's only read side
		 * open until its execve (close-on-exec), and a write side sees POLLERR when
		 * the last reader goes. Clients (containerd) look at the process next. */
		struct pollfd p = { .fd = fifo, .events = 0 };

		while (poll(&p, 1, 10000) < 0 && errno == EINTR)
			;
	}
	run_hooks_warn(rec, OCI_HOOK_POSTSTART, OCI_STATUS_RUNNING);
	return 0;
}

/* The init and, transitively, its children: what `ps` and `kill --all` see without cgroups. */
static size_t collect_pids(pid_t init, pid_t **ret)
{
	pid_t *pids = xmalloc(sizeof(pid_t) * 16);
	size_t n = 0, cap = 16;
	bool grew = true;
	DIR *d;

	pids[n++] = init;
	while (grew && (d = opendir("/proc"))) {
		struct dirent *de;

		grew = false;
		while ((de = readdir(d))) {
			char path[64], buf[512], *p;
			cleanup_close int fd = -1;
			pid_t pid = (pid_t)strtol(de->d_name, &p, 10), ppid;
			ssize_t len;
			bool known = false;

			if (*p || pid <= 0)
				continue;
			for (size_t i = 0; i < n; i++)
				known = known || pids[i] == pid;
			if (known)
				continue;
			(void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || (len = fd_read_all(fd, buf, sizeof(buf) - 1)) <= 0)
				continue;
			buf[len] = '\0';
			p = strrchr(buf, ')');
			if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (pids[i] != ppid)
					continue;
				if (n == cap)
					pids = xreallocarray(pids, cap *= 2, sizeof(pid_t));
				pids[n++] = pid;
				grew = true;
				break;
			}
		}
		(void)closedir(d);
	}
	*ret = pids;
	return n;
}

int oci_runtime_pids(const struct oci_runtime_ctx *ctx, const char *id, pid_t **ret,
		     size_t *ret_n, struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;
	struct cgroup_paths cg;
	int r;

	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0)
		return r;
	if (state_status(dirfd, rec) == OCI_STATUS_STOPPED) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (state_cgroup(rec, &cg, NULL) == 0) {
		/* The cgroup knows every process, also those reparented away from the init. */
		r = cgroup_procs(&cg, ret, ret_n, err);
		cgroup_paths_clear(&cg);
		if (r < 0)
			return r;
		for (size_t i = 1; i < *ret_n; i++) {
			if ((*ret)[i] == rec->pid) {
				(*ret)[i] = (*ret)[0];
				(*ret)[0] = rec->pid;
			}
		}
		if (*ret_n)
			return 0;
		free(steal_ptr(ret));
	}
	*ret_n = collect_pids(rec->pid, ret);
	return 0;
}

static int signal_init(const struct state_rec *rec, int sig, struct hull_err *err)
{
	cleanup_close int pfd = (int)syscall(SYS_pidfd_open, rec->pid, 0);
	unsigned long long start = 0;
	bool zombie = false;

	/* Check the start time after taking the pidfd: the pidfd pins the process, so a
	 * matching start time means the signal cannot reach a recycled pid. */
	if (pfd < 0 || proc_stat_read(rec->pid, &start, &zombie) < 0 || start != rec->starttime)
		return hull_err_setx(err, ESRCH, "container not running");
	if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0)
		return hull_err_set(err, errno, "kill %d", rec->pid);
	return 0;
}

int oci_runtime_kill(const struct oci_runtime_ctx *ctx, const char *id, int sig, bool all,
		     struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;
	int r;

	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0)
		return r;
	if (state_status(dirfd, rec) == OCI_STATUS_STOPPED)
		return hull_err_setx(err, ESRCH, "container not running");
	if (all) {
		struct cgroup_paths cg;

		if (state_cgroup(rec, &cg, NULL) == 0) {
			r = cgroup_kill_all(&cg, sig, err);
			cgroup_paths_clear(&cg);
			return r;
		}
	}
	if (all) {
		cleanup_free pid_t *pids = NULL;
		size_t n = collect_pids(rec->pid, &pids);

		for (size_t i = 1; i < n; i++)
			(void)kill(pids[i], sig);
	}
	return signal_init(rec, sig, err);
}

/* Wait (up to timeout_ms) for the init to exit; reaped or not does not matter. */
static bool wait_exit(const struct state_rec *rec, int dirfd, int timeout_ms)
{
	cleanup_close int pfd = (int)syscall(SYS_pidfd_open, rec->pid, 0);
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (pfd >= 0)
		(void)poll(&p, 1, timeout_ms);
	for (int i = 0; i < timeout_ms / 10 && state_status(dirfd, rec) != OCI_STATUS_STOPPED; i++)
		(void)usleep(10000);
	return state_status(dirfd, rec) == OCI_STATUS_STOPPED;
}

int oci_runtime_delete(const struct oci_runtime_ctx *ctx, const char *id, bool force,
		       struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = state_dir_open(state_root(ctx), id, err);
	struct cgroup_paths cg = { 0 };
	enum oci_status st;
	bool has_cg;
	int r;

	if (dirfd < 0)
		return dirfd;
	r = state_read(dirfd, id, &rec, err);
	if (r == -ENOENT) {
		/* A create that died before writing its state: nothing runs, just clean up. */
		hull_err_clear(err);
		return state_dir_remove(state_root(ctx), id, err);
	}
	if (r < 0)
		return r;
	st = state_status(dirfd, rec);
	if (st == OCI_STATUS_RUNNING && !force)
		return hull_err_setx(err, EBUSY,
				     "cannot delete container %s that is not stopped: %s", id,
				     state_status_name(rec, st));
	has_cg = state_cgroup(rec, &cg, NULL) == 0;
	if (st != OCI_STATUS_STOPPED) {
		cleanup_free pid_t *pids = NULL;
		size_t n = collect_pids(rec->pid, &pids);

		/* Every process of the cgroup, thawed if it was paused (runc's destroy). */
		if (has_cg)
			(void)cgroup_kill_all(&cg, SIGKILL, NULL);
		for (size_t i = n; i-- > 1;)
			(void)kill(pids[i], SIGKILL);
		(void)signal_init(rec, SIGKILL, NULL);
		if (!wait_exit(rec, dirfd, 10000)) {
			cgroup_paths_clear(&cg);
			return hull_err_setx(err, ETIMEDOUT,
					     "container %s did not exit after SIGKILL", id);
		}
	}
	run_hooks_warn(rec, OCI_HOOK_POSTSTOP, OCI_STATUS_STOPPED);
	/* Without a mount namespace the container's mounts sit in ours, under the rootfs bind
	 * create made (rootfs_prepare()): detach it with everything below. */
	if (rec->rootfs_bind && umount2(rec->rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 &&
	    errno != EINVAL && errno != ENOENT)
		log_warn("delete %s: detach the rootfs %s: %s", id, rec->rootfs, strerror(errno));
	if (has_cg) {
		r = cgroup_destroy(&cg, err);
		cgroup_paths_clear(&cg);
		if (r < 0)
			return r;
	}
	return state_dir_remove(state_root(ctx), id, err);
}

int oci_runtime_state(const struct oci_runtime_ctx *ctx, const char *id,
		      struct oci_state **ret, struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;
	struct oci_state *st;
	int r;

	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0)
		return r;
	st = xcalloc(1, sizeof(*st));
	st->status = state_status(dirfd, rec);
	if (state_is_paused(rec, st->status))
		st->status = OCI_STATUS_PAUSED;
	st->oci_version = steal_ptr(&rec->oci_version);
	st->id = steal_ptr(&rec->id);
	st->pid = st->status == OCI_STATUS_STOPPED ? 0 : rec->pid;
	st->bundle = steal_ptr(&rec->bundle);
	st->rootfs = steal_ptr(&rec->rootfs);
	st->created = steal_ptr(&rec->created);
	st->annotations_json = hjson_dump(rec->annotations, 0);
	*ret = st;
	return 0;
}

int oci_runtime_state_json(const struct oci_runtime_ctx *ctx, const char *id, char **ret_json,
			   struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;
	json_t *o;
	int r;

	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0)
		return r;
	o = state_to_json(rec, state_status(dirfd, rec));
	*ret_json = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (!*ret_json)
		abort();
	return 0;
}

void oci_state_free(struct oci_state *st)
{
	if (!st)
		return;
	free(st->oci_version);
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->annotations_json);
	free(st);
}

int oci_runtime_list(const struct oci_runtime_ctx *ctx, char ***ret_ids, struct hull_err *err)
{
	char **ids = xcalloc(1, sizeof(char *));
	struct dirent *de;
	DIR *d = opendir(state_root(ctx));

	if (!d) {
		if (errno == ENOENT) {
			*ret_ids = ids;
			return 0;
		}
		strv_free(ids);
		return hull_err_set(err, errno, "open %s", state_root(ctx));
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && de->d_type == DT_DIR)
			strv_push(&ids, de->d_name);
	(void)closedir(d);
	*ret_ids = ids;
	return 0;
}

/* The cgroup of a container that is not stopped. */
static int live_cgroup(const struct oci_runtime_ctx *ctx, const char *id, const char *what,
		       struct cgroup_paths *ret, struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;
	int r;

	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0)
		return r;
	if (state_status(dirfd, rec) == OCI_STATUS_STOPPED)
		return hull_err_setx(err, ESRCH, "cannot %s container %s: it is stopped", what, id);
	if ((r = state_cgroup(rec, ret, err)) < 0)
		return r;
	return 0;
}

int oci_runtime_update(const struct oci_runtime_ctx *ctx, const char *id,
		       const char *resources_json, const char *where, struct hull_err *err)
{
	struct oci_resources parsed = { 0 };
	struct cgroup_paths cg;
	json_t *res = NULL;
	int r;

	if ((r = hjson_load_buf(resources_json, strlen(resources_json), where, &res, err)) < 0)
		return r;
	if ((r = live_cgroup(ctx, id, "update", &cg, err)) == 0) {
		if ((r = spec_resources_parse(res, where, &parsed, err)) == 0)
			r = cgroup_update(&cg, &parsed, where, err);
		spec_resources_clear(&parsed);
		cgroup_paths_clear(&cg);
	}
	json_decref(res);
	return r;
}

static int set_frozen(const struct oci_runtime_ctx *ctx, const char *id, bool freeze,
		      struct hull_err *err)
{
	struct cgroup_paths cg;
	int r;

	if ((r = live_cgroup(ctx, id, freeze ? "pause" : "resume", &cg, err)) < 0)
		return r;
	if (!freeze && !cgroup_is_frozen(&cg))
		r = hull_err_setx(err, EINVAL, "container %s is not paused", id);
	else if (freeze && cgroup_is_frozen(&cg))
		r = hull_err_setx(err, EINVAL, "container %s is already paused", id);
	else
		r = cgroup_freeze(&cg, freeze, err);
	cgroup_paths_clear(&cg);
	return r;
}

int oci_runtime_pause(const struct oci_runtime_ctx *ctx, const char *id, struct hull_err *err)
{
	return set_frozen(ctx, id, true, err);
}

int oci_runtime_resume(const struct oci_runtime_ctx *ctx, const char *id, struct hull_err *err)
{
	return set_frozen(ctx, id, false, err);
}

bool oci_runtime_is_paused(const struct oci_runtime_ctx *ctx, const char *id)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;

	if (open_rec(ctx, id, &dirfd, &rec, NULL) < 0)
		return false;
	return state_is_paused(rec, state_status(dirfd, rec));
}

int oci_runtime_stats(const struct oci_runtime_ctx *ctx, const char *id, char **ret_json,
		      uint64_t *ret_oom_kills, struct hull_err *err)
{
	struct cgroup_paths cg;
	json_t *data = NULL;
	int r;

	if ((r = live_cgroup(ctx, id, "get stats of", &cg, err)) < 0)
		return r;
	if ((r = cgroup_stats(&cg, &data, err)) == 0) {
		json_t *ev = json_pack("{s:s,s:s,s:o}", "type", "stats", "id", id, "data", data);

		*ret_json = hjson_dump(ev, JSON_COMPACT);
		json_decref(ev);
		if (ret_oom_kills)
			(void)cgroup_oom_kills(&cg, ret_oom_kills);
	}
	cgroup_paths_clear(&cg);
	return r;
}

int oci_runtime_oom_kills(const struct oci_runtime_ctx *ctx, const char *id, uint64_t *ret,
			  struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_close int dirfd = -1;
	struct cgroup_paths cg;
	int r;

	*ret = 0;
	if ((r = open_rec(ctx, id, &dirfd, &rec, err)) < 0 || (r = state_cgroup(rec, &cg, err)) < 0)
		return r;
	r = cgroup_oom_kills(&cg, ret);
	cgroup_paths_clear(&cg);
	if (r < 0)
		return hull_err_set(err, -r, "container %s: the memory cgroup's OOM count", id);
	return 0;
}
