/*
 * exec: a new process inside a running container (runc's `exec`, runtime-spec "Process").
 *
 * The caller (this file) reads the state, builds the process and the seccomp filter, opens
 * the init's pidfd and root, then clone()s a child that stays in the caller's pid namespace
 * (exec-child.c): it joins the container and sets the process up there, out of the
 * container's sight, and execs hull-oci-wait from a sealed memfd, which forks the process
 * into the container's pid namespace as the caller's child (CLONE_PARENT) and reports its
 * pid. The caller then writes the waiter's plan (seccomp filter, listener message with that
 * pid: waiter/plan.h) and lets it go; the waiter installs the filter last and execs. Errors
 * travel back over a close-on-exec SEQPACKET socket: EOF there means the exec happened.
 */
#include "oci/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/proccgroup.h"
#include "common/strv.h"
#include "container/caps.h"
#include "container/cgroup.h"
#include "container/ns.h"
#include "container/process.h"
#include "container/sched.h"
#include "container/seccomp.h"
#include "container/sync.h"
#include "oci/runtime.h"
#include "spec/spec.h"
#include "oci/state.h"
#include "oci/waiter-fd.h"
#include "waiter/plan.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

void oci_exec_opts_init(struct oci_exec_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->stdio[0] = opts->stdio[1] = opts->stdio[2] = -1;
}

/* ---- cgroups ------------------------------------------------------------------------- */

static bool is_cgroup2(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* The directory of hierarchy ctrls ("cpu,cpuacct", "name=systemd", "" for v2), or NULL. */
static char *hierarchy_dir(const char *ctrls)
{
	cleanup_free char *copy = NULL;
	char *save = NULL;
	struct stat st;

	if (!*ctrls) {
		if (is_cgroup2(CGROUP_ROOT))
			return xstrdup(CGROUP_ROOT);
		return is_cgroup2(CGROUP_ROOT "/unified") ? xstrdup(CGROUP_ROOT "/unified") : NULL;
	}
	if (strncmp(ctrls, "name=", 5) == 0)
		ctrls += 5;
	{
		cleanup_free char *dir = xasprintf(CGROUP_ROOT "/%s", ctrls);

		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return steal_ptr(&dir);
	}
	/* Co-mounted controllers without the combined symlink: any one of them will do. */
	copy = xstrdup(ctrls);
	for (char *c = strtok_r(copy, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		cleanup_free char *dir = xasprintf(CGROUP_ROOT "/%s", c);

		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return steal_ptr(&dir);
	}
	return NULL;
}

/* Move the calling process into dir (or its sub-cgroup sub); label names the hierarchy. */
static int join_dir(const char *dir, const char *label, const char *sub, struct hull_err *err)
{
	cleanup_free char *procs = NULL;
	cleanup_close int fd = -1;
	int r;

	procs = xasprintf("%s%s%s/cgroup.procs", dir, sub ? "/" : "", sub ? sub : "");
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && sub)
		return hull_err_setx(err, ENOENT, "exec --cgroup: %s: no sub-cgroup \"%s\" in the "
				     "container's cgroup (%s)", label, sub, dir);
	/* "0": the writer itself, in v1 and v2 alike. */
	r = fd < 0 ? -errno : fd_write_all(fd, "0", 1);
	/* Rootless: a cgroup we may not write is skipped, as runc does. */
	if ((r == -EACCES || r == -EPERM) && geteuid() != 0 && !sub) {
		log_debug("exec: %s: %s (rootless): skipped", procs, strerror(-r));
		return 0;
	}
	if (r < 0)
		return hull_err_set(err, -r, "join the container's cgroup: %s", procs);
	return 0;
}

static int join_one(const char *ctrls, const char *path, const char *sub, struct hull_err *err)
{
	cleanup_free char *dir = hierarchy_dir(ctrls);
	cleanup_free char *full = NULL;

	if (!dir) {
		log_debug("exec: cgroup hierarchy \"%s\" is not mounted here: skipped", ctrls);
		return 0;
	}
	full = xasprintf("%s%s", dir, path);
	return join_dir(full, ctrls[0] ? ctrls : "cgroup2", sub, err);
}

/* The line of ours for the hierarchy of theirs (same id and controllers), or NULL */
static const struct proc_cgroup_line *same_hierarchy(const struct proc_cgroup *ours,
						     const struct proc_cgroup_line *theirs)
{
	for (size_t i = 0; i < ours->n; i++)
		if (ours->lines[i].id == theirs->id &&
		    strcmp(ours->lines[i].controllers, theirs->controllers) == 0)
			return &ours->lines[i];
	return NULL;
}

static bool ctrl_in(const char *list, const char *name, size_t n)
{
	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static bool has_dotdot(const char *path)
{
	for (const char *p = path; *p; p += strcspn(p, "/"), p += *p == '/')
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

/*
 * Check --cgroup values as runc does: a relative path without "..", known controllers
 * (known: in the comma-separated list; v2's controllers are in cgroup.controllers, checked
 * by the join).
 */
static int subs_check(char *const *subs, const char *known, struct hull_err *err)
{
	for (size_t i = 0; subs && subs[i]; i++) {
		const char *colon = strchr(subs[i], ':');
		const char *path = colon ? colon + 1 : subs[i];

		if (!*path || has_dotdot(path))
			return hull_err_setx(err, EINVAL, "exec --cgroup %s: the path must be a "
					     "sub-cgroup (not empty, no \"..\")", subs[i]);
		for (const char *c = subs[i]; colon && c < colon;) {
			size_t n = strcspn(c, ",:");

			if (!ctrl_in(known, c, n))
				return hull_err_setx(err, ENOENT, "exec --cgroup %s: no cgroup "
						     "controller \"%.*s\" in the container", subs[i],
						     (int)n, c);
			c += n + (c[n] == ',');
		}
	}
	return 0;
}

/* The sub-cgroup for hierarchy ctrls ("" on v2) among subs, or NULL for none. */
static const char *sub_for(char *const *subs, const char *ctrls)
{
	const char *any = NULL;

	for (size_t i = 0; subs && subs[i]; i++) {
		const char *colon = strchr(subs[i], ':');

		if (!colon) {
			any = subs[i];
			continue;
		}
		for (const char *c = subs[i]; c < colon;) {
			size_t n = strcspn(c, ",:");

			if (ctrl_in(ctrls, c, n))
				return colon + 1;
			c += n + (c[n] == ',');
		}
	}
	return any;
}

/* The controllers of pid's v1 lines, comma-separated (v2's line names none). */
static char *proc_controllers(const struct proc_cgroup *cg)
{
	char *all = xstrdup("");

	for (size_t i = 0; i < cg->n; i++) {
		char *n;

		if (!*cg->lines[i].controllers)
			continue;
		n = xasprintf("%s%s%s", all, *all ? "," : "", cg->lines[i].controllers);
		free(all);
		all = n;
	}
	return all;
}

/* An older state file recorded no cgroup: join the init's, as /proc/<pid>/cgroup names them. */
static int join_proc(pid_t pid, char *const *subs, struct hull_err *err)
{
	struct proc_cgroup theirs, ours;
	cleanup_free char *known = NULL;
	int r;

	if ((r = proc_cgroup_read(pid, &theirs)) < 0)
		return hull_err_set(err, -r, "read /proc/%d/cgroup", (int)pid);
	if ((r = proc_cgroup_read(0, &ours)) < 0) {
		proc_cgroup_free(&theirs);
		return hull_err_set(err, -r, "read /proc/self/cgroup");
	}
	known = proc_controllers(&theirs);
	r = subs_check(subs, known, err);
	for (size_t i = 0; i < theirs.n && r >= 0; i++) {
		const struct proc_cgroup_line *l = &theirs.lines[i], *mine = same_hierarchy(&ours, l);
		const char *sub = sub_for(subs, l->controllers);

		if (!sub && mine && strcmp(mine->path, l->path) == 0)
			continue; /* already there */
		/* v2's root cgroup path is "/": no double slash before the sub-cgroup */
		r = join_one(l->controllers, strcmp(l->path, "/") == 0 ? "" : l->path, sub, err);
	}
	proc_cgroup_free(&theirs);
	proc_cgroup_free(&ours);
	return r < 0 ? r : 0;
}

/*
 * The controllers that share directory k of p (co-mounted v1 controllers, e.g.
 * "cpu,cpuacct"), or NULL when an earlier entry has the same directory (joined with it).
 * v2's directory has none: "".
 */
static char *hierarchy_ctrls(const struct cgroup_paths *p, int k)
{
	char *ctrls = xstrdup("");

	for (int j = 0; j < CG_COUNT; j++) {
		char *n;

		if (!p->dirs[j] || strcmp(p->dirs[j], p->dirs[k]) != 0)
			continue;
		if (j < k) {
			free(ctrls);
			return NULL;
		}
		if (j == CG_UNIFIED)
			continue;
		n = xasprintf("%s%s%s", ctrls, *ctrls ? "," : "", cgroup_ctrl_name(j));
		free(ctrls);
		ctrls = n;
	}
	return ctrls;
}

/* The cgroup the runtime recorded at create: each directory once, by its host path. */
static int join_recorded(const struct cgroup_paths *p, char *const *subs, struct hull_err *err)
{
	cleanup_free char *known = xstrdup("");
	int r;

	for (int k = 0; k < CG_UNIFIED; k++) {
		char *n;

		if (!p->dirs[k])
			continue;
		n = xasprintf("%s%s%s", known, *known ? "," : "", cgroup_ctrl_name(k));
		free(known);
		known = n;
	}
	r = subs_check(subs, known, err);
	for (int k = 0; k < CG_COUNT && r >= 0; k++) {
		cleanup_free char *ctrls = p->dirs[k] ? hierarchy_ctrls(p, k) : NULL;

		if (ctrls)
			r = join_dir(p->dirs[k], *ctrls ? ctrls : "cgroup2", sub_for(subs, ctrls),
				     err);
	}
	return r;
}

int exec_cgroup_join(const struct state_rec *rec, char *const *subs, struct hull_err *err)
{
	struct cgroup_paths p;
	int r;

	/* runc joins the paths its state recorded, not what the init's /proc file says now:
	 * the init may have moved, or live in a cgroup namespace whose paths are not ours */
	if (state_cgroup(rec, &p, NULL) < 0)
		return join_proc(rec->pid, subs, err);
	r = join_recorded(&p, subs, err);
	cgroup_paths_clear(&p);
	return r;
}

/* ---- the process ------------------------------------------------------------------- */

static int load_process_file(struct oci_process *p, const struct oci_exec_opts *o,
			     struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	const char *name = o->process_file ? o->process_file : "process";
	json_t *doc = NULL;
	size_t len = 0;
	int r;

	if (o->process_file) {
		r = fd_read_file_at(AT_FDCWD, o->process_file, OCI_CONFIG_MAX_SIZE, &buf, &len);
		if (r < 0)
			return hull_err_set(err, -r, "--process %s", o->process_file);
	} else {
		buf = xstrdup(o->process_json);
		len = strlen(buf);
	}
	if ((r = hjson_load_buf(buf, len, name, &doc, err)) < 0)
		return r;
	spec_process_clear(p);
	r = spec_process_parse(doc, name, p, err);
	json_decref(doc);
	return r;
}

static void env_set(char ***env, const char *kv)
{
	size_t klen = (size_t)(strchr(kv, '=') - kv) + 1;

	for (size_t i = 0; (*env)[i]; i++)
		if (strncmp((*env)[i], kv, klen) == 0) {
			free((*env)[i]);
			(*env)[i] = xstrdup(kv);
			return;
		}
	strv_push(env, kv);
}

/* config.json's process with the command line's overrides (as runc's exec). */
static int override_process(struct oci_process *p, const struct oci_exec_opts *o,
			    struct hull_err *err)
{
	if (!o->args || !o->args[0])
		return hull_err_setx(err, EINVAL, "exec: a command (or --process) is required");
	strv_free(p->args);
	p->args = strv_dup(o->args);
	for (size_t i = 0; o->env && o->env[i]; i++) {
		if (!strchr(o->env[i], '=') || o->env[i][0] == '=')
			return hull_err_setx(err, EINVAL, "--env \"%s\": not of the form NAME=VALUE",
					     o->env[i]);
		env_set(&p->env, o->env[i]);
	}
	if (o->cwd) {
		if (o->cwd[0] != '/')
			return hull_err_setx(err, EINVAL, "--cwd \"%s\": not an absolute path",
					     o->cwd);
		free(p->cwd);
		p->cwd = xstrdup(o->cwd);
	}
	if (o->has_user) {
		p->uid = o->uid;
		p->gid = o->gid;
	}
	if (o->n_additional_gids) {
		if (o->n_additional_gids > OCI_MAX_GIDS)
			return hull_err_setx(err, E2BIG, "--additional-gids: too many");
		free(p->additional_gids);
		p->additional_gids = xmalloc(o->n_additional_gids * sizeof(uint32_t));
		memcpy(p->additional_gids, o->additional_gids, o->n_additional_gids * sizeof(uint32_t));
		p->n_additional_gids = o->n_additional_gids;
	}
	for (size_t i = 0; o->caps && o->caps[i]; i++) {
		int c = spec_cap_from_name(o->caps[i]);

		if (c < 0)
			return hull_err_setx(err, EINVAL, "--cap %s: unknown capability", o->caps[i]);
		/* Without process.capabilities the process keeps all of root's: nothing to add. */
		if (!p->has_caps)
			continue;
		for (int set = 0; set < OCI_CAP_COUNT; set++)
			if (set != OCI_CAP_INHERITABLE)
				p->caps[set] |= 1ULL << c;
	}
	if (o->no_new_privs)
		p->no_new_privileges = true;
	/* As runc: the command line decides, whatever config.json's process had. */
	p->terminal = o->tty;
	return 0;
}

static int build_process(struct oci_spec *s, const struct oci_exec_opts *o, struct hull_err *err)
{
	struct oci_process *p = &s->process;
	int r;

	if (o->process_file || o->process_json)
		r = load_process_file(p, o, err);
	else
		r = override_process(p, o, err);
	if (r < 0)
		return r;
	/* No LSM is enabled on the hosts hull supports yet: accepted, as runc does on them. */
	if (o->apparmor || p->apparmor_profile)
		log_debug("exec: apparmor profile %s: no AppArmor here, skipped",
			  o->apparmor ? o->apparmor : p->apparmor_profile);
	if (o->process_label || p->selinux_label)
		log_debug("exec: selinux label: no SELinux here, skipped");
	if (p->terminal && !o->console_socket && o->stdio[0] < 0)
		return hull_err_setx(err, EINVAL,
				     "exec: a terminal (-t) needs --console-socket when detached");
	return 0;
}

/* ---- the caller ---------------------------------------------------------------------- */

/* A pidfd for the container's init, checked against its recorded start time. */
static int open_init(const struct state_rec *rec, int dirfd, struct hull_err *err)
{
	cleanup_close int pfd = -1;
	unsigned long long start = 0;
	bool zombie = false;

	switch (state_status(dirfd, rec)) {
	case OCI_STATUS_STOPPED:
		return hull_err_setx(err, ESRCH, "cannot exec in a stopped container");
	case OCI_STATUS_CREATING:
	case OCI_STATUS_CREATED: /* allowed, as runc */
	case OCI_STATUS_RUNNING:
	case OCI_STATUS_PAUSED: /* state_status() does not say it: checked below */
	case OCI_STATUS_COUNT:
		break;
	}
	if (state_is_paused(rec, state_status(dirfd, rec)))
		return hull_err_setx(err, EBUSY, "cannot exec in a paused container");
	pfd = (int)syscall(SYS_pidfd_open, rec->pid, 0);
	/* The pidfd pins the process: a start time that still matches means it is the init. */
	if (pfd < 0 || proc_stat_read(rec->pid, &start, &zombie) < 0 || zombie ||
	    start != rec->starttime)
		return hull_err_setx(err, ESRCH, "cannot exec in a stopped container");
	return steal_fd(&pfd);
}

/* A pidfd polls readable once its process has exited (zombie or reaped). */
static bool init_alive(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* The child (exec-child.c): in our pid namespace, born non-dumpable like everything after. */
static pid_t clone_child(struct exec_ctx *x, struct hull_err *err)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	pid_t pid;
	int r, dumpable;

	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		exec_child(x);
	r = errno;
	if (dumpable > 0)
		(void)prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
	if (pid < 0)
		return hull_err_set(err, r, "clone the exec process");
	return pid;
}

static void reap(pid_t pid, bool kill_first)
{
	if (kill_first)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

_Static_assert(WAITER_SYNC_READY == SYNC_READY && WAITER_SYNC_ERR == SYNC_ERR,
	       "waiter/plan.h speaks container/sync.h's message types");

/* A failure the waiter reported (waiter/plan.h), in the words of the runtime's own code. */
static int waiter_error(const struct exec_ctx *x, const char *payload, struct hull_err *err)
{
	const char *arg0 = x->spec->process.args[0];
	int step, e;

	memcpy(&step, payload, sizeof(step));
	memcpy(&e, payload + sizeof(step), sizeof(e));
	if (e <= 0)
		e = EIO;
	switch (step) {
	case WAITER_STEP_CLONE:
		return hull_err_set(err, e, "clone the exec process");
	case WAITER_STEP_SETSID:
		return hull_err_set(err, e, "setsid");
	case WAITER_STEP_CTTY:
		return hull_err_set(err, e, "exec -t: make the pty the controlling terminal");
	case WAITER_STEP_CAPS:
		return hull_err_set(err, e, "exec: give up the capabilities kept for seccomp");
	case WAITER_STEP_SECCOMP:
		return hull_err_set(err, e, "config.json: linux.seccomp: load the filter");
	case WAITER_STEP_LISTENER:
		return hull_err_set(err, e, "send the seccomp notify fd to the listener");
	case WAITER_STEP_RLIMIT:
		return hull_err_set(err, e, "config.json: process.rlimits: RLIMIT_NPROC");
	case WAITER_STEP_EXEC:
		if (e == ENOENT || e == EACCES)
			return hull_err_set(err, e, "exec: \"%s\"", arg0);
		return hull_err_set(err, e, "exec %s", arg0);
	default:
		return hull_err_set(err, e, "exec: the waiter's plan");
	}
}

/* A message that is not what we wait for: the child's or the waiter's error. */
static int child_error(const struct exec_ctx *x, enum sync_type t, const char *payload,
		       size_t len, struct hull_err *err)
{
	if (t == SYNC_ERR && len == sizeof(struct hull_err)) {
		memcpy(err, payload, sizeof(*err));
		err->msg[sizeof(err->msg) - 1] = '\0';
		return -(err->code ? err->code : EINVAL);
	}
	if (t == SYNC_ERR && len == 2 * sizeof(int))
		return waiter_error(x, payload, err);
	return hull_err_setx(err, EPROTO, "exec process: unexpected message %d", t);
}

/* SYNC_READY with an int: the pid of the process the waiter forked. */
static int recv_ready(const struct exec_ctx *x, int sync_fd, int *ret_val,
		      struct hull_err *err)
{
	cleanup_free char *payload = NULL;
	enum sync_type t;
	int r = sync_recv(sync_fd, &t, &payload);

	if (r == -EPIPE)
		return hull_err_setx(err, EPIPE, "the exec process exited during its set-up");
	if (r < 0)
		return hull_err_set(err, -r, "sync with the exec process");
	if (t == SYNC_READY && (size_t)r == sizeof(int)) {
		memcpy(ret_val, payload, sizeof(int));
		return 0;
	}
	return child_error(x, t, payload, (size_t)r, err);
}

/* Wait for the exec (EOF on the sync socket) or the waiter's error. */
static int wait_exec(const struct exec_ctx *x, int sync_fd, struct hull_err *err)
{
	cleanup_free char *payload = NULL;
	enum sync_type t;
	int r = sync_recv(sync_fd, &t, &payload);

	if (r == -EPIPE)
		return 0;
	if (r < 0)
		return hull_err_set(err, -r, "sync with the exec process");
	return child_error(x, t, payload, (size_t)r, err);
}

static int write_pid_file(const char *path, pid_t pid, struct hull_err *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	int r = fd_write_file_atomic_at(AT_FDCWD, path, buf, (size_t)n, 0644);

	return r < 0 ? hull_err_set(err, -r, "--pid-file %s", path) : 0;
}

/* The seccomp listener's message: the container's state with the new process's pid. */
static char *listener_msg(const struct exec_ctx *x, pid_t pid)
{
	json_t *st = state_to_json(x->rec, OCI_STATUS_RUNNING);
	cleanup_free char *state = NULL;

	(void)json_object_set_new(st, "pid", json_integer(pid));
	state = hjson_dump(st, 0);
	json_decref(st);
	return seccomp_listener_message(&x->sec, state);
}

const struct oci_rlimit *exec_nproc(const struct oci_process *p)
{
	for (size_t i = p->n_rlimits; i-- > 0;)
		if (p->rlimits[i].resource == RLIMIT_NPROC)
			return &p->rlimits[i];
	return NULL;
}

bool exec_plan_needs_pid(const struct exec_ctx *x)
{
	return x->listener >= 0 || x->sched_by_caller;
}

/*
 * The waiter's plan (waiter/plan.h): setsid, the pty as controlling terminal, the
 * capabilities kept for seccomp(2) to give up, the filter (unless the child installed it
 * early), RLIMIT_NPROC and the listener's message, which names the process's pid (0: not
 * known yet, and not needed).
 */
static int write_plan(const struct exec_ctx *x, pid_t pid, struct hull_err *err)
{
	const struct oci_process *p = &x->spec->process;
	cleanup_free char *msg = x->listener >= 0 ? listener_msg(x, pid) : NULL;
	bool filter = x->sec.insns && !x->sec_early;
	struct waiter_plan h = {
		.magic = WAITER_PLAN_MAGIC,
		.seccomp_flags = x->sec.flags,
		.n_insns = filter ? (unsigned)x->sec.n_insns : 0,
		.listener_fd = x->listener,
		.msg_len = msg ? (unsigned)strlen(msg) : 0,
		.keep = { (uint32_t)x->keep, (uint32_t)(x->keep >> 32) },
		.ambient = { (uint32_t)p->caps[OCI_CAP_AMBIENT],
			     (uint32_t)(p->caps[OCI_CAP_AMBIENT] >> 32) },
		.inheritable = { (uint32_t)p->caps[OCI_CAP_INHERITABLE],
				 (uint32_t)(p->caps[OCI_CAP_INHERITABLE] >> 32) },
		.flags = WAITER_PLAN_SETSID | (x->console_fd >= 0 ? WAITER_PLAN_CTTY : 0),
		.notify_fd = -1,
	};
	const struct oci_rlimit *nproc = exec_nproc(p);
	struct iovec iov[3] = {
		{ &h, sizeof(h) },
		{ filter ? x->sec.insns : NULL, h.n_insns * sizeof(*x->sec.insns) },
		{ msg, h.msg_len },
	};
	size_t total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
	ssize_t n;

	if (nproc) {
		h.flags |= WAITER_PLAN_NPROC;
		h.nproc[0] = nproc->soft;
		h.nproc[1] = nproc->hard;
	}
	if (msg && strlen(msg) > WAITER_PLAN_MAX_MSG)
		return hull_err_setx(err, E2BIG, "config.json: linux.seccomp: the state for the "
				     "listener is too large");
	/* At offset 0 without moving the file offset, which the waiter reads from. */
	n = pwritev(x->plan_fd, iov, 3, 0);
	if (n < 0 || (size_t)n != total)
		return hull_err_set(err, n < 0 ? errno : EIO, "write the exec waiter's plan");
	return 0;
}

/*
 * process.scheduler that a fork does not pass on (SCHED_FLAG_RESET_ON_FORK) or forbids
 * (a SCHED_DEADLINE task cannot fork): the child leaves it, and we set it on the forked
 * process before it goes on, with the privilege the child may have given up by then.
 */
static bool sched_after_fork(const struct oci_process *p)
{
	return p->has_scheduler && (p->scheduler.policy == SCHED_DEADLINE ||
				    (p->scheduler.flags & SCHED_FLAG_RESET_ON_FORK));
}

/* After the child's set-up: the pid the waiter forked, our child too (CLONE_PARENT). */
static int exec_go(struct exec_ctx *x, int sync_fd, pid_t *ret_pid, struct hull_err *err)
{
	bool later = exec_plan_needs_pid(x);
	int pid = 0, r;
	pid_t child;

	/* Most often the plan is known now: the process goes on without waiting for us. */
	if (!later && (r = write_plan(x, 0, err)) < 0)
		return r;
	child = clone_child(x, err);
	if (child < 0)
		return child;
	close_fd(&x->sync_fd);
	r = recv_ready(x, sync_fd, &pid, err);
	if (r == 0 && pid <= 0)
		r = hull_err_setx(err, EPROTO, "exec process: bad pid %d", pid);
	if (r < 0) {
		reap(child, true);
		return r;
	}
	r = x->sched_by_caller ? sched_set_pid(&x->spec->process.scheduler, pid, err) : 0;
	if (r == 0 && later)
		r = write_plan(x, pid, err);
	if (r == 0 && later && (r = sync_send(sync_fd, SYNC_GO, NULL, 0)) < 0)
		r = hull_err_set(err, -r, "sync with the exec process");
	if (r == 0)
		r = wait_exec(x, sync_fd, err);
	/* It exited after sending the pid: reaped off the critical path. */
	reap(child, false);
	if (r < 0) {
		reap(pid, true);
		return r;
	}
	*ret_pid = pid;
	return 0;
}

static int exec_start(struct exec_ctx *x, pid_t *ret_pid, int *ret_pidfd, struct hull_err *err)
{
	cleanup_close int sv0 = -1, waiter = -1, plan = -1;
	int sv[2], r;
	pid_t pid = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return hull_err_set(err, errno, "create the sync channel");
	sv0 = sv[0];
	x->sync_fd = sv[1];
	/* 0111: not readable, so that the kernel keeps the exec non-dumpable with its mm
	 * owned by a user namespace that has the host's root (would_dump()). */
	if ((waiter = waiter_memfd(0111, err)) < 0 ||
	    (plan = memfd_create("hull-oci-plan", MFD_CLOEXEC)) < 0) {
		close_fd(&x->sync_fd);
		return waiter < 0 ? waiter : hull_err_set(err, errno, "memfd_create");
	}
	x->waiter_fd = waiter;
	x->plan_fd = plan;
	if ((r = exec_go(x, sv0, &pid, err)) < 0) {
		close_fd(&x->sync_fd);
		return r;
	}
	if (x->opts->pid_file && (r = write_pid_file(x->opts->pid_file, pid, err)) < 0) {
		reap(pid, true);
		return r;
	}
	*ret_pid = pid;
	/* Our child, not yet reaped: the pid cannot have been reused. */
	if (ret_pidfd && (*ret_pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		r = hull_err_set(err, errno, "pidfd_open %d", (int)pid);
		reap(pid, true);
		return r;
	}
	return 0;
}

/*
 * Who installs linux.seccomp (as the init: docs/runtime.md "seccomp"): the waiter, last,
 * right before the program's execve. Without no_new_privs seccomp(2) needs CAP_SYS_ADMIN:
 * with process.capabilities it is kept through the uid switch for the waiter, which gives it
 * up before installing; a root process without them keeps every capability anyway; a
 * non-root one without them can keep nothing, so the child installs it before the switch.
 */
static void seccomp_who(struct exec_ctx *x)
{
	const struct oci_process *p = &x->spec->process;

	if (!x->sec.insns || p->no_new_privileges)
		return;
	if (p->has_caps)
		x->keep = 1ULL << CAP_SYS_ADMIN;
	else if (p->uid != 0)
		x->sec_early = true;
}

/* Everything after the init's pidfd is open: its errors may come from the init exiting. */
static int exec_in(struct exec_ctx *x, const struct state_rec *rec, pid_t *ret_pid,
		   int *ret_pidfd, struct hull_err *err)
{
	cleanup_close int root_fd = -1, console = -1, listener = -1;
	const struct oci_exec_opts *opts = x->opts;
	char path[64];
	int r;

	if (opts->console_socket && x->spec->process.terminal &&
	    (console = process_console_connect(opts->console_socket, err)) < 0)
		return console;
	if (x->sec.notify && (listener = seccomp_listener_connect(&x->sec, err)) < 0)
		return listener;
	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)rec->pid);
	root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* Gone while the pidfd still holds the process: it is exiting, and a pid namespace's
	 * init takes as long as its last process to go (a loaded host: seconds). */
	if (root_fd < 0 && errno == ENOENT && !init_alive(x->init_pidfd, 5000))
		return hull_err_setx(err, ESRCH, "cannot exec in a stopped container");
	if (root_fd < 0)
		return hull_err_set(err, errno, "open %s", path);
	if ((r = ns_differing(rec->pid)) < 0)
		return hull_err_set(err, -r, "the container's namespaces (/proc/%d/ns)",
				    (int)rec->pid);
	x->ns_flags = r;
	/* A pidfd does not keep the number from being reused once the init is reaped: all
	 * that was read through /proc/<pid> above was the init's only if it still runs. */
	if (!init_alive(x->init_pidfd, 0))
		return hull_err_setx(err, ESRCH, "cannot exec in a stopped container");
	x->init_pid = rec->pid;
	x->root_fd = root_fd;
	x->console_fd = console;
	x->listener = listener;
	x->rec = rec;
	return exec_start(x, ret_pid, ret_pidfd, err);
}

int oci_runtime_exec(const struct oci_runtime_ctx *ctx, const char *id,
		     const struct oci_exec_opts *opts, pid_t *ret_pid, int *ret_pidfd,
		     struct hull_err *err)
{
	cleanup_state_rec struct state_rec *rec = NULL;
	cleanup_oci_spec struct oci_spec *s = NULL;
	cleanup_close int dirfd = -1, pidfd = -1;
	struct exec_ctx x = { 0 };
	int r;

	dirfd = state_dir_open(state_root(ctx), id, err);
	if (dirfd < 0)
		return dirfd;
	if ((r = state_read(dirfd, id, &rec, err)) < 0)
		return r;
	if ((pidfd = open_init(rec, dirfd, err)) < 0)
		return pidfd;
	if ((r = spec_load(rec->bundle, &s, err)) < 0 || (r = build_process(s, opts, err)) < 0)
		return r;
	x.spec = s;
	x.opts = opts;
	x.init_pidfd = pidfd;
	x.listener = -1;
	if (s->seccomp &&
	    (r = seccomp_filter_build(s->seccomp, "config.json: linux.seccomp", &x.sec, err)) < 0)
		return r;
	seccomp_who(&x);
	x.sched_by_caller = sched_after_fork(&s->process);
	r = exec_in(&x, rec, ret_pid, ret_pidfd, err);
	seccomp_filter_clear(&x.sec);
	/*
	 * An init that exits meanwhile makes /proc/<pid>/root and ns/ vanish (before it is a
	 * zombie), setns fail (ESRCH) and clone fail (ENOMEM in a dead pid namespace): say what
	 * happened instead, giving an exit in progress a moment to show.
	 */
	if (r < 0 && !init_alive(pidfd, r == -ENOENT || r == -ESRCH || r == -ENOMEM ? 100 : 0)) {
		hull_err_clear(err);
		return hull_err_setx(err, ESRCH, "cannot exec in a stopped container");
	}
	return r;
}
