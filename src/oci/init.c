/*
 * The container's init between clone() and execve(): it builds the container from inside
 * its new namespaces, reports to the parent over the sync socket, waits on the exec fifo
 * for `start`, then execs the user's program directly. It never re-executes the hull-oci
 * binary, so nothing in the container ever runs (or can reach through /proc/<pid>/exe) the
 * runtime's image once the exec has happened; until then the process is non-dumpable.
 */
#include "oci/init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/path.h"
#include "container/ns.h"
#include "container/caps.h"
#include "container/process.h"
#include "container/rootfs.h"
#include "container/sched.h"
#include "container/seccomp.h"
#include "container/sync.h"
#include "oci/hooks.h"
#include "oci/last-words.h"
#include "oci/waiter-fd.h"
#include "waiter/plan.h"

#define KEY_USR_SEARCH 0x00080000

/*
 * A session keyring of its own, named after the container, so that the container cannot see
 * the caller's keys; with user search permission added, so that `exec` joins this same
 * keyring by name (as runc) instead of making a second one.
 */
static void keyring_join(const char *name)
{
	char desc[512];
	unsigned long perm;
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);

	if (id < 0) {
		log_debug("join a new session keyring: %s", strerror(errno));
		return;
	}
	if (syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof(desc)) < 0)
		return;
	desc[sizeof(desc) - 1] = '\0';
	/* "type;uid;gid;perm;description", perm in hex */
	if (sscanf(desc, "%*[^;];%*u;%*u;%lx;", &perm) != 1)
		return;
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm | KEY_USR_SEARCH) < 0)
		log_debug("session keyring: add search permission: %s", strerror(errno));
}

#define CAP_BIT_SYS_ADMIN (1ULL << 21)

/*
 * linux.seccomp in the init (docs/runtime.md "seccomp"): built once the parent has sent the
 * state, installed by whoever runs last before the user's program (the waiter, or this
 * process when startContainer hooks keep it waiting), or early (before the uid switch, as
 * runc) when nothing else can get the privilege to install it.
 */
struct init_sec {
	struct seccomp_filter f;
	int listener; /* connected to listenerPath before pivot_root, or -1 */
	char *msg;    /* the container process state for the listener */
	uint64_t keep; /* capabilities kept through the uid switch to install the filter */
};

static void init_sec_clear(struct init_sec *sec)
{
	seccomp_filter_clear(&sec->f);
	if (sec->listener >= 0)
		(void)close(sec->listener);
	free(sec->msg);
	*sec = (struct init_sec){ .listener = -1 };
}

/* <state root>/.seccomp-cache, created 0700 if missing; -1 when unusable (never fatal). */
static int sec_cache_dir(const char *root)
{
	cleanup_close int rfd = -1;
	int fd;

	if (!root || (rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (mkdirat(rfd, ".seccomp-cache", 0700) < 0 && errno != EEXIST)
		return -1;
	fd = openat(rfd, ".seccomp-cache", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* Build the filter and connect to the listener: host paths are still reachable here. */
static int sec_prepare(const struct init_args *a, const char *state, struct init_sec *sec,
		       struct hull_err *err)
{
	const struct oci_spec *s = a->spec;
	cleanup_close int cache = -1;
	int r;

	if (!s->seccomp)
		return 0;
	/* Only a root-owned cache is trusted: it holds filters we install unchecked. */
	if (geteuid() == 0 && !a->in_userns)
		cache = sec_cache_dir(a->state_root);
	if ((r = seccomp_filter_build_cached(s->seccomp, "config.json: linux.seccomp", cache,
					     &sec->f, err)) < 0 ||
	    (r = seccomp_filter_try(&sec->f, err)) < 0)
		return r;
	if (sec->f.notify) {
		if ((r = seccomp_listener_connect(&sec->f, err)) < 0)
			return r;
		sec->listener = r;
		sec->msg = seccomp_listener_message(&sec->f, state);
	}
	return 0;
}

/* Install the filter in this process now; with a listener, send it the notify fd. */
static int sec_install_here(const struct oci_process *p, struct init_sec *sec,
			    struct hull_err *err)
{
	int nfd, r;

	if (sec->keep) {
		struct oci_process fixed = *p;

		/* Give up the kept capability in ambient and inheritable (caps.h); effective
		 * and permitted keep it for seccomp(2) and lose it at the execve. */
		fixed.caps[OCI_CAP_EFFECTIVE] |= sec->keep;
		fixed.caps[OCI_CAP_PERMITTED] |= sec->keep;
		if ((r = caps_apply(&fixed, 0, err)) < 0)
			return r;
	}
	if ((nfd = seccomp_filter_install(&sec->f, err)) < 0)
		return nfd;
	if (nfd > 0) {
		r = seccomp_listener_send(sec->listener, nfd, sec->msg, err);
		(void)close(nfd);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The plan for the waiter (waiter/plan.h) in a memfd; *ret_fd is -1 when there is none. */
static int sec_plan_memfd(const struct oci_process *p, const struct init_sec *sec,
			  int *ret_fd, struct hull_err *err)
{
	cleanup_close int fd = -1;
	struct waiter_plan h = {
		.magic = WAITER_PLAN_MAGIC,
		.seccomp_flags = sec->f.flags,
		.n_insns = (unsigned)sec->f.n_insns,
		.listener_fd = sec->listener,
		.msg_len = sec->msg ? (unsigned)strlen(sec->msg) : 0,
		.keep = { (uint32_t)sec->keep, (uint32_t)(sec->keep >> 32) },
		.ambient = { (uint32_t)p->caps[OCI_CAP_AMBIENT],
			     (uint32_t)(p->caps[OCI_CAP_AMBIENT] >> 32) },
		.inheritable = { (uint32_t)p->caps[OCI_CAP_INHERITABLE],
				 (uint32_t)(p->caps[OCI_CAP_INHERITABLE] >> 32) },
	};
	int r;

	*ret_fd = -1;
	if (!sec->f.insns)
		return 0;
	if (h.msg_len > WAITER_PLAN_MAX_MSG)
		return hull_err_setx(err, E2BIG, "config.json: linux.seccomp: the state for the "
				     "listener is too large");
	fd = memfd_create("hull-oci-plan", MFD_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "memfd_create");
	if ((r = fd_write_all(fd, &h, sizeof(h))) < 0 ||
	    (r = fd_write_all(fd, sec->f.insns, sec->f.n_insns * sizeof(*sec->f.insns))) < 0 ||
	    (h.msg_len && (r = fd_write_all(fd, sec->msg, h.msg_len)) < 0))
		return hull_err_set(err, -r, "write the waiter plan");
	if (lseek(fd, 0, SEEK_SET) < 0)
		return hull_err_set(err, errno, "write the waiter plan");
	*ret_fd = steal_fd(&fd);
	return 0;
}

/*
 * Who installs the filter, decided before the uid switch. Without no_new_privs seccomp(2)
 * needs CAP_SYS_ADMIN: with process.capabilities, keep it through the switch for the
 * installer (caps.h); a root process without process.capabilities keeps every capability
 * anyway; a non-root one without them can keep nothing, so install now, before the switch
 * (runc's order: everything after runs under the filter).
 */
static int sec_before_user(const struct oci_process *p, struct init_sec *sec,
			   struct hull_err *err)
{
	int r;

	if (!sec->f.insns || p->no_new_privileges)
		return 0;
	if (p->has_caps) {
		sec->keep = CAP_BIT_SYS_ADMIN;
		return 0;
	}
	if (p->uid == 0)
		return 0;
	log_debug("seccomp: no capabilities to keep for uid %u: filter installed early",
		  p->uid);
	if ((r = sec_install_here(p, sec, err)) < 0)
		return r;
	init_sec_clear(sec);
	return 0;
}

static int wait_go(int fd, char **ret_payload, struct hull_err *err)
{
	enum sync_type t;
	int r = sync_recv(fd, &t, ret_payload);

	if (r < 0)
		return hull_err_set(err, -r, "sync with the parent");
	if (t != SYNC_GO)
		return hull_err_setx(err, EPROTO, "sync with the parent: unexpected message %d", t);
	return 0;
}

/* Everything up to and including pivot_root: needs the host's /proc and paths. */
static int setup_namespaces_and_rootfs(const struct init_args *a, char **state,
				       struct init_sec *sec, struct hull_err *err)
{
	const struct oci_spec *s = a->spec;
	cleanup_close int root_fd = -1;
	int r;

	if ((r = wait_go(a->sync_fd, state, err)) < 0 || (r = sec_prepare(a, *state, sec, err)) < 0)
		return r;
	if (a->new_userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return hull_err_set(err, errno, "become root in the new user namespace");
	if ((r = ns_join_paths(s, err)) < 0 || (r = ns_net_setup(s, err)) < 0 ||
	    (r = ns_cgroup_setup(s, err)) < 0)
		return r;
	if (!a->opts->no_new_keyring)
		keyring_join(a->id);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return hull_err_set(err, errno, "config.json: hostname: sethostname");
	if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
		return hull_err_set(err, errno, "config.json: domainname: setdomainname");
	root_fd = rootfs_prepare(s, err);
	if (root_fd < 0)
		return root_fd;
	if ((r = rootfs_mount_all(root_fd, s, a->in_userns, err)) < 0 ||
	    (r = rootfs_devices(root_fd, s, a->in_userns, err)) < 0)
		return r;
	if (s->n_hooks[OCI_HOOK_PRESTART] || s->n_hooks[OCI_HOOK_CREATE_RUNTIME]) {
		cleanup_free char *ignored = NULL;

		if ((r = sync_send(a->sync_fd, SYNC_HOOKS, NULL, 0)) < 0)
			return hull_err_set(err, -r, "sync with the parent");
		if ((r = wait_go(a->sync_fd, &ignored, err)) < 0)
			return r;
	}
	if ((r = oci_hooks_run(s->hooks[OCI_HOOK_CREATE_CONTAINER],
			       s->n_hooks[OCI_HOOK_CREATE_CONTAINER], OCI_HOOK_CREATE_CONTAINER,
			       *state, err)) < 0 ||
	    (r = rootfs_sysctl(root_fd, s, err)) < 0 ||
	    (r = rootfs_mask_paths(root_fd, s, err)) < 0)
		return r;
	/* A missing process.cwd is created (root-owned, 0755), as runc and crun do. */
	{
		cleanup_close int cwd = path_mkdirs_in_root(root_fd, s->process.cwd, 0755);

		if (cwd < 0)
			return hull_err_set(err, -cwd, "config.json: process.cwd: mkdir %s",
					    s->process.cwd);
	}
	return rootfs_enter(s, a->opts->no_pivot, err);
}

static int setup_process(const struct init_args *a, struct init_sec *sec, char **ret_exec,
			 char ***ret_env, int *ret_waiter, int *ret_plan, struct hull_err *err)
{
	const struct oci_process *p = &a->spec->process;
	unsigned nfds = a->opts->preserve_fds;
	int r;

	if (setsid() < 0)
		return hull_err_set(err, errno, "setsid");
	if (a->console_fd >= 0 && (r = process_console(a->console_fd, p, err)) < 0)
		return r;
	for (int i = 0; i < 3; i++)
		if (a->opts->stdio[i] >= 0 && a->opts->stdio[i] != i &&
		    dup2(a->opts->stdio[i], i) < 0)
			return hull_err_set(err, errno, "set up fd %d", i);
	process_stdio_chown(p);
	*ret_env = process_env_with_home(p);
	if (!*ret_env)
		*ret_env = p->env;
	if ((r = process_oom_score_adj(p, err)) < 0 || (r = process_rlimits(p, err)) < 0)
		return r;
	umask(p->has_umask ? p->umask : 022);
	/* As root still: a negative nice, SCHED_FIFO or the RT I/O class need CAP_SYS_NICE,
	 * SYS_ADMIN, which the process may not keep. */
	if ((r = sched_apply_linux(a->spec, err)) < 0 || (r = sched_apply_process(p, err)) < 0)
		return r;
	if ((r = sec_before_user(p, sec, err)) < 0 ||
	    (r = process_set_user_keep(p, sec->keep, err)) < 0)
		return r;
	{
		int keep[] = { a->sync_fd, a->fifo_fd, log_fd(), -1, -1, sec->listener };

		/* startContainer hooks run from this process after start: keep waiting here. */
		if (!a->spec->n_hooks[OCI_HOOK_START_CONTAINER]) {
			if ((r = waiter_memfd(0777, err)) < 0)
				return r;
			keep[3] = *ret_waiter = r;
			if ((r = sec_plan_memfd(p, sec, ret_plan, err)) < 0)
				return r;
			keep[4] = *ret_plan;
		}
		char cwd[4096] = "/";

		/* Before chdir(process.cwd), so that a cwd of /proc/self/fd/N cannot land on a
		 * runtime fd that points outside the container (CVE-2024-21626). */
		(void)fd_close_from_except(3 + (int)nfds, keep, ARRAY_SIZE(keep));
		if (chdir(p->cwd) < 0)
			return hull_err_set(err, errno, "config.json: process.cwd: chdir to %s",
					    p->cwd);
		/* getcwd(3) fails (or says "(unreachable)") for a cwd outside our root. */
		if (!getcwd(cwd, sizeof(cwd)) && errno != ERANGE)
			return hull_err_set(err, errno, "config.json: process.cwd: %s", p->cwd);
		if (cwd[0] != '/')
			return hull_err_setx(
				err, EPERM, "config.json: process.cwd: %s is outside the container",
				p->cwd);
	}
	if ((r = process_find_exec(p, ret_exec, err)) < 0)
		return r;
	/* Only 0-2 and --preserve-fds reach the program (the CVE-2024-21626 class: no
	 * runtime fd, and the cwd was just set inside the container). */
	if ((r = fd_cloexec_from(3 + (int)nfds)) < 0)
		return hull_err_set(err, -r, "mark fds close-on-exec");
	for (unsigned i = 0; i < nfds; i++)
		(void)fd_set_cloexec(3 + (int)i, false);
	return 0;
}

/* Block until `start` writes to the exec fifo (or closes it: then give up). */
static int wait_start(int fifo_fd)
{
	struct pollfd pfd = { .fd = fifo_fd, .events = POLLIN };
	char c;
	int r;

	do
		r = poll(&pfd, 1, -1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return read(fifo_fd, &c, 1) == 1 ? 0 : -EPIPE;
}

/* Wait for start in hull-oci-wait rather than in this copy of the runtime. */
static void __attribute__((noreturn))
exec_waiter(int waiter, int fifo_fd, int plan_fd, int listener, const char *exec_path,
	    const struct oci_spec *s, char **env)
{
	size_t n = strv_length(s->process.args);
	char **argv = xcalloc(n + 5, sizeof(char *));
	char fdbuf[16], planbuf[16];

	(void)snprintf(fdbuf, sizeof(fdbuf), "%d", fifo_fd);
	(void)snprintf(planbuf, sizeof(planbuf), "%d", plan_fd);
	argv[0] = (char *)"hull-oci-wait";
	argv[1] = fdbuf;
	argv[2] = planbuf;
	argv[3] = (char *)exec_path;
	memcpy(argv + 4, s->process.args, n * sizeof(char *));
	(void)fd_set_cloexec(fifo_fd, false);
	if (plan_fd >= 0)
		(void)fd_set_cloexec(plan_fd, false);
	if (listener >= 0)
		(void)fd_set_cloexec(listener, false);
	syscall(SYS_execveat, waiter, "", argv, env, AT_EMPTY_PATH);
	init_last_words(127, "exec the waiter: %s", strerror(errno));
}

void oci_init_main(const struct init_args *a)
{
	const struct oci_spec *s = a->spec;
	struct hull_err err = { 0 };
	char *state = NULL, *exec_path = NULL, **env = NULL;
	struct init_sec sec = { .listener = -1 };
	int waiter = -1, plan = -1;

	/* Non-dumpable: no process in the container may ptrace us or open /proc/<pid>/exe
	 * (the runtime binary), fd/ or mem/ while we still run hull-oci's code. execve()
	 * resets this for the user's program. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (setup_namespaces_and_rootfs(a, &state, &sec, &err) < 0 ||
	    setup_process(a, &sec, &exec_path, &env, &waiter, &plan, &err) < 0)
		sync_fail(a->sync_fd, &err);
	if (sync_send(a->sync_fd, SYNC_READY, NULL, 0) < 0)
		_exit(1);
	(void)close(a->sync_fd);
	if (waiter >= 0)
		exec_waiter(waiter, a->fifo_fd, plan, sec.listener, exec_path, s, env);
	if (wait_start(a->fifo_fd) < 0)
		_exit(1);
	if (oci_hooks_run(s->hooks[OCI_HOOK_START_CONTAINER], s->n_hooks[OCI_HOOK_START_CONTAINER],
			  OCI_HOOK_START_CONTAINER, state, &err) < 0) {
		init_last_words(127, "%s", err.msg);
	}
	if (sec.f.insns && sec_install_here(&s->process, &sec, &err) < 0) {
		init_last_words(127, "%s", err.msg);
	}
	/* fifo_fd is O_CLOEXEC: it closes with the exec, which `start` waits for. */
	execve(exec_path, s->process.args, env);
	init_exec_failed(exec_path, errno);
}
