/*
 * The OCI backend: hull's runtime library (src/oci/runtime.h) in process, with its state
 * under <store>/runtime and the container directory as the bundle. Counters come from the
 * runtime's cgroup code (oci_runtime_stats(): the cgroup recorded at create), exec joins
 * that recorded cgroup too (src/oci/exec.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "oci/runtime.h"

DEFINE_CLEANUP_FUNC(json_t, json_decref)
#define cleanup_json __attribute__((cleanup(json_decref_cleanup)))

#define CTX(b) { .root = (b)->state_root }

static int oci_create(const struct engine_backend *b, const struct ctr *c,
		      const struct engine_io *io, pid_t *ret_pid, int *ret_pidfd,
		      struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);
	struct oci_create_opts opts;
	struct hull_err e2;

	/* a previous run of this container may have left its runtime state */
	(void)oci_runtime_delete(&ctx, c->id, true, &e2);
	oci_create_opts_init(&opts);
	memcpy(opts.stdio, io->stdio, sizeof(opts.stdio));
	opts.console_socket = io->console_socket;
	return oci_runtime_create(&ctx, c->id, c->dir, &opts, ret_pid, ret_pidfd, err);
}

static int oci_start(const struct engine_backend *b, const struct ctr *c, struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);

	return oci_runtime_start(&ctx, c->id, err);
}

static int oci_kill(const struct engine_backend *b, const struct ctr *c, int sig,
		    struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);

	return oci_runtime_kill(&ctx, c->id, sig, false, err);
}

static int oci_wait(const struct engine_backend *b, pid_t pid)
{
	(void)b;
	return oci_runtime_wait(pid);
}

static int oci_remove(const struct engine_backend *b, const struct ctr *c, bool force,
		      struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);
	int r = oci_runtime_delete(&ctx, c->id, force, err);

	if (r == -ENOENT) {
		hull_err_clear(err);
		return 0;
	}
	return r;
}

static int oci_pause(const struct engine_backend *b, const struct ctr *c, struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);

	return oci_runtime_pause(&ctx, c->id, err);
}

static int oci_resume(const struct engine_backend *b, const struct ctr *c, struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);

	return oci_runtime_resume(&ctx, c->id, err);
}

/*
 * -u USER[:GROUP], resolved in the container's own /etc/passwd and /etc/group (through its
 * init's root, volumes included). The groups replace the container's: the user's
 * supplementary groups, or just its primary group.
 */
static int oci_user(const struct engine_backend *b, const struct ctr *c, const char *spec,
		    struct engine_user *ret, struct hull_err *err)
{
	cleanup_json json_t *user = NULL;
	cleanup_free char *home = NULL;
	cleanup_close int root = -1;
	char path[64];
	json_t *gids, *g;
	size_t i;
	int r;

	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)c->state.pid);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return hull_err_set(err, errno, "%s", path);
	r = ctr_user_resolve(spec, root, &user, &home, err);
	if (r < 0)
		return r;
	ret->uid = (uint32_t)json_integer_value(json_object_get(user, "uid"));
	ret->gid = (uint32_t)json_integer_value(json_object_get(user, "gid"));
	gids = json_object_get(user, "additionalGids");
	ret->gids = xcalloc(json_array_size(gids) + 1, sizeof(*ret->gids));
	json_array_foreach(gids, i, g)
		ret->gids[i] = (uint32_t)json_integer_value(g);
	ret->n_gids = json_array_size(gids);
	if (ret->n_gids == 0)
		ret->gids[ret->n_gids++] = ret->gid;
	return 0;
}

static int oci_exec(const struct engine_backend *b, const struct ctr *c,
		    const struct engine_exec_req *req, pid_t *ret_pid, struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);
	struct oci_exec_opts opts;

	oci_exec_opts_init(&opts);
	opts.args = req->args;
	opts.env = req->env;
	opts.cwd = req->cwd;
	memcpy(opts.stdio, req->io.stdio, sizeof(opts.stdio));
	opts.tty = req->io.console_socket != NULL;
	opts.console_socket = req->io.console_socket;
	if (req->user) {
		opts.has_user = true;
		opts.uid = req->user->uid;
		opts.gid = req->user->gid;
		opts.additional_gids = req->user->gids;
		opts.n_additional_gids = req->user->n_gids;
	}
	return oci_runtime_exec(&ctx, c->id, &opts, ret_pid, NULL, err);
}

/* A number of runc's stats event, or 0 with *has false when absent. */
static uint64_t event_u64(json_t *o, const char *key, bool *has)
{
	json_t *v = json_object_get(o, key);

	if (has)
		*has = json_is_integer(v);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
								  : 0;
}

/* runc's "no limit": v1's largest page-aligned long, v2's "max" (capped at INT64_MAX) */
static uint64_t limit_or_max(uint64_t v, bool has)
{
	return !has || v >= (uint64_t)INT64_MAX - 4096 * 2 ? UINT64_MAX : v;
}

static void stats_from_event(json_t *data, struct engine_stats *ret)
{
	json_t *mem = json_object_get(data, "memory"), *usage = json_object_get(mem, "usage");
	json_t *raw = json_object_get(mem, "raw");
	json_t *cpu = json_object_get(json_object_get(data, "cpu"), "usage");
	json_t *pids = json_object_get(data, "pids");
	uint64_t inactive, limit;
	bool has_limit = false, has_v1 = false;

	/* docker's usage: without the inactive page cache, which the kernel drops first */
	ret->mem_usage = event_u64(usage, "usage", NULL);
	limit = event_u64(usage, "limit", &has_limit);
	ret->mem_limit = limit_or_max(limit, has_limit);
	ret->has_mem = has_limit;
	inactive = event_u64(raw, "total_inactive_file", &has_v1);
	if (!has_v1)
		inactive = event_u64(raw, "inactive_file", NULL);
	if (inactive < ret->mem_usage)
		ret->mem_usage -= inactive;
	ret->cpu_ns = event_u64(cpu, "total", &ret->has_cpu);
	ret->pids = event_u64(pids, "current", &ret->has_pids);
	limit = event_u64(pids, "limit", &has_limit);
	ret->pids_limit = limit_or_max(limit, has_limit);
}

static int oci_stats(const struct engine_backend *b, const struct ctr *c,
		     struct engine_stats *ret, struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);
	cleanup_free char *event = NULL;
	cleanup_json json_t *ev = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = oci_runtime_stats(&ctx, c->id, &event, &ret->oom_kills, err);
	if (r == 0)
		r = hjson_load_buf(event, strlen(event), "stats", &ev, err);
	if (r < 0)
		return r;
	stats_from_event(json_object_get(ev, "data"), ret);
	return 0;
}

const struct engine_backend_ops engine_backend_oci = {
	.name = "oci",
	.create = oci_create,
	.start = oci_start,
	.kill = oci_kill,
	.wait = oci_wait,
	.user = oci_user,
	.exec = oci_exec,
	.stats = oci_stats,
	.remove = oci_remove,
	.pause = oci_pause,
	.resume = oci_resume,
};
