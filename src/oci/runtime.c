/* create: the parent side of the lifecycle (runtime-spec runtime.md "Lifecycle", step 1-6). */
#include "oci/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/childwait.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "container/cgroup.h"
#include "container/idmount.h"
#include "container/ns.h"
#include "container/process.h"
#include "container/sync.h"
#include "oci/hooks.h"
#include "oci/init.h"
#include "spec/spec.h"
#include "oci/state.h"

void oci_create_opts_init(struct oci_create_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->stdio[0] = opts->stdio[1] = opts->stdio[2] = -1;
}

int oci_id_validate(const char *id, struct hull_err *err)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0)
		return hull_err_setx(err, EINVAL, "container id must not be empty");
	if (n > OCI_ID_MAX)
		return hull_err_setx(err, ENAMETOOLONG,
				     "container id is too long (%zu bytes, at most %d)", n,
				     OCI_ID_MAX);
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return hull_err_setx(err, EINVAL, "invalid container id \"%s\"", id);
	/* The id is not echoed below: it may hold a newline, and errors are one line. */
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_+-.", *p)))
			return hull_err_setx(
				err, EINVAL,
				"invalid container id: only letters, digits and _+-. are "
				"allowed (character %zu is 0x%02x)",
				(size_t)(p - id), (unsigned char)*p);
	return 0;
}

static char *now_rfc3339(void)
{
	struct timespec ts;
	char buf[RFC3339_MAX] = "";

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)rfc3339_format(&ts, buf, sizeof(buf)); /* the clock is in range */
	return xstrdup(buf);
}

static uint64_t mount_id(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx) < 0 ||
	    !(stx.stx_mask & STATX_MNT_ID))
		return 0;
	return stx.stx_mnt_id;
}

/*
 * A new user namespace: open each bind source now, with the runtime's privileges (open_tree
 * clones the tree, submounts included for rbind), for the init to attach: its root may not
 * be able to reach the source (a 0700 directory of the host's root). The init inherits the
 * fds with the clone. Where open_tree fails, the init binds by path as before.
 */
static void open_bind_sources(struct oci_spec *s)
{
	if (!s->ns[OCI_NS_USER].present || s->ns[OCI_NS_USER].path)
		return;
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct oci_mount *m = &s->mounts[i];
		int fd;

		if (!m->bind || m->has_src_fd)
			continue;
		fd = open_tree(AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
						    (m->recursive ? AT_RECURSIVE : 0));
		if (fd < 0) {
			log_debug("open_tree %s: %s: bound by path", m->source, strerror(errno));
			continue;
		}
		m->src_fd = fd;
		m->has_src_fd = true;
	}
}

/* Idmapped binds: made now, before the pid namespace is entered (the helper of
 * container/idmount.c must not be a process of the container's). */
static int open_idmapped_sources(struct oci_spec *s, struct hull_err *err)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		int r;

		if (s->mounts[i].idmap && (r = idmount_open(s, i, err)) < 0)
			return r;
	}
	return 0;
}

static void close_bind_sources(struct oci_spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (s->mounts[i].has_src_fd) {
			(void)close(s->mounts[i].src_fd);
			s->mounts[i].has_src_fd = false;
		}
}

static int check_spec(const struct oci_runtime_ctx *ctx, const struct oci_spec *s,
		      const struct oci_create_opts *opts, struct hull_err *err)
{
	if (ctx && ctx->systemd_cgroup)
		return hull_err_setx(err, ENOTSUP,
				     "--systemd-cgroup: the systemd cgroup driver is not supported "
				     "yet; use the cgroupfs driver");
	if (!s->has_process)
		return hull_err_setx(err, EINVAL,
				     "config.json: process: required field is missing");
	if (s->process.terminal && !opts->console_socket && opts->stdio[0] < 0)
		return hull_err_setx(err, EINVAL,
				     "config.json: process.terminal: a terminal needs "
				     "--console-socket");
	return ns_sysctl_check(s, err);
}

struct create_ctx {
	const struct oci_spec *spec;
	const char *id;
	struct state_rec rec;
	struct cgroup_paths cg; /* resolved and created before the clone */
	bool in_cgroup;         /* the child started in its v2 cgroup (CLONE_INTO_CGROUP) */
	uint64_t root_mnt_id;   /* of the rootfs before the clone (no mount namespace) */
	int sync_fd;
	pid_t pid;
};

/* Talk to the child until it is ready (or failed). */
static int parent_sync(struct create_ctx *c, const char *state_json, struct hull_err *err)
{
	const struct oci_spec *s = c->spec;
	int r;

	if ((r = sync_send(c->sync_fd, SYNC_GO, state_json, strlen(state_json))) < 0)
		return hull_err_set(err, -r, "sync with the container init");
	for (;;) {
		cleanup_free char *payload = NULL;
		enum sync_type t;

		r = sync_recv(c->sync_fd, &t, &payload);
		if (r == -EPIPE)
			return hull_err_setx(err, EPIPE, "container init exited during set-up");
		if (r < 0)
			return hull_err_set(err, -r, "sync with the container init");
		switch (t) {
		case SYNC_READY:
			return 0;
		case SYNC_ERR:
			if ((size_t)r != sizeof(struct hull_err))
				return hull_err_setx(err, EPROTO,
						     "container init: bad error message");
			memcpy(err, payload, sizeof(*err));
			err->msg[sizeof(err->msg) - 1] = '\0';
			return -(err->code ? err->code : EINVAL);
		case SYNC_HOOKS:
			if ((r = oci_hooks_run(s->hooks[OCI_HOOK_PRESTART],
					       s->n_hooks[OCI_HOOK_PRESTART], OCI_HOOK_PRESTART,
					       state_json, err)) < 0 ||
			    (r = oci_hooks_run(s->hooks[OCI_HOOK_CREATE_RUNTIME],
					       s->n_hooks[OCI_HOOK_CREATE_RUNTIME],
					       OCI_HOOK_CREATE_RUNTIME, state_json, err)) < 0)
				return r;
			if ((r = sync_send(c->sync_fd, SYNC_GO, NULL, 0)) < 0)
				return hull_err_set(err, -r, "sync with the container init");
			break;
		case SYNC_GO:
		case SYNC_TYPE_COUNT:
			return hull_err_setx(err, EPROTO, "container init: unexpected message %d",
					     t);
		}
	}
}

/*
 * cgroup_fd >= 0: start the child in that cgroup2 directory (CLONE_INTO_CGROUP, Linux 5.7),
 * which spares the parent a migration afterwards; *ret_in_cgroup says whether it worked (a
 * kernel without it, or a cgroup that refuses it, gets a plain clone and a later move).
 */
static pid_t clone_init(const struct oci_spec *s, int cgroup_fd, int *ret_pidfd,
			bool *ret_in_cgroup)
{
	struct clone_args ca = {
		.flags = (uint64_t)ns_clone_flags(s) | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};
	pid_t pid;

	*ret_in_cgroup = false;
	if (cgroup_fd >= 0) {
		struct clone_args cg = ca;

		cg.flags |= CLONE_INTO_CGROUP;
		cg.cgroup = (uint64_t)cgroup_fd;
		pid = (pid_t)syscall(SYS_clone3, &cg, sizeof(cg));
		if (pid >= 0) {
			*ret_in_cgroup = true;
			return pid;
		}
		log_debug("clone3(CLONE_INTO_CGROUP): %s: plain clone", strerror(errno));
	}
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/* After clone: the parent's half of create. */
static int create_parent(struct create_ctx *c, int dirfd, const struct oci_create_opts *opts,
			 struct hull_err *err)
{
	const struct oci_spec *s = c->spec;
	cleanup_free char *state_json = NULL;
	bool zombie = false;
	json_t *st;
	int r;

	if (s->ns[OCI_NS_USER].present && !s->ns[OCI_NS_USER].path &&
	    (r = ns_write_idmaps(c->pid, s, err)) < 0)
		return r;
	if ((r = cgroup_enter(&c->cg, c->pid, c->in_cgroup, err)) < 0)
		return r;
	c->rec.cgroup = cgroup_paths_to_json(&c->cg);
	if ((r = proc_stat_read(c->pid, &c->rec.starttime, &zombie)) < 0)
		return hull_err_set(err, -r, "read /proc/%d/stat", c->pid);
	/* What the hooks of create read: the environment is made (lifecycle step 2), the
	 * user's program not run yet: "created" (runtime.md "State", as crun). */
	st = state_to_json(&c->rec, OCI_STATUS_CREATED);
	state_json = hjson_dump(st, 0);
	json_decref(st);
	if ((r = parent_sync(c, state_json, err)) < 0)
		return r;
	if ((r = state_write(dirfd, &c->rec, err)) < 0)
		return r;
	if (opts->pid_file) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", c->pid);

		r = fd_write_file_atomic_at(AT_FDCWD, opts->pid_file, buf, (size_t)n, 0644);
		if (r < 0)
			return hull_err_set(err, -r, "--pid-file %s", opts->pid_file);
	}
	return 0;
}

static void fill_rec(struct state_rec *rec, const struct oci_spec *s, const char *id)
{
	rec->oci_version = s->oci_version;
	rec->id = (char *)id;
	rec->bundle = s->bundle;
	rec->rootfs = s->root_path;
	rec->created = now_rfc3339();
	rec->annotations = s->annotations;
	rec->hooks = s->hooks_json;
	rec->rootfs_bind = !s->ns[OCI_NS_MOUNT].present;
}

int oci_runtime_create(const struct oci_runtime_ctx *ctx, const char *id, const char *bundle,
		       const struct oci_create_opts *opts, pid_t *ret_pid, int *ret_pidfd,
		       struct hull_err *err)
{
	cleanup_oci_spec struct oci_spec *s = NULL;
	cleanup_close int dirfd = -1, fifo = -1, console = -1, pidfd = -1, sv0 = -1, sv1 = -1;
	cleanup_close int cgfd = -1;
	cleanup_free char *created = NULL;
	struct create_ctx c = { 0 };
	int sv[2], saved_pidns, saved_timens, r;
	const char *root = state_root(ctx);

	if ((r = oci_id_validate(id, err)) < 0 || (r = spec_load(bundle, &s, err)) < 0 ||
	    (r = check_spec(ctx, s, opts, err)) < 0)
		return r;
	if (opts->console_socket && (console = process_console_connect(opts->console_socket, err)) < 0)
		return console;
	if ((r = cgroup_paths_resolve(s->cgroups_path, id, &c.cg, err)) < 0)
		return r;
	dirfd = state_dir_create(root, id, err);
	if (dirfd < 0) {
		cgroup_paths_clear(&c.cg);
		return dirfd;
	}
	/* From here on, failure must remove the state directory (and the child). */
	if (mkfifoat(dirfd, EXEC_FIFO, 0600) < 0) {
		r = hull_err_set(err, errno, "mkfifo %s", EXEC_FIFO);
		goto err_rmdir;
	}
	/* Open the read side without blocking; the child polls it until `start` writes. */
	fifo = openat(dirfd, EXEC_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = hull_err_set(err, errno, "create the sync channel");
		goto err_rmdir;
	}
	sv0 = sv[0];
	sv1 = sv[1];
	/* The cgroup exists, with its limits, before the init does. */
	if ((r = cgroup_create(&c.cg, s, err)) < 0)
		goto err_rmdir;
	cgfd = cgroup_open_unified(&c.cg);
	if ((r = open_idmapped_sources(s, err)) < 0) {
		close_bind_sources(s);
		goto err_cgroup;
	}
	if ((r = ns_time_enter_for_children(s, &saved_timens, err)) < 0) {
		close_bind_sources(s);
		goto err_cgroup;
	}
	if ((r = ns_pid_enter_for_children(s, &saved_pidns, err)) < 0) {
		close_bind_sources(s);
		ns_time_restore(saved_timens);
		goto err_cgroup;
	}
	if (!s->ns[OCI_NS_MOUNT].present)
		c.root_mnt_id = mount_id(s->root_path);
	open_bind_sources(s);
	c.pid = clone_init(s, cgfd, &pidfd, &c.in_cgroup);
	if (c.pid == 0) {
		struct init_args a = {
			.spec = s, .opts = opts, .id = id, .sync_fd = sv1, .fifo_fd = fifo,
			.state_root = root,
			.console_fd = s->process.terminal ? console : -1,
			.new_userns = s->ns[OCI_NS_USER].present && !s->ns[OCI_NS_USER].path,
			.in_userns = s->ns[OCI_NS_USER].present,
		};

		(void)close(sv0);
		oci_init_main(&a);
	}
	r = c.pid < 0 ? -errno : 0;
	close_bind_sources(s);
	ns_pid_restore(saved_pidns);
	ns_time_restore(saved_timens);
	if (r < 0) {
		r = hull_err_set(err, -r, "clone the container init");
		goto err_cgroup;
	}
	(void)close(steal_fd(&sv1));
	(void)close(steal_fd(&fifo));
	c.spec = s;
	c.id = id;
	c.sync_fd = sv0;
	c.rec.pid = c.pid;
	fill_rec(&c.rec, s, id);
	created = c.rec.created;
	if ((r = create_parent(&c, dirfd, opts, err)) < 0)
		goto err_kill;
	json_decref(c.rec.cgroup);
	cgroup_paths_clear(&c.cg);
	*ret_pid = c.pid;
	if (ret_pidfd)
		*ret_pidfd = steal_fd(&pidfd);
	return 0;

err_kill:
	(void)kill(c.pid, SIGKILL);
	while (waitpid(c.pid, NULL, 0) < 0 && errno == EINTR)
		;
	/* Only a mount the init stacked on the rootfs (not one that was there before). */
	if (c.rec.rootfs_bind && mount_id(s->root_path) != c.root_mnt_id)
		(void)umount2(s->root_path, MNT_DETACH | UMOUNT_NOFOLLOW);
	json_decref(c.rec.cgroup);
err_cgroup:
	(void)cgroup_destroy(&c.cg, NULL);
err_rmdir:
	cgroup_paths_clear(&c.cg);
	(void)state_dir_remove(root, id, NULL);
	return r;
}

int oci_runtime_wait(pid_t pid)
{
	return child_wait(pid);
}
