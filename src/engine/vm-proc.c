/*
 * The VMM process of a `hull run --vm` container (engine/vm-proc.h): started by the shim of
 * backend-vm.c, found again by every other hull through the state directory.
 */
#include "engine/vm-proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "engine/vm-agent.h"
#include "engine/vm-fs.h"
#include "vmm/api-client.h"

#define VM_API_WAIT_MS 20000   /* the VMM's API socket answering */
#define VM_AGENT_WAIT_MS 90000 /* the guest booted to a listening agent */

/* The API socket's path (<state>/api), or NULL before the VMM was started. */
char *vm_api_sock(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/api", dir);
	char *buf = NULL;

	if (fd_read_file_at(AT_FDCWD, p, PATH_MAX, &buf, NULL) < 0)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	if (strncmp(buf, "/tmp/hull-vm-", 13) != 0 || strstr(buf, "..")) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A new private directory for the socket, its path recorded in <state>/api. */
int vm_api_sock_make(const char *dir, char **ret, struct hull_err *err)
{
	char tmpl[] = "/tmp/hull-vm-XXXXXX";
	cleanup_free char *p = xasprintf("%s/api", dir);
	cleanup_free char *sock = NULL;
	int r;

	if (!mkdtemp(tmpl))
		return hull_err_set(err, errno, "mkdtemp %s", tmpl);
	sock = xasprintf("%s/api.sock", tmpl);
	r = fd_write_file_atomic_at(AT_FDCWD, p, sock, strlen(sock), 0600);
	if (r < 0) {
		(void)rmdir(tmpl);
		return hull_err_set(err, -r, "%s", p);
	}
	*ret = steal_ptr(&sock);
	return 0;
}

/* The socket's directory gone (the VMM removes the socket when it exits, not when killed). */
void vm_api_sock_remove(const char *dir)
{
	cleanup_free char *sock = vm_api_sock(dir);

	if (!sock)
		return;
	(void)unlink(sock);
	*strrchr(sock, '/') = '\0';
	vm_fs_sockets_remove(sock); /* what a killed shim's shares left */
	(void)rmdir(sock);
}

static long long vm_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The VMM of the state dir when it still runs: its pid file, checked against its command
 * line (which names our API socket), so that a pid reused since is never signalled. */
pid_t vmm_pid(const char *dir)
{
	cleanup_free char *pf = xasprintf("%s/vmm.pid", dir);
	cleanup_free char *sock = vm_api_sock(dir);
	cleanup_free char *buf = NULL;
	cleanup_free char *cmdline = NULL;
	char path[64];
	size_t len = 0;
	long pid;

	if (!sock || fd_read_file_at(AT_FDCWD, pf, 64, &buf, NULL) < 0)
		return 0;
	pid = strtol(buf, NULL, 10);
	if (pid <= 0)
		return 0;
	(void)snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if (fd_read_file_at(AT_FDCWD, path, 1 << 16, &cmdline, &len) < 0)
		return 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	return strstr(cmdline, sock) ? (pid_t)pid : 0;
}

int vm_read_cid(const char *dir, uint32_t *ret, struct hull_err *err)
{
	cleanup_free char *p = xasprintf("%s/cid", dir);
	cleanup_free char *buf = NULL;
	int r = fd_read_file_at(AT_FDCWD, p, 64, &buf, NULL);
	unsigned long v;

	if (r < 0)
		return hull_err_set(err, -r, "%s", p);
	v = strtoul(buf, NULL, 10);
	if (v < 3 || v > UINT32_MAX - 1)
		return hull_err_setx(err, EINVAL, "%s: bad CID", p);
	*ret = (uint32_t)v;
	return 0;
}


int vm_spec_load(const struct ctr *c, struct vm_spec *v, struct hull_err *err)
{
	cleanup_free char *p = xasprintf("%s/vm.json", c->dir);
	int r = hjson_load_file(p, VM_FILE_MAX, &v->json, err);

	if (r == 0)
		r = hjson_get_str(v->json, "Kernel", p, true, &v->kernel, err);
	if (r == 0)
		r = hjson_get_str(v->json, "Initrd", p, true, &v->initrd, err);
	if (r == 0)
		r = hjson_get_str(v->json, "Root", p, true, &v->root, err);
	if (r == 0)
		r = hjson_get_int(v->json, "MemoryMiB", p, true, 64, 1 << 20, &v->mib, err);
	if (r == 0)
		r = hjson_get_int(v->json, "CPUs", p, true, 1, 64, &v->cpus, err);
	return r;
}

/* hull-vmm beside this hull (src/cli/hull-vmm.c), else this hull (its `vm` verbs): what
 * vmm_exec runs, NULL when /proc/self/exe cannot be read. */
char *vmm_binary(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *vmm;

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	vmm = xasprintf("%.*s/hull-vmm", (int)(strrchr(self, '/') - self), self);
	if (access(vmm, X_OK) == 0)
		return vmm;
	free(vmm);
	return xstrdup(self);
}

/* argv (argv[0] "hull-vmm", then a verb) through vmm_binary; `hull vm VERB` when that is
 * hull itself. */
static void vmm_exec(const char *const *argv, size_t argc)
{
	cleanup_free char *bin = vmm_binary();
	const char **argv2 = xcalloc(argc + 2, sizeof(*argv2));
	const char *base;

	if (!bin)
		_exit(127);
	base = strrchr(bin, '/') ? strrchr(bin, '/') + 1 : bin;
	if (strcmp(base, "hull-vmm") == 0)
		(void)execv(bin, (char **)argv);
	argv2[0] = "hull";
	argv2[1] = "vm";
	memcpy(argv2 + 2, argv + 1, argc * sizeof(argv[0]));
	(void)execv(bin, (char **)argv2);
	_exit(127);
}

static void vmm_exec_boot(const struct vm_spec *v, const char *sock)
{
	cleanup_free char *mem = xasprintf("%" PRId64 "M", v->mib);
	cleanup_free char *cpus = xasprintf("%" PRId64, v->cpus);
	cleanup_free char *disk = xasprintf("%s,ro,format=raw", v->root);
	const char *argv[22 + 2 * VM_FS_MAX + 2 * 8] = { "hull-vmm", "run", "--kernel", v->kernel,
			       "--initrd", v->initrd,
			       "--cmdline", VM_CMDLINE, "--memory", mem, "--cpus", cpus,
			       "--disk", disk, "--vsock", "auto", "--api-sock", sock, NULL };
	size_t argc = 18;

	if (v->net) { /* a NIC on the container's network (vm-net.h) */
		argv[argc++] = "--net";
		argv[argc++] = v->net;
		for (size_t k = 0; k < v->n_net_extra && k < 8; k++) {
			argv[argc++] = "--net";
			argv[argc++] = v->net_extra[k];
		}
	}
	if (v->fs) /* -v: a virtio-fs device per share (vm-fs.h) */
		vm_fs_args(v->fs, argv, &argc);
	argv[argc] = NULL;
	vmm_exec(argv, argc);
}

/* The VM container's network namespace (its tap is there); says why on the console log. */
static int vmm_enter_netns(const char *netns)
{
	int fd = open(netns, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		/* fd 2 is the console log here (vmm_fork), which create's error quotes */
		cleanup_free char *msg = xasprintf("hull: %s: cannot enter the VM's network "
						   "namespace: %s\n", netns, strerror(errno));

		(void)fd_write_all(STDERR_FILENO, msg, strlen(msg));
		return -1;
	}
	(void)close(fd);
	return 0;
}

/* Fork the VMM: stdin /dev/null, stdout and stderr the console log, no other fd. It boots
 * v, or with restore set restores that snapshot directory (its own CID and socket). */
static int vmm_fork(const struct vm_spec *v, const char *restore, const char *dir,
		    const char *sock, pid_t *ret, struct hull_err *err)
{
	cleanup_free char *log = xasprintf("%s/console.log", dir);
	cleanup_close int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cleanup_close int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	sigset_t none;
	pid_t pid;

	if (logfd < 0 || null < 0)
		return hull_err_set(err, errno, "%s", log);
	pid = fork();
	if (pid < 0)
		return hull_err_set(err, errno, "fork");
	if (pid == 0) {
		const char *argv[] = { "hull-vmm", "restore", restore, "--vsock", "auto",
				       "--api-sock", sock, NULL, NULL, NULL };
		size_t argc = 7;

		(void)sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		if (dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		(void)fd_close_from_except(3, NULL, 0);
		if (v && v->netns && vmm_enter_netns(v->netns) < 0)
			_exit(127);
		if (restore && v && v->netns) { /* the warm snapshot's NIC on our tap (vm-warm.h) */
			argv[argc++] = "--net";
			/* in user space as it was built (VM_WARM_NIC); a forked child, freed at exec */
			argv[argc++] = xasprintf("%s,vhost=off", v->net);
		}
		if (restore)
			vmm_exec(argv, argc);
		vmm_exec_boot(v, sock);
	}
	*ret = pid;
	return 0;
}

int vmm_spawn(const struct vm_spec *v, const char *dir, const char *sock, pid_t *ret,
	      struct hull_err *err)
{
	return vmm_fork(v, NULL, dir, sock, ret, err);
}

int vmm_spawn_restore(const char *snap, const char *dir, const char *sock, pid_t *ret,
		      struct hull_err *err)
{
	return vmm_fork(NULL, snap, dir, sock, ret, err);
}

int vmm_spawn_restore_nic(const struct vm_spec *v, const char *snap, const char *dir,
			  const char *sock, pid_t *ret, struct hull_err *err)
{
	return vmm_fork(v, snap, dir, sock, ret, err);
}

/* A full snapshot of the running VM into out (PUT /snapshot/create), which it resumes. */
int vmm_snapshot(const char *sock, const char *out, struct hull_err *err)
{
	cleanup_json json_t *o = json_pack("{s:s, s:s, s:b}", "snapshot_path", out,
					   "snapshot_type", "Full", "resume", 1);
	cleanup_free char *body = hjson_dump(o, JSON_COMPACT);
	cleanup_free char *reply = NULL;
	int code = 0;
	int r = api_client_request(sock, "PUT", "/snapshot/create", body, &code, &reply, err);

	if (r == 0 && code / 100 != 2)
		r = hull_err_setx(err, EIO, "snapshot: the VMM answered %d: %s", code, reply);
	return r;
}

/* The console's last line (the state goes with a failed create: the error carries it). */
static char *vm_console_tail(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/console.log", dir);
	cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC);
	char buf[512], *end, *start;
	off_t size;
	ssize_t n;

	if (fd < 0 || (size = lseek(fd, 0, SEEK_END)) < 0)
		return xstrdup("no console output");
	n = pread(fd, buf, sizeof(buf) - 1, size > (off_t)sizeof(buf) - 1 ?
		  size - (off_t)sizeof(buf) + 1 : 0);
	buf[n > 0 ? n : 0] = '\0';
	end = buf + strlen(buf);
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	for (char *c = start; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return *start ? xasprintf("the console's last line: %s", start)
		      : xstrdup("no console output");
}

/* The CID the VMM picked (--vsock auto), from its API; fails when it exits meanwhile. */
int vmm_cid(const char *dir, const char *sock, pid_t vmm, uint32_t *ret,
		   struct hull_err *err)
{	long long end = vm_now_ms() + VM_API_WAIT_MS;
	int status;

	while (vm_now_ms() < end) {
		cleanup_free char *body = NULL;
		cleanup_json json_t *st = NULL;
		struct hull_err e2;
		int code = 0;

		if (waitpid(vmm, &status, WNOHANG) == vmm) {
			cleanup_free char *tail = vm_console_tail(dir);

			return hull_err_setx(err, EIO, "the VMM exited (%d) before it was ready: %s",
					     WIFEXITED(status) ? WEXITSTATUS(status)
							       : 128 + WTERMSIG(status), tail);
		}
		if (access(sock, F_OK) == 0 &&
		    api_client_request(sock, "GET", "/", NULL, &code, &body, &e2) == 0 &&
		    code == 200 && hjson_load_buf(body, strlen(body), "status", &st, &e2) == 0 &&
		    json_integer_value(json_object_get(st, "vsock_cid")) > 2) {
			*ret = (uint32_t)json_integer_value(json_object_get(st, "vsock_cid"));
			return 0;
		}
		(void)usleep(20000);
	}
	return hull_err_setx(err, ETIMEDOUT, "the VMM's API %s did not answer", sock);
}

static int agent_wait_ms = VM_AGENT_WAIT_MS;

void vm_agent_wait_set(int seconds)
{
	agent_wait_ms = seconds > 0 ? seconds * 1000 : VM_AGENT_WAIT_MS;
}

/* Connect to the agent, a second at a time, while the VMM lives. */
int vm_agent_wait(const char *dir, pid_t vmm, uint32_t cid, int *ret_fd,
		      struct hull_err *err)
{
	long long end = vm_now_ms() + agent_wait_ms;
	int status;

	for (;;) {
		int r = vm_agent_connect(cid, 1000, ret_fd, NULL, err);

		if (r == 0)
			return 0;
		if (waitpid(vmm, &status, WNOHANG) == vmm) {
			cleanup_free char *tail = vm_console_tail(dir);

			return hull_err_setx(err, EIO, "the VM stopped (%d) before its agent was "
					     "ready: %s", WIFEXITED(status) ? WEXITSTATUS(status)
					     : 128 + WTERMSIG(status), tail);
		}
		if (vm_now_ms() >= end) {
			cleanup_free char *tail = vm_console_tail(dir);

			return hull_err_setx(err, ETIMEDOUT, "the guest agent never became ready "
					     "(%d s): %s", agent_wait_ms / 1000, tail);
		}
	}
}

/* The VMM gone: reaped after the guest powered off, or killed after the grace time. */
int vmm_reap(pid_t vmm, int grace_ms)
{
	long long end = vm_now_ms() + grace_ms;
	int status = 0;

	for (;;) {
		pid_t r = waitpid(vmm, &status, WNOHANG);

		if (r == vmm || (r < 0 && errno != EINTR))
			return status;
		if (vm_now_ms() >= end) {
			(void)kill(vmm, SIGKILL);
			while (waitpid(vmm, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		(void)usleep(20000);
	}
}

