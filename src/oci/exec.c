/*
 * exec: a new process inside a running container (runc's `exec`, runtime-spec "Process").
 *
 * The caller joins the container's pid namespace for its children only, then clone()s a
 * child that lands in it directly: the child's pid is reported in the caller's namespace and
 * the caller is its parent (it reaps it). The child, single-threaded, closes every inherited
 * fd, joins the container's cgroups (from the host's view, before any namespace), then every
 * other namespace of the init in one setns(pidfd) (user first), chroots into the init's root,
 * sets up its stdio, limits, user and capabilities, checks the cwd inside the container, loads
 * the seccomp filter last and execs. Errors travel back over a close-on-exec SEQPACKET socket:
 * EOF there means the exec happened.
 */
#include "oci/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strv.h"
#include "container/caps.h"
#include "container/ns.h"
#include "container/process.h"
#include "container/sched.h"
#include "container/seccomp.h"
#include "container/sync.h"
#include "oci/runtime.h"
#include "oci/spec.h"
#include "oci/state.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_FILE_MAX 65536

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

/* The path of hierarchy "<id>:<ctrls>:" in a /proc/<pid>/cgroup text, or NULL. */
static const char *find_line(const char *text, const char *prefix, size_t plen, size_t *ret_len)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, prefix, plen) == 0) {
			*ret_len = strcspn(l + plen, "\n");
			return l + plen;
		}
	}
	return NULL;
}

static int join_one(const char *ctrls, const char *path, struct hull_err *err)
{
	cleanup_free char *dir = hierarchy_dir(ctrls);
	cleanup_free char *procs = NULL;
	cleanup_close int fd = -1;
	int r;

	if (!dir) {
		log_debug("exec: cgroup hierarchy \"%s\" is not mounted here: skipped", ctrls);
		return 0;
	}
	procs = xasprintf("%s%s/cgroup.procs", dir, path);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	/* "0": the writer itself, in v1 and v2 alike. */
	r = fd < 0 ? -errno : fd_write_all(fd, "0", 1);
	/* Rootless: a cgroup we may not write is skipped, as runc does. */
	if ((r == -EACCES || r == -EPERM) && geteuid() != 0) {
		log_debug("exec: %s: %s (rootless): skipped", procs, strerror(-r));
		return 0;
	}
	if (r < 0)
		return hull_err_set(err, -r, "join the container's cgroup: %s", procs);
	return 0;
}

int exec_cgroup_join(pid_t pid, struct hull_err *err)
{
	cleanup_free char *theirs = NULL, *ours = NULL;
	char path[64];
	int r;

	(void)snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((r = fd_read_file_at(AT_FDCWD, path, CGROUP_FILE_MAX, &theirs, NULL)) < 0)
		return hull_err_set(err, -r, "read %s", path);
	if ((r = fd_read_file_at(AT_FDCWD, "/proc/self/cgroup", CGROUP_FILE_MAX, &ours, NULL)) < 0)
		return hull_err_set(err, -r, "read /proc/self/cgroup");
	for (char *l = theirs, *next; l && *l; l = next) {
		char *c1, *c2;
		const char *mine;
		size_t mlen = 0;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		c1 = strchr(l, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		mine = find_line(ours, l, (size_t)(c2 + 1 - l), &mlen);
		if (mine && mlen == strlen(c2 + 1) && memcmp(mine, c2 + 1, mlen) == 0)
			continue; /* already there */
		*c2 = '\0';
		if ((r = join_one(c1 + 1, c2 + 1, err)) < 0)
			return r;
	}
	return 0;
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
	oci_process_clear(p);
	r = oci_process_parse(doc, name, p, err);
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
		int c = oci_cap_from_name(o->caps[i]);

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

/* ---- the child ----------------------------------------------------------------------- */

struct exec_ctx {
	struct oci_spec *spec; /* process replaced or overridden */
	const struct oci_exec_opts *opts;
	pid_t init_pid;
	int init_pidfd;
	int root_fd;    /* /proc/<init>/root, O_PATH */
	int console_fd; /* connected console socket, or -1 */
	int sync_fd;    /* the child's end */
	int ns_flags;   /* namespaces to join (pid excluded: cloned into it) */
	const struct state_rec *rec;
	struct seccomp_filter sec; /* linux.seccomp, built by the caller; no insns: none */
	int listener;   /* connected to linux.seccomp.listenerPath, or -1 */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* Cgroups, namespaces and root: after this, nothing of the host is reachable by path. */
static int child_join(struct exec_ctx *x, struct hull_err *err)
{
	int r;

	if ((r = exec_cgroup_join(x->init_pid, err)) < 0 ||
	    (r = ns_join_process(x->init_pidfd, x->init_pid, x->ns_flags, err)) < 0)
		return r;
	close_fd(&x->init_pidfd);
	/* setns(mnt) put us at the namespace's root; the init's own root is what counts (a
	 * container made with --no-pivot is chrooted inside its namespace). */
	if (fchdir(x->root_fd) < 0 || chroot(".") < 0)
		return hull_err_set(err, errno, "enter the container's root");
	close_fd(&x->root_fd);
	if (setsid() < 0)
		return hull_err_set(err, errno, "setsid");
	/* The container's session keyring (the init's is named after the container), never
	 * the caller's. */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, x->rec->id) < 0)
		log_debug("join a new session keyring: %s", strerror(errno));
	return 0;
}

static int child_cwd(const struct oci_process *p, struct hull_err *err)
{
	char cwd[4096] = "/";

	if (chdir(p->cwd) < 0)
		return hull_err_set(err, errno, "exec: cwd %s: chdir", p->cwd);
	/* getcwd(3) fails (or says "(unreachable)") for a cwd outside our root. */
	if (!getcwd(cwd, sizeof(cwd)) && errno != ERANGE)
		return hull_err_set(err, errno, "exec: cwd %s", p->cwd);
	if (cwd[0] != '/')
		return hull_err_setx(err, EPERM, "exec: cwd %s is outside the container", p->cwd);
	return 0;
}

/* The process starts with every signal unblocked and at its default action, whatever the
 * caller (a CLI forwarding signals, an engine ignoring SIGPIPE) had. */
static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * Install linux.seccomp. keep: CAP_SYS_ADMIN kept through the uid switch for seccomp(2)
 * without no_new_privs; it is in effective and permitted only now and gone at the execve
 * (not in bounding, inheritable or ambient: caps.h).
 */
static int child_seccomp(struct exec_ctx *x, uint64_t keep, const char *msg,
			 struct hull_err *err)
{
	int nfd, r;

	if (keep) {
		struct oci_process fixed = x->spec->process;

		fixed.caps[OCI_CAP_EFFECTIVE] |= keep;
		fixed.caps[OCI_CAP_PERMITTED] |= keep;
		if ((r = caps_apply(&fixed, 0, err)) < 0)
			return r;
	}
	if ((nfd = seccomp_filter_install(&x->sec, err)) <= 0)
		return nfd;
	r = seccomp_listener_send(x->listener, nfd, msg, err);
	(void)close(nfd);
	close_fd(&x->listener);
	return r;
}

static int child_setup(struct exec_ctx *x, char **ret_path, struct hull_err *err)
{
	const struct oci_process *p = &x->spec->process;
	unsigned nfds = x->opts->preserve_fds;
	cleanup_free char *msg = NULL;
	bool sec = x->sec.insns != NULL, early = false;
	uint64_t keep = 0;
	int r;

	reset_signals();
	/* stdio first: the caller's fds for it may be any number, and are closed next. */
	for (int i = 0; i < 3; i++)
		if (x->opts->stdio[i] >= 0 && x->opts->stdio[i] != i &&
		    dup2(x->opts->stdio[i], i) < 0)
			return hull_err_set(err, errno, "set up fd %d", i);
	{
		int keep_fds[] = { x->sync_fd, x->init_pidfd, x->root_fd, x->console_fd, log_fd(),
				   x->listener };

		/* Before any setns: no fd of the caller's (the host's) files goes further. */
		(void)fd_close_from_except(3 + (int)nfds, keep_fds, ARRAY_SIZE(keep_fds));
	}
	if (x->listener >= 0) {
		enum sync_type t;

		/* The listener's message names our pid, which only the caller knows. */
		r = sync_recv(x->sync_fd, &t, &msg);
		if (r < 0 || t != SYNC_GO)
			return hull_err_setx(err, EPROTO, "exec: sync with the caller");
	}
	if ((r = child_join(x, err)) < 0)
		return r;
	if (x->console_fd >= 0) {
		/* -t: the pty's master goes to the console socket as for the init, but nothing is
		 * mounted: /dev/console stays the container's own, not this exec's pty. */
		if (process_pty(x->console_fd, p, false, err) < 0)
			return hull_err_prefix(err, "exec -t");
		close_fd(&x->console_fd);
	}
	/* As the init: scheduling, I/O priority, personality and memory policy before the uid
	 * switch, which may take the privilege some of them need. */
	if ((r = process_rlimits(p, err)) < 0 || (r = sched_apply_linux(x->spec, err)) < 0 ||
	    (r = sched_apply_process(p, err)) < 0)
		return r;
	umask(p->has_umask ? p->umask : 022);
	/* seccomp(2) needs no_new_privs or CAP_SYS_ADMIN; without no_new_privs keep the cap
	 * through the uid switch, or (no capabilities given) install before it, as runc. */
	if (sec && !p->no_new_privileges) {
		if (p->has_caps)
			keep = 1ULL << CAP_SYS_ADMIN;
		else if ((r = child_seccomp(x, 0, msg, err)) < 0)
			return r;
		else
			early = true;
	}
	if ((r = process_set_user_keep(p, keep, err)) < 0 || (r = child_cwd(p, err)) < 0 ||
	    (r = process_find_exec(p, ret_path, err)) < 0)
		return r;
	/* Last: the filter must not see the runtime's own set-up. */
	if (sec && !early && (r = child_seccomp(x, keep, msg, err)) < 0)
		return r;
	if ((r = fd_cloexec_from(3 + (int)nfds)) < 0)
		return hull_err_set(err, -r, "mark fds close-on-exec");
	for (unsigned i = 0; i < nfds; i++)
		if ((int)(3 + i) != x->sync_fd)
			(void)fd_set_cloexec(3 + (int)i, false);
	return 0;
}

static void __attribute__((noreturn)) exec_child(struct exec_ctx *x)
{
	const struct oci_process *p = &x->spec->process;
	struct hull_err err = { 0 };
	char *path = NULL;

	/* Non-dumpable while we run hull's code inside the container's pid namespace: its
	 * processes must not ptrace us or open our /proc/<pid>/fd, exe or mem. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (child_setup(x, &path, &err) < 0)
		sync_fail(x->sync_fd, &err);
	execve(path, p->args, p->env);
	if (errno == ENOENT || errno == EACCES)
		(void)hull_err_set(&err, errno, "exec: \"%s\"", p->args[0]);
	else
		(void)hull_err_set(&err, errno, "exec %s", path);
	sync_fail(x->sync_fd, &err);
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

/* clone the child straight into the init's pid namespace (for our children only). */
static pid_t clone_child(struct exec_ctx *x, int *ret_pidfd, struct hull_err *err)
{
	struct clone_args ca = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};
	cleanup_close int saved = -1;
	pid_t pid;
	int r, dumpable;

	if (x->ns_flags & CLONE_NEWPID) {
		saved = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (saved < 0)
			return hull_err_set(err, errno, "open /proc/self/ns/pid");
		if ((r = ns_join_process(x->init_pidfd, x->init_pid, CLONE_NEWPID, err)) < 0)
			return r;
		x->ns_flags &= ~CLONE_NEWPID;
	}
	/* The child is born non-dumpable: no window between the clone and its own prctl in
	 * which a process of the container's pid namespace could ptrace a copy of the caller. */
	dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		exec_child(x);
	r = errno;
	if (dumpable > 0)
		(void)prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
	ns_pid_restore(steal_fd(&saved));
	if (pid > 0)
		return pid;
	/* A pid namespace whose init has died takes no new process (ENOMEM). */
	if (!init_alive(x->init_pidfd, 0))
		return hull_err_setx(err, ESRCH, "cannot exec in a stopped container");
	return hull_err_set(err, r, "clone the exec process");
}

/* Wait for the exec (EOF on the sync socket) or the child's error. */
static int wait_child(int sync_fd, pid_t pid, struct hull_err *err)
{
	cleanup_free char *payload = NULL;
	enum sync_type t;
	int r = sync_recv(sync_fd, &t, &payload);

	if (r == -EPIPE)
		return 0;
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return hull_err_set(err, -r, "sync with the exec process");
	if (t != SYNC_ERR || (size_t)r != sizeof(struct hull_err))
		return hull_err_setx(err, EPROTO, "exec process: unexpected message %d", t);
	memcpy(err, payload, sizeof(*err));
	err->msg[sizeof(err->msg) - 1] = '\0';
	return -(err->code ? err->code : EINVAL);
}

static int write_pid_file(const char *path, pid_t pid, struct hull_err *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	int r = fd_write_file_atomic_at(AT_FDCWD, path, buf, (size_t)n, 0644);

	return r < 0 ? hull_err_set(err, -r, "--pid-file %s", path) : 0;
}

/* The seccomp listener's message: the container's state with the new process's pid. */
static int send_listener_msg(const struct exec_ctx *x, int sync_fd, pid_t pid,
			     struct hull_err *err)
{
	json_t *st = state_to_json(x->rec, OCI_STATUS_RUNNING);
	cleanup_free char *state = NULL, *msg = NULL;
	int r;

	(void)json_object_set_new(st, "pid", json_integer(pid));
	state = hjson_dump(st, 0);
	json_decref(st);
	msg = seccomp_listener_message(&x->sec, state);
	if ((r = sync_send(sync_fd, SYNC_GO, msg, strlen(msg))) < 0)
		return hull_err_set(err, -r, "sync with the exec process");
	return 0;
}

static int exec_start(struct exec_ctx *x, pid_t *ret_pid, int *ret_pidfd, struct hull_err *err)
{
	cleanup_close int sv0 = -1, sv1 = -1, child_pidfd = -1;
	int sv[2], r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return hull_err_set(err, errno, "create the sync channel");
	sv0 = sv[0];
	sv1 = sv[1];
	x->sync_fd = sv1;
	pid = clone_child(x, &child_pidfd, err);
	if (pid < 0)
		return pid;
	close_fd(&sv1);
	if (x->listener >= 0 && (r = send_listener_msg(x, sv0, pid, err)) < 0) {
		(void)kill(pid, SIGKILL);
		(void)oci_runtime_wait(pid);
		return r;
	}
	if ((r = wait_child(sv0, pid, err)) < 0)
		return r;
	if (x->opts->pid_file && (r = write_pid_file(x->opts->pid_file, pid, err)) < 0) {
		(void)kill(pid, SIGKILL);
		(void)oci_runtime_wait(pid);
		return r;
	}
	*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = steal_fd(&child_pidfd);
	return 0;
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
	if ((r = oci_spec_load(rec->bundle, &s, err)) < 0 || (r = build_process(s, opts, err)) < 0)
		return r;
	x.spec = s;
	x.opts = opts;
	x.init_pidfd = pidfd;
	x.listener = -1;
	if (s->seccomp &&
	    (r = seccomp_filter_build(s->seccomp, "config.json: linux.seccomp", &x.sec, err)) < 0)
		return r;
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
