#include "container/ns.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
/*
 * Not <sched.h>: this library's own directory is on its include path, where sched.h is the
 * scheduler module's header, which shadows glibc's. The kernel header has the CLONE_* flags;
 * setns(2) and unshare(2) are declared here as glibc does.
 */
#include <linux/sched.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "container/idmap.h"

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
			flags |= spec_ns_clone_flag((enum oci_ns_kind)k);
	return flags;
}

static int join(const struct oci_spec *s, enum oci_ns_kind k, struct hull_err *err)
{
	cleanup_close int fd = -1;

	fd = open(s->ns[k].path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "config.json: linux.namespaces: %s namespace %s",
				    spec_ns_name(k), s->ns[k].path);
	if (setns(fd, spec_ns_clone_flag(k)) < 0)
		return hull_err_set(err, errno,
				    "config.json: linux.namespaces: join %s namespace %s",
				    spec_ns_name(k), s->ns[k].path);
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

int ns_pid_enter_for_children(const struct oci_spec *s, int *ret_saved, struct hull_err *err)
{
	cleanup_close int saved = -1;
	int r;

	*ret_saved = -1;
	if (!s->ns[OCI_NS_PID].present || !s->ns[OCI_NS_PID].path)
		return 0;
	saved = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return hull_err_set(err, errno, "open /proc/self/ns/pid");
	if ((r = join(s, OCI_NS_PID, err)) < 0)
		return r;
	*ret_saved = steal_fd(&saved);
	return 0;
}

void ns_pid_restore(int saved_fd)
{
	if (saved_fd >= 0) {
		(void)setns(saved_fd, CLONE_NEWPID);
		(void)close(saved_fd);
	}
}

/* The caller's user name, for its /etc/subuid and /etc/subgid ranges; NULL if unknown. */
static char *caller_name(void)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) != 0 || !res)
		return NULL;
	return xstrdup(res->pw_name);
}

int ns_write_idmaps(pid_t pid, const struct oci_spec *s, struct hull_err *err)
{
	cleanup_free struct oci_idmap *du = NULL, *dg = NULL;
	cleanup_free char *name = NULL;
	const struct oci_idmap *um = s->uid_mappings, *gm = s->gid_mappings;
	size_t nu = s->n_uid_mappings, ng = s->n_gid_mappings;
	int r;

	/* No mappings given: crun's defaults (idmap.h). */
	if (!nu || !ng)
		name = caller_name();
	if (!nu) {
		nu = idmap_default(s->process.uid, (uint32_t)geteuid(), name, "/etc/subuid", &du);
		um = du;
	}
	if (!ng) {
		ng = idmap_default(s->process.gid, (uint32_t)getegid(), name, "/etc/subgid", &dg);
		gm = dg;
	}
	if ((r = idmap_check(um, nu, "uidMappings", err)) < 0 ||
	    (r = idmap_check(gm, ng, "gidMappings", err)) < 0 ||
	    (r = idmap_write(pid, "uid_map", IDMAP_NEWUIDMAP, um, nu, "uidMappings", err)) < 0)
		return r;
	return idmap_write(pid, "gid_map", IDMAP_NEWGIDMAP, gm, ng, "gidMappings", err);
}

/* Write config.json's linux.timeOffsets into the time namespace we just unshared. */
static int time_offsets_write(const struct oci_spec *s, struct hull_err *err)
{
	cleanup_close int fd = -1;
	char buf[128];
	int n, r;

	n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
		     (long long)s->time_offsets[0][0], (long long)s->time_offsets[0][1],
		     (long long)s->time_offsets[1][0], (long long)s->time_offsets[1][1]);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	r = fd < 0 ? -errno : fd_write_all(fd, buf, (size_t)n);
	if (r < 0)
		return hull_err_set(err, -r, "config.json: linux.timeOffsets");
	return 0;
}

int ns_time_enter_for_children(const struct oci_spec *s, int *ret_saved, struct hull_err *err)
{
	cleanup_close int saved = -1, fd = -1;
	int r;

	*ret_saved = -1;
	if (!s->ns[OCI_NS_TIME].present)
		return 0;
	saved = open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return hull_err_set(err, errno, "open /proc/self/ns/time");
	if (s->ns[OCI_NS_TIME].path) {
		fd = open(s->ns[OCI_NS_TIME].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
			return hull_err_set(err, errno,
					    "config.json: linux.namespaces: join time namespace %s",
					    s->ns[OCI_NS_TIME].path);
	} else if (unshare(CLONE_NEWTIME) < 0) {
		return hull_err_set(err, errno,
				    "config.json: linux.namespaces: new time namespace");
	} else if (s->has_time_offsets && (r = time_offsets_write(s, err)) < 0) {
		ns_time_restore(steal_fd(&saved));
		return r;
	}
	*ret_saved = steal_fd(&saved);
	return 0;
}

void ns_time_restore(int saved_fd)
{
	if (saved_fd >= 0) {
		(void)setns(saved_fd, CLONE_NEWTIME);
		(void)close(saved_fd);
	}
}

int ns_net_setup(const struct oci_spec *s, struct hull_err *err)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	cleanup_close int fd = -1;

	/* Only a namespace we made: one joined by path belongs to whoever set it up. */
	if (!s->ns[OCI_NS_NET].present || s->ns[OCI_NS_NET].path)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hull_err_set(err, errno, "bring up lo: socket");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return hull_err_set(err, errno, "bring up lo: SIOCGIFFLAGS");
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return hull_err_set(err, errno, "bring up lo: SIOCSIFFLAGS");
	return 0;
}

/* /proc/self/ns/<name> of the namespace kinds that hold sysctls. */
static const char *proc_ns_name(enum oci_ns_kind k)
{
	return k == OCI_NS_NET ? "net" : k == OCI_NS_IPC ? "ipc" : k == OCI_NS_UTS ? "uts" : NULL;
}

int ns_sysctl_check(const struct oci_spec *s, struct hull_err *err)
{
	for (size_t i = 0; i < s->n_sysctl; i++) {
		enum oci_ns_kind k = spec_sysctl_ns(s->sysctl[i].key);
		const char *name = proc_ns_name(k);
		char self[64];
		struct stat a, b;

		/* Keys of no namespace or of none the container has: refused by the model. */
		if (!name || !s->ns[k].present || !s->ns[k].path)
			continue;
		(void)snprintf(self, sizeof(self), "/proc/self/ns/%s", name);
		if (stat(s->ns[k].path, &a) < 0)
			return hull_err_set(err, errno, "config.json: linux.namespaces: %s namespace %s",
					    spec_ns_name(k), s->ns[k].path);
		if (stat(self, &b) < 0)
			return hull_err_set(err, errno, "stat %s", self);
		if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return hull_err_setx(err, EPERM,
					     "config.json: linux.sysctl: %s: the %s namespace %s is "
					     "the host's (the runtime's own)",
					     s->sysctl[i].key, spec_ns_name(k), s->ns[k].path);
	}
	return 0;
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
