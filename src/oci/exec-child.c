/*
 * exec's child (docs/runtime.md "exec"): a clone of the caller that stays in the caller's pid
 * namespace, where the container cannot see it, while it still has the host's root, cwd, fds
 * and runs the runtime binary. It closes every fd it does not need, joins the container's
 * cgroups, then every namespace of the init in one setns(pidfd) (user first; pid for its
 * children only) and chroots into the init's root, so that nothing of the host is reachable
 * by path or fd; sets up the process (session keyring, pty, limits, scheduling, umask, user
 * and capabilities, cwd checked inside the root) and execs hull-oci-wait from a sealed memfd
 * in exec mode (waiter/plan.h). Only that program forks the process into the container's
 * pid namespace: the first thing of this exec the container can see has the container's
 * root and cwd, no host fd, is non-dumpable and its /proc/<pid>/exe is the sealed copy, never
 * the runtime binary on the host (the CVE-2019-5736 class).
 */
#include "oci/exec.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/strv.h"
#include "container/caps.h"
#include "container/ns.h"
#include "container/process.h"
#include "container/sched.h"
#include "container/sync.h"
#include "waiter/plan.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

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

	/* The cgroups by the host's paths, before any namespace; pid goes with the others:
	 * it applies to our children only, and we have none before the waiter forks. */
	if ((r = exec_cgroup_join(x->rec, x->opts->cgroups, err)) < 0 ||
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
	 * the caller's; the process inherits it from us. */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, x->rec->id) < 0)
		log_debug("join a new session keyring: %s", strerror(errno));
	return 0;
}

/*
 * -t: the pty is opened inside the container and its master sent to the console socket as
 * for the init (nothing mounted: /dev/console stays the container's own). process_pty makes
 * it our controlling terminal; the process, forked later in a session of its own, must take
 * it, so give it up again. That hangs up our own process group (us): ignored meanwhile.
 */
static int child_pty(struct exec_ctx *x, struct hull_err *err)
{
	int r;

	if (x->console_fd < 0)
		return 0;
	if ((r = process_pty(x->console_fd, &x->spec->process, false, err)) < 0)
		return hull_err_prefix(err, "exec -t");
	close_fd(&x->console_fd);
	(void)signal(SIGHUP, SIG_IGN);
	r = ioctl(0, TIOCNOTTY);
	(void)signal(SIGHUP, SIG_DFL);
	if (r < 0)
		return hull_err_set(err, errno, "exec -t: leave the pty to the process");
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
 * A non-root process without process.capabilities and without no_new_privs keeps nothing
 * through the uid switch that seccomp(2) needs: install the filter before it (runc's order;
 * then everything after, the waiter included, runs under it). *ret_nfd: its notify fd, which
 * the waiter sends to the listener once the caller knows the process's pid; else -1.
 */
static int child_seccomp_early(struct exec_ctx *x, int *ret_nfd, struct hull_err *err)
{
	int nfd;

	*ret_nfd = -1;
	if (!x->sec_early)
		return 0;
	log_debug("seccomp: no capabilities to keep for uid %u: filter installed early",
		  x->spec->process.uid);
	if ((nfd = seccomp_filter_install(&x->sec, err)) < 0)
		return nfd;
	if (nfd > 0)
		*ret_nfd = nfd;
	return 0;
}

/*
 * RLIMIT_NPROC counts the user's processes at each fork: set here it would refuse the
 * waiter's own fork of the process (a limit of 1 for a user already running one). The
 * waiter sets it after the fork (plan); here only a hard limit above ours is raised, while
 * we still have the privilege, so that the waiter merely lowers.
 */
static int child_nproc(const struct oci_process *p, struct hull_err *err)
{
	const struct oci_rlimit *rl = exec_nproc(p);
	struct rlimit cur;

	if (!rl || getrlimit(RLIMIT_NPROC, &cur) < 0 || rl->hard <= cur.rlim_max)
		return 0;
	cur.rlim_max = rl->hard;
	cur.rlim_cur = rl->hard;
	if (setrlimit(RLIMIT_NPROC, &cur) < 0)
		return hull_err_set(err, errno, "config.json: process.rlimits: setrlimit %s (hard "
				    "%llu)", rl->name, (unsigned long long)rl->hard);
	return 0;
}

static int child_setup(struct exec_ctx *x, char **ret_path, int *ret_nfd, struct hull_err *err)
{
	const struct oci_process *p = &x->spec->process;
	unsigned nfds = x->opts->preserve_fds;
	int r;

	reset_signals();
	/* stdio first: the caller's fds for it may be any number, and are closed next. */
	for (int i = 0; i < 3; i++)
		if (x->opts->stdio[i] >= 0 && x->opts->stdio[i] != i &&
		    dup2(x->opts->stdio[i], i) < 0)
			return hull_err_set(err, errno, "set up fd %d", i);
	{
		int keep_fds[] = { x->sync_fd, x->init_pidfd, x->root_fd, x->console_fd, log_fd(),
				   x->listener, x->waiter_fd, x->plan_fd };

		/* Before any setns: no fd of the caller's (the host's) files goes further. */
		(void)fd_close_from_except(3 + (int)nfds, keep_fds, ARRAY_SIZE(keep_fds));
	}
	if ((r = child_join(x, err)) < 0 || (r = child_pty(x, err)) < 0)
		return r;
	/* As the init (init.c): the user's pipes and terminal (exec -t --user U), and HOME
	 * from the container's /etc/passwd when neither config nor --env set it. */
	process_stdio_chown(p);
	{
		char **env = process_env_with_home(p);

		if (env) {
			free(x->spec->process.env); /* the strings stay: env points at them */
			x->spec->process.env = env;
		}
	}
	/* As the init: scheduling, I/O priority, personality and memory policy before the uid
	 * switch, which may take the privilege some of them need. All are inherited by the
	 * process the waiter forks. */
	{
		struct oci_process q = *p;
		struct oci_rlimit lims[OCI_MAX_RLIMITS];

		/* A scheduler the fork would lose (caller's sched_after_fork()) is the
		 * caller's to set on the process. */
		q.has_scheduler = p->has_scheduler && !x->sched_by_caller;
		q.rlimits = lims;
		q.n_rlimits = 0;
		for (size_t i = 0; i < p->n_rlimits && i < ARRAY_SIZE(lims); i++)
			if (p->rlimits[i].resource != RLIMIT_NPROC)
				lims[q.n_rlimits++] = p->rlimits[i];
		if ((r = child_nproc(p, err)) < 0 || (r = process_rlimits(&q, err)) < 0 ||
		    (r = sched_apply_linux(x->spec, err)) < 0 ||
		    (r = sched_apply_process(&q, err)) < 0)
			return r;
	}
	umask(p->has_umask ? p->umask : 022);
	if ((r = child_seccomp_early(x, ret_nfd, err)) < 0 ||
	    (r = process_set_user_keep(p, x->keep, err)) < 0 || (r = child_cwd(p, err)) < 0 ||
	    (r = process_find_exec(p, ret_path, err)) < 0)
		return r;
	/* Only 0-2, --preserve-fds and what the waiter needs go through its exec. */
	if ((r = fd_cloexec_from(3 + (int)nfds)) < 0)
		return hull_err_set(err, -r, "mark fds close-on-exec");
	for (unsigned i = 0; i < nfds; i++)
		if ((int)(3 + i) != x->sync_fd)
			(void)fd_set_cloexec(3 + (int)i, false);
	(void)fd_set_cloexec(x->sync_fd, false);
	(void)fd_set_cloexec(x->plan_fd, false);
	if (x->listener >= 0)
		(void)fd_set_cloexec(x->listener, false);
	if (*ret_nfd >= 0)
		(void)fd_set_cloexec(*ret_nfd, false);
	return 0;
}

/* execveat the waiter in exec mode (waiter/plan.h for its argv). */
static int exec_waiter(const struct exec_ctx *x, const char *path, int nfd,
		       struct hull_err *err)
{
	const struct oci_process *p = &x->spec->process;
	size_t n = strv_length(p->args);
	char **argv = xcalloc(n + 7, sizeof(char *));
	char syncbuf[16], planbuf[16], nfdbuf[16];
	int e;

	(void)snprintf(syncbuf, sizeof(syncbuf), "%d", x->sync_fd);
	(void)snprintf(planbuf, sizeof(planbuf), "%d", x->plan_fd);
	(void)snprintf(nfdbuf, sizeof(nfdbuf), "%d", nfd);
	argv[0] = (char *)WAITER_EXEC_NAME;
	argv[1] = syncbuf;
	argv[2] = planbuf;
	argv[3] = nfdbuf;
	argv[4] = (char *)(exec_plan_needs_pid(x) ? "1" : "0");
	argv[5] = (char *)path;
	memcpy(argv + 6, p->args, n * sizeof(char *));

	syscall(SYS_execveat, x->waiter_fd, "", argv, p->env, AT_EMPTY_PATH);
	e = errno;
	free(argv);
	return hull_err_set(err, e, "exec: run the exec waiter");
}

void exec_child(struct exec_ctx *x)
{
	struct hull_err err = { 0 };
	char *path = NULL;
	int nfd = -1;

	/* Born non-dumpable (clone_child), and stays so while it runs the runtime's code. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (child_setup(x, &path, &nfd, &err) < 0)
		sync_fail(x->sync_fd, &err);
	(void)exec_waiter(x, path, nfd, &err);
	sync_fail(x->sync_fd, &err);
}
