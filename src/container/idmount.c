#include "container/idmount.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "container/idmap.h"
#include "container/ns.h"

/* The helper: unshares a user namespace, says so, and waits until its hold pipe closes. */
static void helper_main(int ready, int hold, int hold_w)
{
	char c = 0;

	/* Our copy of the write end would keep the pipe open forever. */
	(void)close(hold_w);
	if (unshare(CLONE_NEWUSER) < 0)
		_exit(1);
	if (write(ready, &c, 1) != 1)
		_exit(1);
	/* EOF (or an error) when the runtime is done with our namespace. */
	_exit(read(hold, &c, 1) < 0 ? 1 : 0);
}

static int helper_maps(pid_t pid, const struct oci_spec *s, const struct oci_mount *m,
		       const char *w, struct hull_err *err)
{
	char uf[96], gf[96];
	int r;

	if (!m->n_uid_mappings)
		return ns_write_idmaps(pid, s, err);
	(void)snprintf(uf, sizeof(uf), "%s.uidMappings", w);
	(void)snprintf(gf, sizeof(gf), "%s.gidMappings", w);
	if ((r = idmap_write(pid, "uid_map", IDMAP_NEWUIDMAP, m->uid_mappings, m->n_uid_mappings,
			     uf, err)) < 0)
		return r;
	return idmap_write(pid, "gid_map", IDMAP_NEWGIDMAP, m->gid_mappings, m->n_gid_mappings,
			   gf, err);
}

/* An fd on a new user namespace with the mount's (or the container's) mappings. */
static int userns_new(const struct oci_spec *s, const struct oci_mount *m, const char *w,
		      struct hull_err *err)
{
	cleanup_close int rd = -1, hold = -1;
	int ready[2], hp[2], status, fd = -1, r = 0;
	char path[64], c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	if (pipe2(hp, O_CLOEXEC) < 0) {
		r = -errno;
		(void)close(ready[0]);
		(void)close(ready[1]);
		return hull_err_set(err, -r, "pipe");
	}
	pid = fork();
	if (pid == 0)
		helper_main(ready[1], hp[0], hp[1]);
	r = pid < 0 ? -errno : 0;
	rd = ready[0];
	hold = hp[1];
	(void)close(ready[1]);
	(void)close(hp[0]);
	if (r < 0)
		return hull_err_set(err, -r, "%s: fork the idmap helper", w);
	if (read(rd, &c, 1) != 1)
		r = hull_err_setx(err, EPERM, "%s: cannot create a user namespace to idmap it", w);
	else if ((r = helper_maps(pid, s, m, w, err)) >= 0) {
		(void)snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? hull_err_set(err, errno, "%s: open %s", w, path) : fd;
	}
	(void)close(steal_fd(&hold));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return r;
}

static int userns_for(const struct oci_spec *s, const struct oci_mount *m, const char *w,
		      struct hull_err *err)
{
	const struct oci_namespace *u = &s->ns[OCI_NS_USER];
	int fd;

	if (m->n_uid_mappings)
		return userns_new(s, m, w, err);
	if (!u->present)
		return hull_err_setx(err, EINVAL,
				     "%s: idmapped without uidMappings/gidMappings needs a user "
				     "namespace for the container",
				     w);
	if (!u->path)
		return userns_new(s, m, w, err);
	fd = open(u->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "%s: open the user namespace %s", w, u->path);
	return fd;
}

int idmount_open(const struct oci_spec *s, size_t i, struct hull_err *err)
{
	struct oci_mount *m = &s->mounts[i];
	cleanup_close int ns = -1, tree = -1;
	struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP };
	char w[64];

	(void)snprintf(w, sizeof(w), "config.json: mounts[%zu]", i);
	ns = userns_for(s, m, w, err);
	if (ns < 0)
		return ns;
	tree = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					      (m->recursive ? AT_RECURSIVE : 0));
	if (tree < 0)
		return hull_err_set(err, errno, "%s: open_tree %s", w, m->source);
	a.userns_fd = (uint64_t)ns;
	/* ridmap: every submount of the tree; idmap: its top only (crun). */
	if (mount_setattr(tree, "", AT_EMPTY_PATH | (m->idmap_recursive ? AT_RECURSIVE : 0), &a,
			  sizeof(a)) < 0)
		return hull_err_set(err, errno, "%s: idmap %s (mount_setattr)", w, m->source);
	m->src_fd = steal_fd(&tree);
	m->has_src_fd = true;
	return 0;
}
