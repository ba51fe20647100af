#include "container/ns.h"

#include <errno.h>
#include <fcntl.h>
/*
 * Not <sched.h>: this library's own directory is on its include path, where sched.h is the
 * scheduler module's header, which shadows glibc's. The kernel header has the CLONE_* flags;
 * setns(2) and unshare(2) are declared here as glibc does.
 */
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"

int setns(int fd, int nstype);
int unshare(int flags);

int ns_clone_flags(const struct oci_spec *s)
{
	int flags = 0;

	for (int k = 0; k < OCI_NS_COUNT; k++)
		/* A time namespace is entered through ns_time_enter_for_children() (offsets
		 * must be written before any process enters it); a new cgroup
		 * namespace, once the parent has placed the child in its cgroup, so that the
		 * namespace is rooted there (ns_cgroup_setup()). */
		if (s->ns[k].present && !s->ns[k].path && k != OCI_NS_TIME && k != OCI_NS_CGROUP)
			flags |= oci_ns_clone_flag((enum oci_ns_kind)k);
	return flags;
}

static int join(const struct oci_spec *s, enum oci_ns_kind k, struct hull_err *err)
{
	cleanup_close int fd = -1;

	fd = open(s->ns[k].path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "config.json: linux.namespaces: %s namespace %s",
				    oci_ns_name(k), s->ns[k].path);
	if (setns(fd, oci_ns_clone_flag(k)) < 0)
		return hull_err_set(err, errno,
				    "config.json: linux.namespaces: join %s namespace %s",
				    oci_ns_name(k), s->ns[k].path);
	return 0;
}

int ns_join_paths(const struct oci_spec *s, struct hull_err *err)
{
	for (int k = 0; k < OCI_NS_COUNT; k++) {
		int r;

		if (k == OCI_NS_PID || k == OCI_NS_TIME || !s->ns[k].present || !s->ns[k].path)
			continue;
		if ((r = join(s, (enum oci_ns_kind)k, err)) < 0)
			return r;
	}
	return 0;
}

int ns_pid_enter_for_children(const struct oci_spec *s, struct hull_err *err)
{
	cleanup_close int saved = -1;
	int r;

	if (!s->ns[OCI_NS_PID].present || !s->ns[OCI_NS_PID].path)
		return -1;
	saved = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return hull_err_set(err, errno, "open /proc/self/ns/pid");
	if ((r = join(s, OCI_NS_PID, err)) < 0)
		return r;
	return steal_fd(&saved);
}

void ns_pid_restore(int saved_fd)
{
	if (saved_fd >= 0) {
		(void)setns(saved_fd, CLONE_NEWPID);
		(void)close(saved_fd);
	}
}

static int write_map(pid_t pid, const char *file, const struct oci_idmap *m, size_t n,
		     struct hull_err *err)
{
	cleanup_free char *buf = xmalloc(n * 40 + 1);
	cleanup_close int fd = -1;
	char path[64];
	size_t len = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, 40, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	(void)snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "open %s", path);
	/* The kernel takes the whole map in one write(2) or not at all. */
	r = (int)write(fd, buf, len);
	if (r < 0)
		return hull_err_set(err, errno, "config.json: linux.%s: write %s",
				    file[0] == 'u' ? "uidMappings" : "gidMappings", path);
	return 0;
}

int ns_write_idmaps(pid_t pid, const struct oci_spec *s, struct hull_err *err)
{
	int r = write_map(pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err);

	return r < 0 ? r : write_map(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err);
}

int ns_time_enter_for_children(const struct oci_spec *s, struct hull_err *err)
{
	cleanup_close int saved = -1, fd = -1;
	char buf[128];
	int n, r;

	if (!s->ns[OCI_NS_TIME].present)
		return -1;
	saved = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return hull_err_set(err, errno, "open /proc/self/ns/time");
	if (s->ns[OCI_NS_TIME].path) {
		fd = open(s->ns[OCI_NS_TIME].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
			return hull_err_set(err, errno,
					    "config.json: linux.namespaces: join time namespace %s",
					    s->ns[OCI_NS_TIME].path);
		return steal_fd(&saved);
	}
	if (unshare(CLONE_NEWTIME) < 0)
		return hull_err_set(err, errno,
				    "config.json: linux.namespaces: new time namespace");
	if (s->has_time_offsets) {
		n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
			     (long long)s->time_offsets[0][0], (long long)s->time_offsets[0][1],
			     (long long)s->time_offsets[1][0], (long long)s->time_offsets[1][1]);
		fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		r = fd < 0 ? -errno : fd_write_all(fd, buf, (size_t)n);
		if (r < 0) {
			ns_time_restore(steal_fd(&saved));
			return hull_err_set(err, -r, "config.json: linux.timeOffsets");
		}
	}
	return steal_fd(&saved);
}

void ns_time_restore(int saved_fd)
{
	if (saved_fd >= 0) {
		(void)setns(saved_fd, CLONE_NEWTIME);
		(void)close(saved_fd);
	}
}

int ns_cgroup_setup(const struct oci_spec *s, struct hull_err *err)
{
	if (!s->ns[OCI_NS_CGROUP].present || s->ns[OCI_NS_CGROUP].path)
		return 0;
	if (unshare(CLONE_NEWCGROUP) < 0)
		return hull_err_set(err, errno,
				    "config.json: linux.namespaces: new cgroup namespace");
	return 0;
}

/* Namespace names under /proc/<pid>/ns, the user namespace first (the order to join). */
static const struct {
	const char *name;
	int flag;
} proc_ns[] = {
	{ "user", CLONE_NEWUSER }, { "mnt", CLONE_NEWNS },     { "pid", CLONE_NEWPID },
	{ "net", CLONE_NEWNET },   { "ipc", CLONE_NEWIPC },    { "uts", CLONE_NEWUTS },
	{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

int ns_differing(pid_t pid)
{
	int flags = 0;

	for (size_t i = 0; i < ARRAY_SIZE(proc_ns); i++) {
		char path[64];
		struct stat a, b;

		(void)snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, proc_ns[i].name);
		if (stat(path, &a) < 0) {
			/* A kernel without this kind of namespace has no file for it. */
			if (errno == ENOENT && kill(pid, 0) == 0)
				continue;
			return -errno;
		}
		(void)snprintf(path, sizeof(path), "/proc/self/ns/%s", proc_ns[i].name);
		if (stat(path, &b) < 0)
			return -errno;
		if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			flags |= proc_ns[i].flag;
	}
	return flags;
}

/* setns() through /proc/<pid>/ns, for kernels before 5.8 (no pidfd setns). */
static int join_by_path(pid_t pid, int flags, struct hull_err *err)
{
	int fds[ARRAY_SIZE(proc_ns)];
	int r = 0;

	for (size_t i = 0; i < ARRAY_SIZE(proc_ns); i++)
		fds[i] = -1;
	/* Open them all first: once we are in the mount namespace, /proc is another one. */
	for (size_t i = 0; i < ARRAY_SIZE(proc_ns) && r == 0; i++) {
		char path[64];

		if (!(flags & proc_ns[i].flag))
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, proc_ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			r = hull_err_set(err, errno, "open %s", path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(proc_ns) && r == 0; i++)
		if (fds[i] >= 0 && setns(fds[i], proc_ns[i].flag) < 0)
			r = hull_err_set(err, errno, "join the container's %s namespace",
					 proc_ns[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(proc_ns); i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	return r;
}

int ns_join_process(int pidfd, pid_t pid, int flags, struct hull_err *err)
{
	if (!flags)
		return 0;
	if (setns(pidfd, flags) == 0)
		return 0;
	/* EINVAL: a kernel before 5.8 (a pidfd is not a namespace fd there), or one of the
	 * namespaces refused: joining one at a time says which. ESRCH: pid has exited. */
	if (errno == ESRCH)
		return hull_err_setx(err, ESRCH, "the container's init has exited");
	if (errno != EINVAL)
		return hull_err_set(err, errno, "join the container's namespaces");
	return join_by_path(pid, flags, err);
}
