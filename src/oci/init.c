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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/fd.h"
#include "common/log.h"
#include "container/ns.h"
#include "container/process.h"
#include "container/rootfs.h"
#include "container/seams.h"
#include "container/sync.h"
#include "oci/hooks.h"
#include "waiter-blob.h"

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

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
				       struct hull_err *err)
{
	const struct oci_spec *s = a->spec;
	cleanup_close int root_fd = -1;
	int r;

	if ((r = wait_go(a->sync_fd, state, err)) < 0)
		return r;
	if (a->new_userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return hull_err_set(err, errno, "become root in the new user namespace");
	if ((r = ns_join_paths(s, err)) < 0 || (r = ns_cgroup_setup(s, err)) < 0)
		return r;
	/* A session keyring of its own, so the container cannot see the host's keys. */
	if (!a->opts->no_new_keyring &&
	    syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, a->id) < 0)
		log_debug("join a new session keyring: %s", strerror(errno));
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
	return rootfs_enter(s, a->opts->no_pivot, err);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * Close every fd from 3 + nfds up except keep[]: before chdir(process.cwd), so that a cwd of
 * /proc/self/fd/N cannot land on a runtime fd that points outside the container
 * (CVE-2024-21626).
 */
static void close_fds_except(unsigned nfds, int *keep, size_t n)
{
	unsigned lo = 3 + nfds;

	qsort(keep, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue;
		if ((unsigned)keep[i] > lo)
			(void)syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	(void)syscall(SYS_close_range, lo, ~0U, 0);
}

/* A sealed memfd holding hull-oci-wait (waiter/waiter.c). */
static int waiter_memfd(struct hull_err *err)
{
	cleanup_close int fd = memfd_create("hull-oci-wait", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r;

	if (fd < 0)
		return hull_err_set(err, errno, "memfd_create");
	if ((r = fd_write_all(fd, oci_waiter_blob, sizeof(oci_waiter_blob))) < 0)
		return hull_err_set(err, -r, "write the waiter");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		return hull_err_set(err, errno, "seal the waiter");
	return steal_fd(&fd);
}

static int setup_process(const struct init_args *a, char **ret_exec, int *ret_waiter,
			 struct hull_err *err)
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
	if ((r = process_oom_score_adj(p, err)) < 0 || (r = process_rlimits(p, err)) < 0)
		return r;
	umask(p->has_umask ? p->umask : 022);
	if ((r = process_set_user(p, err)) < 0)
		return r;
	{
		int keep[] = { a->sync_fd, a->fifo_fd, log_fd(), -1 };

		/* startContainer hooks run from this process after start: keep waiting here. */
		if (!a->spec->n_hooks[OCI_HOOK_START_CONTAINER]) {
			if ((r = waiter_memfd(err)) < 0)
				return r;
			keep[3] = *ret_waiter = r;
		}
		char cwd[4096] = "/";

		close_fds_except(nfds, keep, ARRAY_SIZE(keep));
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
	if ((r = container_seccomp_ops->load(a->spec, err)) < 0)
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
exec_waiter(int waiter, int fifo_fd, const char *exec_path, const struct oci_spec *s)
{
	size_t n = strv_length(s->process.args);
	char **argv = xcalloc(n + 4, sizeof(char *));
	char fdbuf[16];

	(void)snprintf(fdbuf, sizeof(fdbuf), "%d", fifo_fd);
	argv[0] = (char *)"hull-oci-wait";
	argv[1] = fdbuf;
	argv[2] = (char *)exec_path;
	memcpy(argv + 3, s->process.args, n * sizeof(char *));
	(void)fd_set_cloexec(fifo_fd, false);
	syscall(SYS_execveat, waiter, "", argv, s->process.env, AT_EMPTY_PATH);
	(void)dprintf(STDERR_FILENO, "hull-oci: exec the waiter: %s\n", strerror(errno));
	_exit(127);
}

void oci_init_main(const struct init_args *a)
{
	const struct oci_spec *s = a->spec;
	struct hull_err err = { 0 };
	char *state = NULL, *exec_path = NULL;
	int waiter = -1;

	/* Non-dumpable: no process in the container may ptrace us or open /proc/<pid>/exe
	 * (the runtime binary), fd/ or mem/ while we still run hull-oci's code. execve()
	 * resets this for the user's program. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (setup_namespaces_and_rootfs(a, &state, &err) < 0 ||
	    setup_process(a, &exec_path, &waiter, &err) < 0)
		sync_fail(a->sync_fd, &err);
	if (sync_send(a->sync_fd, SYNC_READY, NULL, 0) < 0)
		_exit(1);
	(void)close(a->sync_fd);
	if (waiter >= 0)
		exec_waiter(waiter, a->fifo_fd, exec_path, s);
	if (wait_start(a->fifo_fd) < 0)
		_exit(1);
	if (oci_hooks_run(s->hooks[OCI_HOOK_START_CONTAINER], s->n_hooks[OCI_HOOK_START_CONTAINER],
			  OCI_HOOK_START_CONTAINER, state, &err) < 0) {
		(void)dprintf(STDERR_FILENO, "hull-oci: %s\n", err.msg);
		_exit(127);
	}
	/* fifo_fd is O_CLOEXEC: it closes with the exec, which `start` waits for. */
	execve(exec_path, s->process.args, s->process.env);
	(void)dprintf(STDERR_FILENO, "hull-oci: exec %s: %s\n", exec_path, strerror(errno));
	_exit(127);
}
