/*
 * The OCI backend: hull's runtime library (src/oci/runtime.h) in process, with its state
 * under <store>/runtime and the container directory as the bundle. Counters come from the
 * runtime's cgroup code (oci_runtime_stats(): the cgroup recorded at create), exec joins
 * that recorded cgroup too (src/oci/exec.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "oci/runtime.h"

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

static int oci_oom_kills(const struct engine_backend *b, const struct ctr *c, uint64_t *ret,
			 struct hull_err *err)
{
	struct oci_runtime_ctx ctx = CTX(b);

	return oci_runtime_oom_kills(&ctx, c->id, ret, err);
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
	cleanup_close int root = -1;
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)c->state.pid);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return hull_err_set(err, errno, "%s", path);
	return engine_user_at(root, spec, ret, err);
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

static char *ns_of(pid_t pid)
{
	char path[64], buf[64];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static int read_proc(pid_t pid, struct ctr_proc *p)
{
	char path[64];
	cleanup_free char *stat = NULL;
	cleanup_free char *status = NULL;
	cleanup_free char *cmdline = NULL;
	size_t len = 0;
	unsigned long long ut = 0, st = 0;
	long rss = 0;
	int ppid = 0;
	char *close_paren;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (fd_read_file_at(AT_FDCWD, path, 4096, &stat, NULL) < 0)
		return -1;
	close_paren = strrchr(stat, ')');
	if (!close_paren || sscanf(close_paren + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
				   "%*d %*d %*d %*d %*d %*d %*u %*u %ld", &ppid, &ut, &st, &rss) != 4)
		return -1;
	p->pid = pid;
	p->ppid = ppid;
	p->cpu_ticks = ut + st;
	p->rss_bytes = (uint64_t)(rss > 0 ? rss : 0) * (uint64_t)sysconf(_SC_PAGESIZE);
	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 16, &status, NULL) == 0) {
		char *u = strstr(status, "\nUid:");

		p->uid = u ? (uid_t)strtoul(u + 5, NULL, 10) : 0;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 16, &cmdline, &len) == 0 && len > 0) {
		for (size_t i = 0; i + 1 < len; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		p->cmd = steal_ptr(&cmdline);
	} else {
		char *open_paren = strchr(stat, '(');

		p->cmd = open_paren ? xasprintf("[%.*s]", (int)(close_paren - open_paren - 1),
						open_paren + 1)
				    : xstrdup("?");
	}
	return 0;
}

/*
 * The processes in the init's pid namespace, found by walking /proc: that also finds
 * processes that left the container's cgroup, and none of a sibling sharing the cgroup.
 */
static int oci_procs(const struct engine_backend *b, const struct ctr *c, struct ctr_proc **ret,
		     size_t *ret_n, struct hull_err *err)
{
	cleanup_free char *ns = NULL;
	struct ctr_proc *v = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	(void)b;
	if (c->state.pid <= 0)
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	ns = ns_of(c->state.pid);
	if (!ns)
		return hull_err_set(err, errno, "container %s: /proc/%d", c->name, c->state.pid);
	d = opendir("/proc");
	if (!d)
		return hull_err_set(err, errno, "/proc");
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
		cleanup_free char *pns = NULL;
		struct ctr_proc p = { 0 };

		if (pid <= 0)
			continue;
		pns = ns_of(pid);
		if (!pns || strcmp(pns, ns) != 0 || read_proc(pid, &p) < 0)
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		/* the init first */
		if (pid == c->state.pid && n > 0) {
			v[n] = v[0];
			v[0] = p;
		} else {
			v[n] = p;
		}
		n++;
	}
	(void)closedir(d);
	*ret = v;
	*ret_n = n;
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
	.procs = oci_procs,
	.oom_kills = oci_oom_kills,
	.remove = oci_remove,
	.pause = oci_pause,
	.resume = oci_resume,
};
