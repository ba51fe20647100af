/* virtiofsd per bind mount of a `hull run --vm` container (vm-fs.h). */
#include "engine/vm-fs.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"

#define VM_FS_WAIT_MS 20000 /* a daemon listening on its socket */
#define MOUNTS_MAX (1 << 20)

static void mount_clear(struct vm_fs_mount *m)
{
	free(m->source);
	free(m->target);
	free(m->tag);
	free(m->socket);
	memset(m, 0, sizeof(*m));
}

/* One record of mounts.json (volmount.c): a bind or a volume, its source a directory. */
static int load_one(json_t *e, const char *where, struct vm_fs_mount *m, unsigned i,
		    struct hull_err *err)
{
	const char *type = NULL, *src = NULL, *dst = NULL;
	bool rw = true;
	struct stat st;
	int r = hjson_get_str(e, "Type", where, true, &type, err);

	if (r == 0)
		r = hjson_get_str(e, "Source", where, true, &src, err);
	if (r == 0)
		r = hjson_get_str(e, "Destination", where, true, &dst, err);
	if (r == 0)
		r = hjson_get_bool(e, "RW", where, false, &rw, err);
	if (r < 0)
		return r;
	if (strcmp(type, "bind") != 0 && strcmp(type, "volume") != 0)
		return hull_err_setx(err, EINVAL, "--vm: %s mount on %s: only bind mounts and "
				     "volumes are shared with a VM", type, dst);
	if (stat(src, &st) < 0)
		return hull_err_set(err, errno, "--vm: -v %s:%s", src, dst);
	if (!S_ISDIR(st.st_mode))
		return hull_err_setx(err, ENOTDIR, "--vm: -v %s:%s: a VM shares directories only "
				     "(virtio-fs), not a single file", src, dst);
	m->source = xstrdup(src);
	m->target = xstrdup(dst);
	m->tag = xasprintf("hullfs%u", i);
	m->ro = !rw;
	return 0;
}

int vm_fs_load(const char *ctr_dir, struct vm_fs *fs, struct hull_err *err)
{
	cleanup_free char *p = xasprintf("%s/mounts.json", ctr_dir);
	cleanup_json json_t *rec = NULL;
	size_t i;
	json_t *e;
	int r;

	memset(fs, 0, sizeof(*fs));
	if (access(p, F_OK) < 0)
		return 0; /* no mounts */
	r = hjson_load_file(p, MOUNTS_MAX, &rec, err);
	if (r < 0)
		return r;
	if (!json_is_array(rec))
		return hull_err_setx(err, EINVAL, "%s: not an array", p);
	if (json_array_size(rec) > VM_FS_MAX)
		return hull_err_setx(err, EINVAL, "--vm: %zu mounts: a VM takes at most %d",
				     json_array_size(rec), VM_FS_MAX);
	json_array_foreach(rec, i, e) {
		r = load_one(e, p, &fs->m[fs->n], fs->n, err);
		if (r < 0) {
			vm_fs_stop(fs);
			return r;
		}
		fs->n++;
	}
	return 0;
}

/* The child: its own mount namespace with a read-only source when asked; then the daemon. */
static void __attribute__((noreturn)) daemon_exec(const struct vm_fs_mount *m, pid_t parent,
						   const char *log)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	cleanup_free char *sock = xasprintf("--socket-path=%s", m->socket);
	cleanup_free char *src = xasprintf("source=%s", m->source);

	/* the shim's death (SIGKILL included) takes the daemon along */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/* its messages in the VM's console log, never on the container's stdio (the shim's) */
	if (null < 0 || out < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(127);
	if (m->ro && (unshare(CLONE_NEWNS) < 0 ||
		      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		      mount(m->source, m->source, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		      mount(NULL, m->source, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)) {
		dprintf(out, "hull: virtiofsd for %s: read-only bind: %s\n", m->source,
			strerror(errno)); /* out: the console log, as fd 2 now */
		_exit(127);
	}
	/*
	 * sandbox=chroot: the daemon is this process, no pid namespace with a child of its own
	 * behind it, so that the shim's SIGKILL and waitpid end it for certain (the default
	 * sandbox forks an init of a new pid namespace that outlives its parent for a while)
	 */
	execl(VM_FS_DAEMON, "virtiofsd", sock, "-o", src, "-o", "cache=auto", "-o",
	      "sandbox=chroot", "-o", "log_level=err", (char *)NULL);
	dprintf(out, "hull: %s: %s (install qemu-system-common)\n", VM_FS_DAEMON,
		strerror(errno)); /* out: the console log, as fd 2 now */
	_exit(127);
}

/* Whether a unix socket at path listens (/proc/net/unix: flag __SO_ACCEPTCON, 0x10000). */
static bool sock_listening(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t plen = strlen(path);

	if (fd_read_file_at(AT_FDCWD, "/proc/net/unix", 64 << 20, &buf, NULL) < 0)
		return false;
	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		unsigned long flags;
		size_t len;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > plen + 1 && line[len - plen - 1] == ' ' &&
		    !strncmp(line + len - plen, path, plen) &&
		    sscanf(line, "%*s %*s %*s %lx", &flags) == 1 && (flags & 0x10000))
			return true;
	}
	return false;
}

static long long mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The daemon of m listening, or its end as an error. */
static int daemon_wait(struct vm_fs_mount *m, struct hull_err *err)
{
	long long end = mono_ms() + VM_FS_WAIT_MS;
	int status;

	while (!sock_listening(m->socket)) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = 0;
			return hull_err_setx(err, EIO, "--vm: -v %s:%s: virtiofsd exited (%d) "
					     "before it listened", m->source, m->target,
					     WIFEXITED(status) ? WEXITSTATUS(status)
							       : 128 + WTERMSIG(status));
		}
		if (mono_ms() >= end)
			return hull_err_setx(err, ETIMEDOUT, "--vm: -v %s:%s: virtiofsd did not "
					     "listen in %d s", m->source, m->target,
					     VM_FS_WAIT_MS / 1000);
		(void)usleep(10000);
	}
	return 0;
}

int vm_fs_start(struct vm_fs *fs, const char *rundir, const char *log, struct hull_err *err)
{
	pid_t self = getpid();
	int r = 0;

	for (unsigned i = 0; r == 0 && i < fs->n; i++) {
		struct vm_fs_mount *m = &fs->m[i];

		m->socket = xasprintf("%s/fs%u.sock", rundir, i);
		(void)unlink(m->socket);
		m->pid = fork();
		if (m->pid < 0) {
			m->pid = 0;
			r = hull_err_set(err, errno, "fork");
			break;
		}
		if (m->pid == 0)
			daemon_exec(m, self, log);
		r = daemon_wait(m, err);
	}
	if (r < 0)
		vm_fs_stop(fs);
	return r;
}

void vm_fs_args(const struct vm_fs *fs, const char **argv, size_t *n)
{
	static char buf[VM_FS_MAX][320];

	for (unsigned i = 0; i < fs->n; i++) {
		(void)snprintf(buf[i], sizeof(buf[i]), "tag=%s,socket=%s", fs->m[i].tag,
			       fs->m[i].socket);
		argv[(*n)++] = "--fs";
		argv[(*n)++] = buf[i];
	}
}

void vm_fs_stop(struct vm_fs *fs)
{
	for (unsigned i = 0; i < fs->n; i++) {
		struct vm_fs_mount *m = &fs->m[i];

		if (m->pid > 0) {
			(void)kill(m->pid, SIGKILL);
			while (waitpid(m->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (m->socket)
			(void)unlink(m->socket);
		mount_clear(m);
	}
	fs->n = 0;
}

void vm_fs_sockets_remove(const char *rundir)
{
	for (unsigned i = 0; i < VM_FS_MAX; i++) {
		cleanup_free char *p = xasprintf("%s/fs%u.sock", rundir, i);

		(void)unlink(p);
	}
}
