#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/path.h"
#include "container/cgroup.h"

static const char *const status_names[OCI_STATUS_COUNT] = {
	[OCI_STATUS_CREATING] = "creating",
	[OCI_STATUS_CREATED] = "created",
	[OCI_STATUS_RUNNING] = "running",
	[OCI_STATUS_STOPPED] = "stopped",
	[OCI_STATUS_PAUSED] = "paused",
};

const char *oci_status_name(enum oci_status status)
{
	return status < OCI_STATUS_COUNT ? status_names[status] : "unknown";
}

const char *state_root(const struct oci_runtime_ctx *ctx)
{
	return ctx && ctx->root && *ctx->root ? ctx->root : OCI_RUNTIME_DEFAULT_ROOT;
}

void state_rec_free(struct state_rec *rec)
{
	if (!rec)
		return;
	free(rec->oci_version);
	free(rec->id);
	free(rec->bundle);
	free(rec->rootfs);
	free(rec->created);
	json_decref(rec->annotations);
	json_decref(rec->hooks);
	json_decref(rec->cgroup);
	free(rec);
}

int state_dir_create(const char *root, const char *id, struct hull_err *err)
{
	cleanup_close int rfd = -1;
	int r, fd;

	r = path_mkdir_p(root, 0700);
	if (r < 0)
		return hull_err_set(err, -r, "state root %s", root);
	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return hull_err_set(err, errno, "state root %s", root);
	if (mkdirat(rfd, id, 0711) < 0) {
		if (errno == EEXIST)
			return hull_err_setx(err, EEXIST, "container with id \"%s\" already exists",
					     id);
		return hull_err_set(err, errno, "state directory %s/%s", root, id);
	}
	fd = openat(rfd, id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "state directory %s/%s", root, id);
	return fd;
}

int state_dir_open(const char *root, const char *id, struct hull_err *err)
{
	cleanup_free char *path = NULL;
	int fd, r;

	if ((r = oci_id_validate(id, err)) < 0)
		return r;
	path = xasprintf("%s/%s", root, id);
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return hull_err_setx(err, ENOENT, "container \"%s\" does not exist", id);
		return hull_err_set(err, errno, "state directory %s", path);
	}
	return fd;
}

int state_dir_remove(const char *root, const char *id, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", root, id);
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return errno == ENOENT ? 0 : hull_err_set(err, errno, "open %s", path);
	d = fdopendir(fd);
	if (!d)
		return hull_err_set(err, errno, "open %s", path);
	fd = -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	(void)closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		return hull_err_set(err, errno, "remove %s", path);
	return 0;
}

json_t *state_to_json(const struct state_rec *rec, enum oci_status status)
{
	json_t *o = json_object();

	json_object_set_new(o, "ociVersion", json_string(rec->oci_version));
	json_object_set_new(o, "id", json_string(rec->id));
	json_object_set_new(o, "pid", json_integer(status == OCI_STATUS_STOPPED ? 0 : rec->pid));
	json_object_set_new(o, "status", json_string(state_status_name(rec, status)));
	json_object_set_new(o, "bundle", json_string(rec->bundle));
	json_object_set_new(o, "rootfs", json_string(rec->rootfs));
	json_object_set_new(o, "created", json_string(rec->created));
	json_object_set_new(o, "owner", json_string(""));
	if (rec->annotations && json_object_size(rec->annotations))
		json_object_set(o, "annotations", rec->annotations);
	return o;
}

int state_write(int dirfd, const struct state_rec *rec, struct hull_err *err)
{
	json_t *o = state_to_json(rec, OCI_STATUS_CREATED);
	cleanup_free char *buf = NULL;
	int r;

	/* Private fields under "hull": not part of the OCI state we print. */
	json_object_set_new(o, "hull", json_pack("{s:I,s:I,s:O?,s:O?,s:b}", "pid",
						 (json_int_t)rec->pid, "starttime",
						 (json_int_t)rec->starttime, "hooks", rec->hooks,
						 "cgroup", rec->cgroup, "rootfsBind",
						 rec->rootfs_bind));
	buf = hjson_dump(o, 0);
	json_decref(o);
	r = fd_write_file_atomic_at(dirfd, STATE_FILE, buf, strlen(buf), 0600);
	if (r < 0)
		return hull_err_set(err, -r, "write %s", STATE_FILE);
	return 0;
}

int state_read(int dirfd, const char *id, struct state_rec **ret, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_free struct state_rec *rec = NULL;
	size_t len = 0;
	const char *v[5] = { 0 };
	json_t *o = NULL, *h = NULL, *ann = NULL, *hooks = NULL, *cg = NULL;
	json_int_t pid = 0, st = 0;
	int r, bind = 0;

	r = fd_read_file_at(dirfd, STATE_FILE, 1 << 22, &buf, &len);
	if (r == -ENOENT)
		return hull_err_setx(err, ENOENT, "container \"%s\" does not exist", id);
	if (r < 0)
		return hull_err_set(err, -r, "container \"%s\": read %s", id, STATE_FILE);
	if ((r = hjson_load_buf(buf, len, STATE_FILE, &o, err)) < 0)
		return hull_err_prefix(err, "container \"%s\"", id);
	if (json_unpack(o, "{s:s,s:s,s:s,s:s,s:s,s?o,s:{s:I,s:I,s?o,s?o,s?b}}", "ociVersion",
			&v[0], "id", &v[1], "bundle", &v[2], "rootfs", &v[3], "created", &v[4],
			"annotations", &ann, "hull", "pid", &pid, "starttime", &st, "hooks", &hooks,
			"cgroup", &cg, "rootfsBind", &bind) < 0) {
		json_decref(o);
		return hull_err_setx(err, EINVAL, "container \"%s\": state.json is damaged", id);
	}
	(void)h;
	rec = xcalloc(1, sizeof(*rec));
	rec->oci_version = xstrdup(v[0]);
	rec->id = xstrdup(v[1]);
	rec->bundle = xstrdup(v[2]);
	rec->rootfs = xstrdup(v[3]);
	rec->created = xstrdup(v[4]);
	rec->pid = (pid_t)pid;
	rec->starttime = (unsigned long long)st;
	rec->annotations = ann ? json_incref(ann) : json_object();
	rec->hooks = hooks && !json_is_null(hooks) ? json_incref(hooks) : NULL;
	rec->cgroup = cg && json_is_object(cg) ? json_incref(cg) : NULL;
	rec->rootfs_bind = bind;
	json_decref(o);
	*ret = steal_ptr(&rec);
	return 0;
}

int proc_stat_read(pid_t pid, unsigned long long *ret_starttime, bool *ret_zombie)
{
	char path[64], buf[1024];
	cleanup_close int fd = -1;
	ssize_t n;
	char *p, state;
	unsigned long long start = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = fd_read_all(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice threads itrealvalue starttime" (proc(5)) */
	if (sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			  "%*s %llu",
		   &state, &start) != 2)
		return -EINVAL;
	*ret_starttime = start;
	*ret_zombie = state == 'Z' || state == 'X';
	return 0;
}

enum oci_status state_status(int dirfd, const struct state_rec *rec)
{
	unsigned long long start = 0;
	bool zombie = false;
	struct stat st;

	if (rec->pid <= 0 || proc_stat_read(rec->pid, &start, &zombie) < 0 || zombie ||
	    start != rec->starttime)
		return OCI_STATUS_STOPPED;
	if (fstatat(dirfd, EXEC_FIFO, &st, 0) == 0)
		return OCI_STATUS_CREATED;
	return OCI_STATUS_RUNNING;
}

int state_cgroup(const struct state_rec *rec, struct cgroup_paths *ret, struct hull_err *err)
{
	if (!rec->cgroup)
		return hull_err_setx(err, ENOENT, "container \"%s\": no cgroup recorded", rec->id);
	return cgroup_paths_from_json(rec->cgroup, ret, err);
}

bool state_is_paused(const struct state_rec *rec, enum oci_status status)
{
	struct cgroup_paths p;
	bool frozen;

	if ((status != OCI_STATUS_RUNNING && status != OCI_STATUS_CREATED) ||
	    state_cgroup(rec, &p, NULL) < 0)
		return false;
	frozen = cgroup_is_frozen(&p);
	cgroup_paths_clear(&p);
	return frozen;
}

const char *state_status_name(const struct state_rec *rec, enum oci_status status)
{
	return state_is_paused(rec, status) ? "paused" : oci_status_name(status);
}
