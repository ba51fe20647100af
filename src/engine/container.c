#include "engine/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "engine/human.h"
#include "engine/rootfs.h"
#include "engine/run.h"
#include "image/digest.h"

void ctr_free(struct ctr *c)
{
	if (!c)
		return;
	free(c->dir);
	json_decref(c->rec);
	json_decref(c->state);
	free(c);
}

void ctr_list_free(struct ctr **v)
{
	for (size_t i = 0; v && v[i]; i++)
		ctr_free(v[i]);
	free(v);
}

const char *ctr_str(const struct ctr *c, const char *key)
{
	return json_string_value(json_object_get(c->rec, key));
}

const char *ctr_name(const struct ctr *c)
{
	return ctr_str(c, "Name");
}

static const char *const status_names[CTR_STATUS_COUNT] = {
	[CTR_CREATED] = "created",
	[CTR_RUNNING] = "running",
	[CTR_EXITED] = "exited",
	[CTR_DEAD] = "dead",
};

const char *ctr_status_name(enum ctr_status st)
{
	return st < CTR_STATUS_COUNT ? status_names[st] : "unknown";
}

enum ctr_status ctr_status(const struct ctr *c)
{
	const char *s = json_string_value(json_object_get(c->state, "Status"));

	for (int i = 0; s && i < CTR_STATUS_COUNT; i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum ctr_status)i;
	return CTR_CREATED;
}

pid_t ctr_pid(const struct ctr *c)
{
	return (pid_t)json_integer_value(json_object_get(c->state, "Pid"));
}

int ctr_exit_code(const struct ctr *c)
{
	return (int)json_integer_value(json_object_get(c->state, "ExitCode"));
}

enum ctr_status ctr_status_live(struct ctr *c)
{
	enum ctr_status st = ctr_status(c);
	pid_t mon = (pid_t)json_integer_value(json_object_get(c->state, "MonitorPid"));

	/* A monitor killed with -9 cannot record the exit: the container is gone with it
	 * only if its init is gone too. */
	if (st == CTR_RUNNING && ctr_pid(c) > 0 && kill(ctr_pid(c), 0) < 0 && errno == ESRCH &&
	    (mon <= 0 || kill(mon, 0) < 0)) {
		cleanup_free char *now = NULL;
		struct hull_err err;
		struct timespec ts;

		if (ctr_state_reload(c, &err) == 0 && ctr_status(c) != CTR_RUNNING)
			return ctr_status(c);
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		now = human_rfc3339(&ts);
		(void)json_object_set_new(c->state, "Status", json_string("exited"));
		(void)json_object_set_new(c->state, "ExitCode", json_integer(-1));
		(void)json_object_set_new(c->state, "Pid", json_integer(0));
		(void)json_object_set_new(c->state, "MonitorPid", json_integer(0));
		(void)json_object_set_new(c->state, "FinishedAt", json_string(now));
		(void)ctr_state_save(c, &err);
		/* its init is gone, and with it the pid namespace: nothing uses the rootfs */
		(void)ctr_rootfs_teardown(c->dir, &err);
		return CTR_EXITED;
	}
	return st;
}

static int load_json_at(int dirfd, const char *name, const char *where, json_t **ret,
			struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r = fd_read_file_at(dirfd, name, 1u << 20, &buf, &len);

	if (r < 0)
		return hull_err_set(err, -r, "%s/%s", where, name);
	return hjson_load_buf(buf, len, name, ret, err);
}

/* A record for a directory that has no hull.json: a creation or a removal interrupted. */
static json_t *leftover_record(const char *id)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:[]}}", "Id", id, "Name", "", "Image", "",
			 "ImageName", "", "Created", "", "Config", "Cmd");
}

/*
 * A creation holds the names lock throughout: a directory without hull.json is a leftover
 * only when nobody holds it (we may hold it ourselves, through another descriptor: then
 * the directory is not reported, which is what creation wants).
 */
static bool creation_running(struct image_store *s)
{
	cleanup_close int fd = openat(s->root_fd, "containers/.lock", O_RDWR | O_CLOEXEC);

	return fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0;
}

static int ctr_open_dir(struct image_store *s, const char *id, struct ctr **ret,
			struct hull_err *err)
{
	cleanup_close int dfd = -1;
	struct ctr *c;
	int r;

	c = xcalloc(1, sizeof(*c));
	(void)snprintf(c->id, sizeof(c->id), "%s", id);
	c->dir = xasprintf("%s/containers/%s", s->root, id);
	dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = hull_err_set(err, errno, "container %s", id);
		ctr_free(c);
		return r;
	}
	r = load_json_at(dfd, "hull.json", c->dir, &c->rec, err);
	if (r == -ENOENT && !creation_running(s)) {
		c->rec = leftover_record(id);
		r = 0;
	}
	if (r == 0)
		r = load_json_at(dfd, "state.json", c->dir, &c->state, err);
	/* state.json goes first when a container is removed (ctr_dir_remove) */
	if (r == -ENOENT) {
		c->state = json_pack("{s:s, s:i, s:i, s:i, s:s, s:s}", "Status", "dead", "Pid", 0,
				     "MonitorPid", 0, "ExitCode", 0, "StartedAt", "",
				     "FinishedAt", "");
		r = 0;
	}
	if (r < 0) {
		ctr_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int ctr_state_reload(struct ctr *c, struct hull_err *err)
{
	cleanup_close int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	json_t *st = NULL;
	int r;

	if (dfd < 0)
		return hull_err_set(err, errno, "%s", c->dir);
	r = load_json_at(dfd, "state.json", c->dir, &st, err);
	if (r < 0)
		return r;
	json_decref(c->state);
	c->state = st;
	return 0;
}

int ctr_write_file(const char *dir, const char *name, const char *buf, size_t len,
		   unsigned mode, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_free char *tmp = xasprintf("%s/.%s.%d", dir, name, (int)getpid());
	cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
				    mode);
	int r;

	if (fd < 0)
		return hull_err_set(err, errno, "%s", tmp);
	r = fd_write_all(fd, buf, len);
	if (r == 0 && fchmod(fd, mode) < 0) /* the umask must not narrow it */
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return hull_err_set(err, -r, "%s", path);
	}
	return 0;
}

int ctr_state_save(struct ctr *c, struct hull_err *err)
{
	cleanup_free char *buf = hjson_dump(c->state, JSON_COMPACT);

	return ctr_write_file(c->dir, "state.json", buf, strlen(buf), 0600, err);
}

/* Ids of the container directories (complete ones: being created ones start with '.'). */
static int list_ids(struct image_store *s, char ***ret, struct hull_err *err)
{
	int fd = openat(s->root_fd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	char **ids = NULL;

	if (fd < 0)
		return hull_err_set(err, errno, "%s/containers", s->root);
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return hull_err_set(err, errno, "%s/containers", s->root);
	}
	while ((de = readdir(d)))
		if (strlen(de->d_name) == CTR_ID_LEN && digest_is_hex_prefix(de->d_name))
			strv_push(&ids, de->d_name);
	(void)closedir(d);
	if (!ids)
		ids = xcalloc(1, sizeof(*ids));
	*ret = ids;
	return 0;
}

static int cmp_created(const void *a, const void *b)
{
	const struct ctr *x = *(struct ctr *const *)a, *y = *(struct ctr *const *)b;
	const char *cx = ctr_str(x, "Created"), *cy = ctr_str(y, "Created");

	return strcmp(cx ? cx : "", cy ? cy : "");
}

int container_list(struct image_store *s, struct ctr ***ret, struct hull_err *err)
{
	cleanup_strv char **ids = NULL;
	struct ctr **v;
	size_t n = 0;
	int r;

	r = list_ids(s, &ids, err);
	if (r < 0)
		return r;
	v = xcalloc(strv_length(ids) + 1, sizeof(*v));
	for (size_t i = 0; ids[i]; i++) {
		struct hull_err e2;

		/* a container being removed right now may vanish: skip it */
		if (ctr_open_dir(s, ids[i], &v[n], &e2) == 0)
			n++;
	}
	qsort(v, n, sizeof(*v), cmp_created);
	*ret = v;
	return 0;
}

int container_load(struct image_store *s, const char *ref, struct ctr **ret,
		   struct hull_err *err)
{
	struct ctr **all = NULL;
	struct ctr *found = NULL;
	size_t matches = 0;
	int r;

	if (!ref || !*ref)
		return hull_err_setx(err, EINVAL, "empty container name");
	r = container_list(s, &all, err);
	if (r < 0)
		return r;
	for (size_t i = 0; all[i] && !found; i++)
		if ((ctr_name(all[i]) && strcmp(ctr_name(all[i]), ref) == 0) ||
		    strcmp(all[i]->id, ref) == 0)
			found = all[i];
	for (size_t i = 0; all[i] && !found; i++)
		if (strncmp(all[i]->id, ref, strlen(ref)) == 0)
			matches++;
	if (!found && matches == 1)
		for (size_t i = 0; all[i] && !found; i++)
			if (strncmp(all[i]->id, ref, strlen(ref)) == 0)
				found = all[i];
	if (!found) {
		ctr_list_free(all);
		if (matches > 1)
			return hull_err_setx(err, EEXIST, "container id prefix '%s' is ambiguous",
					     ref);
		return hull_err_setx(err, ENOENT, "no such container: %s", ref);
	}
	for (size_t i = 0; all[i]; i++)
		if (all[i] != found)
			ctr_free(all[i]);
	free(all);
	*ret = found;
	return 0;
}

int container_image_ids(struct image_store *s, char ***ret, struct hull_err *err)
{
	struct ctr **all = NULL;
	char **ids = NULL;
	int r;

	r = container_list(s, &all, err);
	if (r < 0)
		return r;
	for (size_t i = 0; all[i]; i++)
		if (ctr_str(all[i], "ImageID"))
			strv_push(&ids, ctr_str(all[i], "ImageID"));
	ctr_list_free(all);
	if (!ids)
		ids = xcalloc(1, sizeof(*ids));
	*ret = ids;
	return 0;
}

int container_names_lock(struct image_store *s, struct hull_err *err)
{
	int fd = openat(s->root_fd, "containers/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return hull_err_set(err, errno, "%s/containers/.lock", s->root);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;

			(void)close(fd);
			return hull_err_set(err, e, "locking %s/containers/.lock", s->root);
		}
	return fd;
}

char **container_names(struct image_store *s)
{
	struct ctr **all = NULL;
	struct hull_err err;
	char **names = xcalloc(1, sizeof(*names));

	if (container_list(s, &all, &err) < 0)
		return names;
	for (size_t i = 0; all[i]; i++)
		if (ctr_name(all[i]))
			strv_push(&names, ctr_name(all[i]));
	ctr_list_free(all);
	return names;
}

int ctr_dir_remove(const char *dir)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return -errno;
	/* state.json first: from then on the record reads "dead" (ctr_open_dir) */
	if (unlinkat(dfd, "state.json", 0) < 0 && errno != ENOENT)
		r = -errno;
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "hull.json") != 0)
			r = rm_tree_at(dfd, de->d_name);
	(void)closedir(d);
	if (r == 0 && unlinkat(dfd, "hull.json", 0) < 0 && errno != ENOENT)
		r = -errno;
	/* whatever a racing writer added since is removed with the directory */
	return r < 0 ? r : rm_tree_at(AT_FDCWD, dir);
}

int container_prune_incomplete(struct image_store *s, unsigned *ret_n, struct hull_err *err)
{
	cleanup_close int lock = container_names_lock(s, err);
	cleanup_strv char **ids = NULL;
	int r;

	*ret_n = 0;
	if (lock < 0)
		return lock;
	r = list_ids(s, &ids, err);
	if (r < 0)
		return r;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_free char *dir = xasprintf("%s/containers/%s", s->root, ids[i]);
		cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct ctr *c = NULL;
		struct hull_err e2;

		/* creation holds the lock we hold: a missing file means a leftover */
		if (dfd < 0 || (faccessat(dfd, "hull.json", F_OK, 0) == 0 &&
				faccessat(dfd, "state.json", F_OK, 0) == 0))
			continue;
		c = xcalloc(1, sizeof(*c));
		(void)snprintf(c->id, sizeof(c->id), "%s", ids[i]);
		c->dir = steal_ptr(&dir);
		c->rec = leftover_record(ids[i]);
		c->state = json_pack("{s:s}", "Status", "dead");
		if (engine_remove(s, c, true, &e2) == 0)
			(*ret_n)++;
		ctr_free(c);
	}
	return 0;
}

char *container_using_image(struct image_store *s, const char *image_id)
{
	struct ctr **all = NULL;
	struct hull_err err;
	char *name = NULL;

	if (container_list(s, &all, &err) < 0)
		return NULL;
	for (size_t i = 0; all[i] && !name; i++)
		if (ctr_str(all[i], "ImageID") && strcmp(ctr_str(all[i], "ImageID"), image_id) == 0)
			name = xstrdup(ctr_name(all[i]) ? ctr_name(all[i]) : all[i]->id);
	ctr_list_free(all);
	return name;
}
