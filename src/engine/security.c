#include "engine/security.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "engine/config.h"
#include "engine/seccomp-profile.h"

/* The seccomp profile: none with --privileged (docker ignores seccomp= then) or
 * seccomp=unconfined; a file's, or hull's default, resolved for the final capabilities. */
static int build_seccomp(const struct run_opts *o, struct oci_spec *s, struct hull_err *err)
{
	uint64_t caps = s->process.caps[OCI_CAP_BOUNDING];
	json_t *def;
	int r;

	if (o->privileged || (o->seccomp && strcmp(o->seccomp, "unconfined") == 0))
		return 0;
	if (o->seccomp) {
		r = seccomp_profile_load(o->seccomp, caps, &s->seccomp, err);
		return r < 0 ? hull_err_prefix(err, "--security-opt seccomp") : 0;
	}
	def = seccomp_profile_default_json();
	r = seccomp_profile_resolve(def, caps, "the default seccomp profile", &s->seccomp, err);
	json_decref(def);
	return r;
}

static void add_device(struct oci_spec *s, const char *path, const struct stat *st)
{
	struct oci_device *d;

	s->devices = xreallocarray(s->devices, s->n_devices + 2, sizeof(*s->devices));
	d = &s->devices[s->n_devices++];
	memset(d, 0, 2 * sizeof(*d));
	d->path = xstrdup(path);
	d->type = S_ISBLK(st->st_mode) ? 'b' : 'c';
	d->major = major(st->st_rdev);
	d->minor = minor(st->st_rdev);
	d->has_mode = d->has_uid = d->has_gid = true;
	d->mode = st->st_mode & 07777;
	d->uid = st->st_uid;
	d->gid = st->st_gid;
}

static void add_dev_rule(struct oci_resources *r, char type, int64_t maj, int64_t min,
			 const char *access)
{
	struct oci_dev_rule *d;

	r->devices = xreallocarray(r->devices, r->n_devices + 1, sizeof(*r->devices));
	d = &r->devices[r->n_devices++];
	*d = (struct oci_dev_rule){ .allow = true, .type = type, .major = maj, .minor = min };
	(void)snprintf(d->access, sizeof(d->access), "%s", access);
	r->has_devices = true;
}

/* --device: the host node must be a character or block device (symlinks followed, as
 * docker does); it is made at path with the host's mode and owner, perms in the cgroup. */
static int build_devices(const struct run_opts *o, struct oci_spec *s, struct hull_err *err)
{
	for (size_t i = 0; i < o->n_devices; i++) {
		const struct run_device *d = &o->devices[i];
		struct stat st;

		if (stat(d->host, &st) < 0)
			return hull_err_set(err, errno, "--device %s", d->host);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return hull_err_setx(err, EINVAL, "--device %s: not a character or block "
					     "device", d->host);
		if (s->n_devices >= OCI_MAX_DEVICES)
			return hull_err_setx(err, E2BIG, "--device: more than %d devices",
					     OCI_MAX_DEVICES);
		add_device(s, d->path, &st);
		add_dev_rule(&s->resources, S_ISBLK(st.st_mode) ? 'b' : 'c', major(st.st_rdev),
			     minor(st.st_rdev), d->perms);
	}
	return 0;
}

/* Directories of /dev that hold no host device a container should get (runc's
 * HostDevices): terminals of the host's devpts, its shm, mqueue, fd links. */
static bool skip_dev_dir(const char *name)
{
	static const char *const skip[] = { "pts", "shm", "mqueue", "fd", ".udev", ".lxc",
					    ".lxd-mounts", NULL };

	for (size_t i = 0; skip[i]; i++)
		if (strcmp(name, skip[i]) == 0)
			return true;
	return false;
}

/* --privileged: every device node under the host's /dev, as docker does: a walk with a
 * list of directories still to read (no recursion), at most 64 of them */
static void host_devices(struct oci_spec *s)
{
	cleanup_strv char **todo = NULL;
	size_t next = 0;

	strv_push(&todo, "/dev");
	while (todo[next] && s->n_devices < OCI_MAX_DEVICES) {
		const char *dir = todo[next++];
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d && (e = readdir(d)) && s->n_devices < OCI_MAX_DEVICES) {
			cleanup_free char *p = xasprintf("%s/%s", dir, e->d_name);
			struct stat st;

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			    lstat(p, &st) < 0)
				continue;
			if (S_ISDIR(st.st_mode) && !skip_dev_dir(e->d_name) &&
			    strv_length(todo) < 64)
				strv_push(&todo, p);
			/* /dev/console is the runtime's (the container's terminal, or none) */
			else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
				 strcmp(p, "/dev/console") != 0)
				add_device(s, p, &st);
		}
		if (d)
			(void)closedir(d);
	}
}

static int build_sysctls(const struct run_opts *o, struct oci_spec *s)
{
	for (size_t i = 0; o->sysctls && o->sysctls[i]; i++) {
		const char *kv = o->sysctls[i];
		size_t k = strcspn(kv, "=");

		s->sysctl = xreallocarray(s->sysctl, s->n_sysctl + 2, sizeof(*s->sysctl));
		s->sysctl[s->n_sysctl].key = xstrndup(kv, k);
		s->sysctl[s->n_sysctl].value = xstrdup(kv[k] ? kv + k + 1 : "");
		s->n_sysctl++;
		memset(&s->sysctl[s->n_sysctl], 0, sizeof(*s->sysctl));
	}
	return 0;
}

/* --group-add: gids, or names from the image's /etc/group; each once */
static int build_groups(const struct run_opts *o, int rootfs_fd, struct oci_process *p,
			struct hull_err *err)
{
	for (size_t i = 0; o->group_add && o->group_add[i]; i++) {
		uint32_t gid;
		bool seen = false;
		int r = ctr_group_resolve(rootfs_fd, o->group_add[i], &gid, err);

		if (r < 0)
			return hull_err_prefix(err, "--group-add %s", o->group_add[i]);
		for (size_t k = 0; k < p->n_additional_gids; k++)
			seen = seen || p->additional_gids[k] == gid;
		if (seen)
			continue;
		if (p->n_additional_gids >= OCI_MAX_GIDS)
			return hull_err_setx(err, E2BIG, "--group-add: more than %d groups",
					     OCI_MAX_GIDS);
		p->additional_gids = xreallocarray(p->additional_gids, p->n_additional_gids + 1,
						   sizeof(uint32_t));
		p->additional_gids[p->n_additional_gids++] = gid;
	}
	return 0;
}

int engine_security_build(const struct run_opts *o, int rootfs_fd, struct oci_spec *s,
			  struct hull_err *err)
{
	int r;

	if ((r = build_seccomp(o, s, err)) < 0 || (r = build_devices(o, s, err)) < 0 ||
	    (r = build_groups(o, rootfs_fd, &s->process, err)) < 0 ||
	    (r = build_sysctls(o, s)) < 0)
		return r;
	s->process.no_new_privileges = o->no_new_privs;
	if (o->unmask_paths) {
		strv_free(s->masked_paths);
		strv_free(s->readonly_paths);
		s->masked_paths = s->readonly_paths = NULL;
	}
	if (o->n_rlimits) {
		s->process.rlimits = xcalloc(o->n_rlimits + 1, sizeof(*s->process.rlimits));
		memcpy(s->process.rlimits, o->rlimits, o->n_rlimits * sizeof(*o->rlimits));
		s->process.n_rlimits = o->n_rlimits;
	}
	if (o->privileged) {
		/* docker's: the host's devices, and a rule that allows every device */
		host_devices(s);
		add_dev_rule(&s->resources, 'a', -1, -1, "rwm");
	}
	return 0;
}
