/*
 * The microVM backend (`hull run --vm`, docs/engine.md "hull run --vm"). The handle the
 * engine waits for is a shim, a child of the caller that
 *
 *   1. starts hull-vmm (the kernel, the initramfs whose /init is the guest agent, the image's
 *      root.erofs as a read-only disk, a vsock device, the control API on a socket in a
 *      private /tmp/hull-vm-XXXXXX (sun_path has 108 bytes: the state dir is too deep),
 *      the serial console into <state>/console.log),
 *   2. reads the guest's CID from the API and connects to the agent (vm-agent.h), then
 *      tells create "ok" (or why not: nothing is left then),
 *   3. on start, sends RUN (config.json's process, the hostname, /etc/hosts and resolv.conf
 *      the engine wrote) and relays the container's stdio until EXIT,
 *   4. waits for the VM to power off (the agent does when its process ends) and exits with
 *      the process's code (137 when the VMM was killed).
 *
 * State, under <store>/vm/run/ID/: vmm.pid, cid, api (the socket's path), console.log. kill sends a
 * signal through the agent (SIGKILL: kills the VMM), exec is a child running an EXEC session.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/childwait.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "container/process.h"
#include "engine/backend.h"
#include "engine/config.h"
#include "engine/vm-agent.h"
#include "engine/vm-fs.h"
#include "engine/vm-net.h"
#include "engine/vm-proc.h"
#include "engine/vm-top.h"
#include "engine/vm-warm.h"
#include "vmm/api-client.h"
#include "vmm/kvm.h"

#define VM_POWEROFF_WAIT_MS 10000
#define VM_MOUNT_WAIT_MS 30000 /* the agent mounting a share (bounds a wedged guest) */
#define VM_EXEC_CONNECT_MS 5000
#define VM_NETCONF_MS 30000 /* the agent loads nothing more: finding the NIC, rtnetlink */

static char *state_dir(const struct engine_backend *b, const struct ctr *c)
{
	return xasprintf("%s/%s", b->state_root, c->id);
}

/* The process of config.json, and the files the engine wrote beside it. */
struct vm_proc {
	char **args, **env;
	const char *cwd, *hostname;
	char *hosts, *resolv;
	uint32_t uid, gid;
	uint32_t *gids;
	size_t n_gids;
	bool tty;
	json_t *json;
};

static void vm_proc_free(struct vm_proc *p)
{
	strv_free(p->args);
	strv_free(p->env);
	free(p->hosts);
	free(p->resolv);
	free(p->gids);
	json_decref(p->json);
	memset(p, 0, sizeof(*p));
}

static int vm_proc_load(const struct ctr *c, struct vm_proc *p, struct hull_err *err)
{
	cleanup_free char *cfg = xasprintf("%s/config.json", c->dir);
	cleanup_free char *hosts = xasprintf("%s/hosts", c->dir);
	cleanup_free char *resolv = xasprintf("%s/resolv.conf", c->dir);
	json_t *proc = NULL, *user, *g;
	size_t i;
	int r = hjson_load_file(cfg, 4 * VM_FILE_MAX, &p->json, err);

	if (r == 0)
		r = hjson_get_obj(p->json, "process", cfg, true, &proc, err);
	if (r == 0)
		r = hjson_get_strv(proc, "args", cfg, true, 65536, &p->args, err);
	if (r == 0)
		r = hjson_get_strv(proc, "env", cfg, false, 65536, &p->env, err);
	if (r == 0)
		r = hjson_get_str(proc, "cwd", cfg, false, &p->cwd, err);
	if (r == 0)
		r = hjson_get_str(p->json, "hostname", cfg, false, &p->hostname, err);
	if (r < 0)
		return r;
	if (!p->env)
		p->env = xcalloc(1, sizeof(char *));
	p->tty = json_is_true(json_object_get(proc, "terminal"));
	user = json_object_get(proc, "user");
	p->uid = (uint32_t)json_integer_value(json_object_get(user, "uid"));
	p->gid = (uint32_t)json_integer_value(json_object_get(user, "gid"));
	p->gids = xcalloc(json_array_size(json_object_get(user, "additionalGids")) + 1,
			  sizeof(*p->gids));
	json_array_foreach(json_object_get(user, "additionalGids"), i, g)
		p->gids[p->n_gids++] = (uint32_t)json_integer_value(g);
	/* absent with --network none on an old record: the guest keeps the image's */
	(void)fd_read_file_at(AT_FDCWD, hosts, VM_FILE_MAX, &p->hosts, NULL);
	(void)fd_read_file_at(AT_FDCWD, resolv, VM_FILE_MAX, &p->resolv, NULL);
	return 0;
}

static void agent_proc_of(const struct vm_proc *p, struct vm_agent_proc *a)
{
	memset(a, 0, sizeof(*a));
	a->args = p->args;
	a->env = p->env;
	a->cwd = p->cwd && *p->cwd ? p->cwd : "/";
	a->uid = p->uid;
	a->gid = p->gid;
	a->gids = p->gids;
	a->n_gids = p->n_gids;
	a->hostname = p->hostname && *p->hostname ? p->hostname : NULL;
	a->etc_hosts = p->hosts;
	a->resolv = p->resolv;
	a->tty = p->tty;
}

/*
 * A terminal for the process: the engine gets the master over console_socket (as from the
 * OCI runtime), the session relays the slave, raw: the guest's own pty does the line
 * discipline. The slave becomes our controlling terminal (we lead a session of our own), so
 * that the engine's resizes of the master reach us as SIGWINCH.
 */
static int host_pty(const char *console_socket, int *ret_slave, struct hull_err *err)
{
	cleanup_close int sock = -1;
	cleanup_close int master = -1;
	cleanup_close int slave = -1;
	struct termios t;
	int r;

	if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
		return hull_err_set(err, errno, "openpty");
	if (tcgetattr(slave, &t) == 0) {
		cfmakeraw(&t);
		(void)tcsetattr(slave, TCSANOW, &t);
	}
	sock = process_console_connect(console_socket, err);
	if (sock < 0)
		return sock;
	r = (int)fd_send_with_fd(sock, master, "/dev/ptmx", strlen("/dev/ptmx"));
	if (r < 0)
		return hull_err_set(err, -r, "send the pty master to the console socket");
	(void)ioctl(slave, TIOCSCTTY, 0);
	*ret_slave = steal_fd(&slave);
	return 0;
}

/*
 * The shim's signals (the engine forwards SIGINT, SIGTERM... to the handle) go to the
 * process through the session's control pipe, and so does a new window size: with -t the
 * host pty is the shim's controlling terminal, whose SIGWINCH follows the engine's resize.
 */
/* The shares' virtiofsd daemons (vm-fs.h): the shim's, stopped once the VMM is gone. */
static struct vm_fs shim_fs;

static const int shim_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
static int shim_ctl = -1, shim_tty = -1;
static bool shim_restored; /* the VM came from the warm snapshot: its clock and random state
			    * are the snapshot's */

static void shim_on_signal(int sig)
{
	int e = errno;
	struct winsize ws;

	if (sig != SIGWINCH)
		(void)vm_agent_ctl_signal(shim_ctl, sig);
	else if (shim_tty >= 0 && ioctl(shim_tty, TIOCGWINSZ, &ws) == 0)
		(void)vm_agent_ctl_winsize(shim_ctl, ws.ws_row, ws.ws_col);
	errno = e;
}

/* Forward our signals (and SIGWINCH's sizes of tty, -1: none) into the ctl pipe; then the
 * size tty has now into a (after the handler: a resize is either seen here or signalled). */
static int shim_signals(int ctl[2], int tty, struct vm_agent_proc *a, struct hull_err *err)
{
	struct sigaction sa = { .sa_handler = shim_on_signal, .sa_flags = SA_RESTART };
	struct winsize ws;
	sigset_t set;

	if (pipe2(ctl, O_CLOEXEC | O_NONBLOCK) < 0)
		return hull_err_set(err, errno, "pipe");
	shim_ctl = ctl[1];
	(void)sigemptyset(&sa.sa_mask);
	(void)sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(shim_sigs); i++) {
		(void)sigaction(shim_sigs[i], &sa, NULL);
		(void)sigaddset(&set, shim_sigs[i]);
	}
	(void)sigaction(SIGWINCH, &sa, NULL);
	(void)sigaddset(&set, SIGWINCH);
	shim_tty = tty;
	/* blocked since the fork: what came meanwhile is delivered now */
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (tty >= 0 && ioctl(tty, TIOCGWINSZ, &ws) == 0) {
		a->rows = ws.ws_row;
		a->cols = ws.ws_col;
	}
	return 0;
}

/*
 * Why the process could not run or its session broke, on the container's own stderr (what
 * the user reads on the terminal or in `hull logs`), as the OCI runtime's init writes its last
 * words (src/oci/last-words.c): this runs in the shim or the exec child, never in hull.
 */
static void shim_last_words(const char *name, const struct hull_err *err)
{
	cleanup_free char *msg = xasprintf("hull: %s: %s\n", name, err->msg);

	(void)fd_write_all(STDERR_FILENO, msg, strlen(msg));
}

/* Step 3 and 4: the process, then the VM's end; the shim's exit code. */
static int shim_run(const struct ctr *c, const char *dir, int agent, int slave, pid_t vmm)
{
	struct vm_proc p = { 0 };
	struct vm_agent_proc a;
	struct hull_err err = { 0 };
	int stdio[3] = { 0, 1, 2 }, ctl[2] = { -1, -1 };
	int code, status;

	if (slave >= 0)
		stdio[0] = stdio[1] = stdio[2] = slave;
	code = vm_proc_load(c, &p, &err);
	if (code == 0) {
		agent_proc_of(&p, &a);
		code = shim_signals(ctl, slave, &a, &err);
	}
	/* a clone of the warm snapshot: fresh random state (with or without VMGENID) and the
	 * host's time, before its process runs */
	if (code == 0 && shim_restored)
		code = vm_agent_entropy(agent, &err);
	if (code == 0 && shim_restored)
		code = vm_agent_clock(agent, &err);
	if (code == 0)
		code = vm_agent_session(agent, false, &a, stdio, ctl[0], &err);
	if (code < 0)
		shim_last_words(c->name, &err);
	if (slave >= 0)
		(void)close(slave);
	(void)close(agent);
	vm_proc_free(&p);
	status = vmm_reap(vmm, code >= 0 ? VM_POWEROFF_WAIT_MS : 0);
	vm_fs_stop(&shim_fs);
	{
		cleanup_free char *pf = xasprintf("%s/vmm.pid", dir);

		(void)unlink(pf);
		vm_api_sock_remove(dir);
	}
	/* the session broke because the VM was killed (hull kill: SIGKILL to the VMM) */
	if (code < 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 128 + SIGKILL;
	return code < 0 ? 125 : code;
}

/* -v and --mount: a virtiofsd per share (loaded into shim_fs), its socket beside the API
 * socket (vm-fs.h). */
static int shim_fs_start(const char *dir, const char *sock, struct hull_err *err)
{
	cleanup_free char *rundir = xstrndup(sock, (size_t)(strrchr(sock, '/') - sock));
	cleanup_free char *log = xasprintf("%s/console.log", dir);

	return shim_fs.n ? vm_fs_start(&shim_fs, rundir, log, err) : 0;
}

/* After the agent's HELLO, before RUN: the guest's NIC (NETCONF on the session) and the
 * shares (a MOUNT session each). */
static int shim_guest_setup(const struct vm_nic *nic, int fd, uint32_t cid,
			    struct hull_err *err)
{
	int r = 0;

	/* the guest's address before create says ok: a NIC the guest cannot set up fails it */
	if (nic->netns)
		r = vm_agent_netconf(fd, nic->netconf, nic->netconf_len, VM_NETCONF_MS, err);
	for (unsigned i = 0; r == 0 && i < shim_fs.n; i++)
		r = vm_agent_mount(cid, shim_fs.m[i].tag, shim_fs.m[i].target, shim_fs.m[i].ro,
				   VM_MOUNT_WAIT_MS, err);
	return r;
}

/* The VMM started (booting v, or restoring snap), its pid and CID recorded, the agent's
 * connection (after its HELLO) in *ret_fd. */
static int shim_vmm(const struct vm_spec *v, const char *snap, const char *dir, pid_t *ret_vmm,
		    char **ret_sock, int *ret_fd, uint32_t *ret_cid, struct hull_err *err)
{
	cleanup_free char *pf = xasprintf("%s/vmm.pid", dir);
	cleanup_free char *cf = xasprintf("%s/cid", dir);
	char buf[32];
	uint32_t cid = 0;
	int r;

	*ret_vmm = -1;
	r = vm_api_sock_make(dir, ret_sock, err);
	if (r == 0 && !snap)
		r = shim_fs_start(dir, *ret_sock, err);
	if (r == 0)
		r = snap ? vmm_spawn_restore_nic(v, snap, dir, *ret_sock, ret_vmm, err)
			 : vmm_spawn(v, dir, *ret_sock, ret_vmm, err);
	if (r < 0)
		return r;
	(void)snprintf(buf, sizeof(buf), "%d\n", (int)*ret_vmm);
	r = fd_write_file_atomic_at(AT_FDCWD, pf, buf, strlen(buf), 0600);
	if (r < 0)
		r = hull_err_set(err, -r, "%s", pf);
	if (r == 0)
		r = vmm_cid(dir, *ret_sock, *ret_vmm, &cid, err);
	if (r == 0) {
		(void)snprintf(buf, sizeof(buf), "%u\n", cid);
		r = fd_write_file_atomic_at(AT_FDCWD, cf, buf, strlen(buf), 0600);
		if (r < 0)
			r = hull_err_set(err, -r, "%s", cf);
	}
	if (r == 0)
		r = vm_agent_wait(dir, *ret_vmm, cid, ret_fd, err);
	*ret_cid = cid;
	return r;
}

/* How this VM started, in the record's vm-start (inspect's "Start", docs/engine.md "Fast
 * start"): restored, cold, or cold+snapshot (this boot built the warm snapshot). */
static void shim_record_start(const char *dir, const char *how)
{
	cleanup_free char *p = xasprintf("%s/vm-start", dir);
	cleanup_free char *line = xasprintf("%s\n", how);

	(void)fd_write_file_atomic_at(AT_FDCWD, p, line, strlen(line), 0600);
}

/* A warning of the shim's on the container's stderr (a fallback to a cold boot). */
static void shim_warn(const char *msg)
{
	cleanup_free char *line = xasprintf("hull: warning: %s\n", msg);

	(void)fd_write_all(STDERR_FILENO, line, strlen(line));
}

/* The restore failed: the VMM and its socket gone; the snapshot too (the next run rebuilds it). */
static void shim_restore_failed(struct vm_warm *w, const char *dir, pid_t *vmm, char **sock,
				const struct hull_err *e)
{
	cleanup_free char *msg = xasprintf("--vm: the warm snapshot %s did not restore (%s): "
					   "booting cold", w->dir, e->msg);

	if (*vmm > 0)
		(void)vmm_reap(*vmm, 0);
	*vmm = -1;
	vm_api_sock_remove(dir);
	free(*sock);
	*sock = NULL;
	vm_warm_discard(w);
	shim_warn(msg);
}

/* Steps 1 and 2: restore the warm snapshot, else boot (and build the snapshot when this run
 * holds its lock). Returns the agent connection. */
static int shim_boot(const struct ctr *c, const char *dir, pid_t *ret_vmm, struct hull_err *err)
{
	struct vm_spec v = { 0 };
	struct vm_nic nic = { 0 };
	struct vm_warm w = { .lock = -1, .mode = VM_WARM_COLD };
	cleanup_free char *vmm = vmm_binary();
	cleanup_free char *sock = NULL;
	uint32_t cid = 0;
	int r, fd = -1;

	*ret_vmm = -1;
	r = vm_spec_load(c, &v, err);
	if (r < 0)
		return r;
	/* the NIC on the container's network (engine/vm-net.h): none with --network none; the
	 * shares of -v and --mount (engine/vm-fs.h) are in shim_fs, loaded by vm_create */
	r = vm_net_up(c, &nic, err);
	if (r < 0)
		goto out;
	v.netns = nic.netns;
	v.net = nic.net;
	v.net_extra = nic.net_extra;
	v.n_net_extra = nic.n_extra;
	v.fs = &shim_fs;
	/* a warm snapshot has no share and at most one NIC: a VM with a share or a second
	 * network boots cold (docs/engine.md "Fast start"); one with a NIC has its own
	 * snapshot, taken with VM_WARM_NIC (vm-warm.h) */
	if (shim_fs.n == 0 && nic.n_extra == 0)
		vm_warm_plan(&v, vmm, VM_CMDLINE, &w);
	if (w.mode == VM_WARM_RESTORE) {
		struct hull_err e2 = { 0 };

		r = shim_vmm(&v, w.dir, dir, ret_vmm, &sock, &fd, &cid, &e2);
		/* a restored guest that cannot take its NIC boots cold too */
		if (r == 0)
			r = shim_guest_setup(&nic, fd, cid, &e2);
		if (r == 0) {
			shim_record_start(c->dir, "restored");
			shim_restored = true;
			goto out;
		}
		if (fd >= 0)
			(void)close(fd);
		fd = -1;
		shim_restore_failed(&w, dir, ret_vmm, &sock, &e2);
	}
	/* the snapshot's NIC: the fixed MAC, which NETCONF replaces with the container's */
	if (w.mode == VM_WARM_BUILD && nic.netns)
		v.net = VM_WARM_NIC;
	r = shim_vmm(&v, NULL, dir, ret_vmm, &sock, &fd, &cid, err);
	if (r == 0 && w.mode == VM_WARM_BUILD) {
		struct hull_err e2 = { 0 };

		/* the agent said HELLO (idle): the guest as every run needs it, before RUN */
		if (vmm_snapshot(sock, w.tmp, &e2) == 0 && vm_warm_publish(&w, &e2) == 0) {
			shim_record_start(c->dir, "cold+snapshot");
		} else {
			cleanup_free char *why = xasprintf("cold (no warm snapshot: %s)", e2.msg);

			shim_record_start(c->dir, why);
		}
	} else if (r == 0) {
		shim_record_start(c->dir, "cold");
	}
	if (r == 0)
		r = shim_guest_setup(&nic, fd, cid, err);
	if (r < 0 && fd >= 0) {
		(void)close(fd);
		fd = -1;
	}
out:
	vm_nic_free(&nic);
	vm_warm_done(&w);
	json_decref(v.json);
	return r < 0 ? r : fd;
}

/* The shim (the handle create returns): never returns. */
static void __attribute__((noreturn))
shim_main(const struct ctr *c, const char *dir, const struct engine_io *io, int rep, int ctl)
{
	struct hull_err err = { 0 };
	sigset_t set;
	pid_t vmm = -1;
	char go = 0;
	int agent, slave = -1, keep[2] = { rep, ctl };

	/* the container's stdio as ours; nothing else of the caller's (a pipe it waits on) */
	for (int i = 0; i < 3; i++)
		if (io->stdio[i] >= 0 && io->stdio[i] != i && dup2(io->stdio[i], i) < 0)
			_exit(125);
	(void)fd_close_from_except(3, keep, 2);
	/* a session of its own: a terminal's ^C reaches the engine, which forwards it */
	(void)setsid();
	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(shim_sigs); i++)
		(void)sigaddset(&set, shim_sigs[i]);
	(void)sigaddset(&set, SIGWINCH);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
	agent = shim_boot(c, dir, &vmm, &err);
	/* the engine waits for the master before it starts the process (launch in run.c) */
	if (agent >= 0 && io->console_socket && host_pty(io->console_socket, &slave, &err) < 0) {
		(void)close(agent);
		agent = -1;
	}
	if (agent < 0) {
		cleanup_free char *msg = xasprintf("err %s\n", err.msg);

		(void)fd_write_all(rep, msg, strlen(msg));
		if (vmm > 0)
			(void)vmm_reap(vmm, 0);
		vm_fs_stop(&shim_fs);
		vm_net_down(c);
		vm_api_sock_remove(dir);
		_exit(125);
	}
	(void)fd_write_all(rep, "ok\n", 3);
	(void)close(rep);
	/* start, or the caller gone (EOF): then the VM goes too */
	if (fd_read_all(ctl, &go, 1) != 1 || go != 'g') {
		(void)vmm_reap(vmm, 0);
		vm_fs_stop(&shim_fs);
		vm_api_sock_remove(dir);
		_exit(125);
	}
	(void)close(ctl);
	_exit(shim_run(c, dir, agent, slave, vmm));
}

static int vm_remove(const struct engine_backend *b, const struct ctr *c, bool force,
		     struct hull_err *err);

/* create -> start in one process (the engine's launch): the shim waiting for its "go". */
static struct {
	char id[CTR_ID_LEN + 1];
	int ctl;
} pending = { .ctl = -1 };

static int vm_create(const struct engine_backend *b, const struct ctr *c,
		     const struct engine_io *io, pid_t *ret_pid, int *ret_pidfd,
		     struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	cleanup_free char *parent = xstrndup(b->state_root, (size_t)(strrchr(b->state_root, '/') -
								       b->state_root));
	char buf[HULL_ERR_MSG_MAX + 8];
	int rep[2] = { -1, -1 }, ctl[2] = { -1, -1 }, status;
	ssize_t n;
	pid_t pid;

	/* Bad input first (a -v of a file: the shares, loaded once into shim_fs for the forked
	 * shim), then, before anything is built or started: on a host whose KVM is a software
	 * one (PVM, no vmx/svm) the guest would boot ~1000x slower and the VMM refuses it
	 * anyway, after other checks that would name a lesser cause first (e.g. a missing
	 * /dev/vhost-vsock). */
	vm_fs_stop(&shim_fs);
	status = vm_fs_load(c->dir, &shim_fs, err);
	if (status < 0)
		return hull_err_prefix(err, "container %s", c->name);
	if (kvm_host_lacks_hw_virt(NULL)) {
		vm_fs_stop(&shim_fs);
		return hull_err_setx(err, ENOTSUP, "container %s: --vm: this host's CPU has no vmx/svm "
				     "flag, so its KVM (if any) is a software one (PVM) and a guest "
				     "would boot about 1000x slower: run it inside the sandbox VM "
				     "(tests/sandbox/run -- hull run --vm ..., docs/sandbox.md)", c->name);
	}
	/* what a previous run of this container left */
	(void)vm_remove(b, c, true, err);
	hull_err_clear(err);
	(void)mkdir(parent, 0700);
	if ((mkdir(b->state_root, 0700) < 0 && errno != EEXIST) || mkdir(dir, 0700) < 0) {
		(void)hull_err_set(err, errno, "%s", dir);
		vm_fs_stop(&shim_fs);
		return -err->code;
	}
	if (pipe2(rep, O_CLOEXEC) < 0 || pipe2(ctl, O_CLOEXEC) < 0) {
		(void)hull_err_set(err, errno, "pipe");
		goto fail;
	}
	(void)fflush(NULL);
	pid = fork();
	if (pid < 0) {
		(void)hull_err_set(err, errno, "fork");
		goto fail;
	}
	if (pid == 0) {
		(void)close(rep[0]);
		(void)close(ctl[1]);
		shim_main(c, dir, io, rep[1], ctl[0]);
	}
	vm_fs_stop(&shim_fs); /* the shim's now */
	(void)close(rep[1]);
	(void)close(ctl[0]);
	rep[1] = ctl[0] = -1;
	n = fd_read_all(rep[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (strncmp(buf, "ok\n", 3) != 0) {
		buf[strcspn(buf, "\n")] = '\0';
		(void)hull_err_setx(err, EIO, "container %s: %s", c->name,
				    n > 4 ? buf + 4 : "the VM shim failed");
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	(void)close(rep[0]);
	if (pending.ctl >= 0)
		(void)close(pending.ctl);
	(void)snprintf(pending.id, sizeof(pending.id), "%s", c->id);
	pending.ctl = ctl[1];
	*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
fail:
	vm_fs_stop(&shim_fs);
	for (int i = 0; i < 2; i++) {
		if (rep[i] >= 0)
			(void)close(rep[i]);
		if (ctl[i] >= 0)
			(void)close(ctl[i]);
	}
	vm_api_sock_remove(dir);
	(void)rm_tree_at(AT_FDCWD, dir);
	return -err->code;
}

static int vm_start(const struct engine_backend *b, const struct ctr *c, struct hull_err *err)
{
	int r;

	(void)b;
	if (pending.ctl < 0 || strcmp(pending.id, c->id) != 0)
		return hull_err_setx(err, ESRCH, "container %s: no VM was created by this process",
				     c->name);
	r = fd_write_all(pending.ctl, "g", 1);
	(void)close(pending.ctl);
	pending.ctl = -1;
	return r < 0 ? hull_err_set(err, -r, "container %s: starting its process", c->name) : 0;
}

static int vm_kill(const struct engine_backend *b, const struct ctr *c, int sig,
		   struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	pid_t vmm = vmm_pid(dir);
	uint32_t cid;
	int r;

	if (vmm <= 0)
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	/* KILL: the VM goes, whatever its guest does (docker's 137) */
	if (sig == SIGKILL)
		return kill(vmm, SIGKILL) < 0 ? hull_err_set(err, errno, "kill %d", (int)vmm) : 0;
	r = vm_read_cid(dir, &cid, err);
	if (r == 0)
		r = vm_agent_signal(cid, sig, VM_EXEC_CONNECT_MS, err);
	return r < 0 ? hull_err_prefix(err, "container %s", c->name) : 0;
}

static int vm_wait(const struct engine_backend *b, pid_t pid)
{
	(void)b;
	return child_wait(pid);
}

/* -u for exec: looked up in the image's files, the container's root (mounted on the host
 * while it runs, engine/rootfs.h): the guest's root is made of the same layers. */
static int vm_user(const struct engine_backend *b, const struct ctr *c, const char *spec,
		   struct engine_user *ret, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/rootfs", c->dir);
	cleanup_close int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)b;
	if (root < 0)
		return hull_err_set(err, errno, "%s", path);
	return engine_user_at(root, spec, ret, err);
}

/* The exec child: an EXEC session on a new connection; its exit code. */
static int exec_child(const struct ctr *c, uint32_t cid, const struct engine_exec_req *req)
{
	struct vm_proc p = { 0 };
	struct vm_agent_proc a;
	struct hull_err err = { 0 };
	cleanup_strv char **env = NULL;
	int stdio[3] = { 0, 1, 2 }, ctl[2] = { -1, -1 };
	int fd = -1, slave = -1, code;

	code = vm_proc_load(c, &p, &err);
	if (code == 0) {
		agent_proc_of(&p, &a);
		env = strv_dup(p.env);
		for (size_t i = 0; req->env && req->env[i]; i++)
			strv_push(&env, req->env[i]);
		a.args = req->args;
		a.env = env;
		a.hostname = NULL;
		a.etc_hosts = a.resolv = NULL;
		if (req->cwd)
			a.cwd = req->cwd;
		if (req->user) {
			a.uid = req->user->uid;
			a.gid = req->user->gid;
			a.gids = req->user->gids;
			a.n_gids = req->user->n_gids;
		}
		a.tty = req->io.console_socket != NULL;
		if (a.tty)
			code = host_pty(req->io.console_socket, &slave, &err);
		if (slave >= 0)
			stdio[0] = stdio[1] = stdio[2] = slave;
	}
	if (code == 0)
		code = shim_signals(ctl, slave, &a, &err);
	if (code == 0)
		code = vm_agent_connect(cid, VM_EXEC_CONNECT_MS, &fd, NULL, &err);
	if (code == 0)
		code = vm_agent_session(fd, true, &a, stdio, ctl[0], &err);
	if (code < 0)
		shim_last_words(c->name, &err);
	vm_proc_free(&p);
	return code < 0 ? 125 : code;
}

static int vm_exec(const struct engine_backend *b, const struct ctr *c,
		   const struct engine_exec_req *req, pid_t *ret_pid, struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	uint32_t cid;
	pid_t pid;
	int r;

	if (vmm_pid(dir) <= 0)
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	r = vm_read_cid(dir, &cid, err);
	if (r < 0)
		return r;
	(void)fflush(NULL);
	pid = fork();
	if (pid < 0)
		return hull_err_set(err, errno, "fork");
	if (pid == 0) {
		for (int i = 0; i < 3; i++)
			if (req->io.stdio[i] >= 0 && req->io.stdio[i] != i &&
			    dup2(req->io.stdio[i], i) < 0)
				_exit(125);
		(void)fd_close_from_except(3, NULL, 0);
		(void)setsid();
		(void)signal(SIGPIPE, SIG_IGN);
		_exit(exec_child(c, cid, req));
	}
	*ret_pid = pid;
	return 0;
}

/* The VMM's counters: its resident memory (guest RAM it touched, and its own) against the
 * VM's size, and its CPU time (vCPUs included). */
static int vm_stats(const struct engine_backend *b, const struct ctr *c,
		    struct engine_stats *ret, struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	cleanup_free char *stat = NULL;
	struct vm_spec v = { 0 };
	pid_t vmm = vmm_pid(dir);
	unsigned long long ut = 0, st = 0;
	long rss = 0;
	char path[64], *cp;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (vmm <= 0)
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)vmm);
	r = fd_read_file_at(AT_FDCWD, path, 4096, &stat, NULL);
	if (r < 0)
		return hull_err_set(err, -r, "%s", path);
	cp = strrchr(stat, ')');
	if (!cp || sscanf(cp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
			  "%*d %*d %*d %*d %*d %*d %*u %*u %ld", &ut, &st, &rss) != 3)
		return hull_err_setx(err, EINVAL, "%s: unexpected format", path);
	ret->has_mem = true;
	ret->mem_usage = (uint64_t)(rss > 0 ? rss : 0) * (uint64_t)sysconf(_SC_PAGESIZE);
	ret->mem_limit = UINT64_MAX;
	if (vm_spec_load(c, &v, err) == 0)
		ret->mem_limit = (uint64_t)v.mib << 20;
	json_decref(v.json);
	hull_err_clear(err);
	ret->has_cpu = true;
	ret->cpu_ns = (ut + st) * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
	return 0;
}

static int vm_procs(const struct engine_backend *b, const struct ctr *c, struct ctr_proc **ret,
		    size_t *ret_n, struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	uint32_t cid;
	int r;

	if (vmm_pid(dir) <= 0)
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	r = vm_read_cid(dir, &cid, err);
	if (r == 0) /* the guest's processes, from its agent (engine/vm-top.h) */
		r = vm_agent_top(cid, VM_EXEC_CONNECT_MS, ret, ret_n, err);
	return r < 0 ? hull_err_prefix(err, "container %s", c->name) : 0;
}

static int vm_oom_kills(const struct engine_backend *b, const struct ctr *c, uint64_t *ret,
			struct hull_err *err)
{
	(void)b;
	(void)c;
	(void)err;
	*ret = 0; /* the guest's OOM killer is the guest's business */
	return 0;
}

static int vm_remove(const struct engine_backend *b, const struct ctr *c, bool force,
		     struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	pid_t vmm = vmm_pid(dir);
	int r;

	(void)force;
	if (vmm > 0)
		(void)kill(vmm, SIGKILL);
	vm_net_down(c); /* the tap, before the engine's network teardown takes the namespace */
	vm_api_sock_remove(dir);
	r = rm_tree_at(AT_FDCWD, dir);
	return r < 0 ? hull_err_set(err, -r, "removing %s", dir) : 0;
}

static int vm_api_state(const struct engine_backend *b, const struct ctr *c, const char *state,
			struct hull_err *err)
{
	cleanup_free char *dir = state_dir(b, c);
	cleanup_free char *sock = vm_api_sock(dir);
	cleanup_free char *body = xasprintf("{\"state\":\"%s\"}", state);
	cleanup_free char *reply = NULL;
	int code = 0, r;

	if (!sock || vmm_pid(dir) <= 0)
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	r = api_client_request(sock, "PATCH", "/vm", body, &code, &reply, err);
	if (r == 0 && code / 100 != 2)
		r = hull_err_setx(err, EIO, "container %s: the VMM answered %d: %s", c->name, code,
				  reply);
	return r;
}

static int vm_pause(const struct engine_backend *b, const struct ctr *c, struct hull_err *err)
{
	return vm_api_state(b, c, "Paused", err);
}

static int vm_resume(const struct engine_backend *b, const struct ctr *c, struct hull_err *err)
{
	return vm_api_state(b, c, "Resumed", err);
}

const struct engine_backend_ops engine_backend_vm = {
	.name = "vm",
	.state_dir = "vm/run",
	.create = vm_create,
	.start = vm_start,
	.kill = vm_kill,
	.wait = vm_wait,
	.user = vm_user,
	.exec = vm_exec,
	.stats = vm_stats,
	.procs = vm_procs,
	.oom_kills = vm_oom_kills,
	.remove = vm_remove,
	.pause = vm_pause,
	.resume = vm_resume,
};
