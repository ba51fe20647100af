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
#include "common/rmtree.h"
#include "common/strv.h"
#include "engine/human.h"
#include "engine/rootfs.h"
#include "engine/run.h"
#include "image/digest.h"

void ctr_list_free(struct ctr **v)
{
	for (size_t i = 0; v && v[i]; i++)
		ctr_free(v[i]);
	free(v);
}

enum ctr_status ctr_status_live(struct ctr *c)
{
	struct ctr_state *st = &c->state;

	/* A monitor killed with -9 cannot record the exit: the container is gone with it
	 * only if its init is gone too. */
	if (st->status == CTR_RUNNING && st->pid > 0 && kill(st->pid, 0) < 0 && errno == ESRCH &&
	    (st->monitor_pid <= 0 || kill(st->monitor_pid, 0) < 0)) {
		struct hull_err err;
		struct timespec ts;

		if (ctr_state_reload(c, &err) == 0 && st->status != CTR_RUNNING)
			return st->status;
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		st->status = CTR_EXITED;
		st->exit_code = -1;
		st->pid = 0;
		st->monitor_pid = 0;
		free(st->finished_at);
		st->finished_at = human_rfc3339(&ts);
		(void)ctr_state_save(c, &err);
		/* its init is gone, and with it the pid namespace: nothing uses the rootfs */
		(void)ctr_rootfs_teardown(c->dir, &err);
		return CTR_EXITED;
	}
	return st->status;
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
	r = ctr_record_read_at(dfd, c, err);
	if (r == -ENOENT && !creation_running(s)) {
		hull_err_clear(err);
		ctr_record_leftover(c);
		/* as any record: an interrupted creation may have written state.json */
		r = ctr_state_read_at(dfd, c, err);
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

	if (dfd < 0)
		return hull_err_set(err, errno, "%s", c->dir);
	return ctr_state_read_at(dfd, c, err);
}

int ctr_write_file(const char *dir, const char *name, const char *buf, size_t len,
		   unsigned mode, struct hull_err *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dfd < 0)
		return hull_err_set(err, errno, "%s", dir);
	r = fd_replace_file_at(dfd, name, buf, len, mode, 0);
	if (r < 0)
		return hull_err_set(err, -r, "%s/%s", dir, name);
	return 0;
}

int ctr_state_save(struct ctr *c, struct hull_err *err)
{
	return ctr_state_write(c, err);
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
	return strcmp(x->created, y->created);
}

int ctr_list(struct image_store *s, struct ctr ***ret, struct hull_err *err)
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

int ctr_load(struct image_store *s, const char *ref, struct ctr **ret,
		   struct hull_err *err)
{
	struct ctr **all = NULL;
	struct ctr *found = NULL;
	size_t matches = 0;
	int r;

	if (!ref || !*ref)
		return hull_err_setx(err, EINVAL, "empty container name");
	/* a full id opens the record itself: a record it cannot read is that error, not "no
	 * such container" (the listing skips what it cannot read) */
	if (strlen(ref) == CTR_ID_LEN && digest_is_hex_prefix(ref)) {
		r = ctr_open_dir(s, ref, ret, err);
		if (r != -ENOENT)
			return r;
		hull_err_clear(err);
	}
	r = ctr_list(s, &all, err);
	if (r < 0)
		return r;
	for (size_t i = 0; all[i] && !found; i++)
		if (strcmp(all[i]->name, ref) == 0 ||
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

int ctr_image_ids(struct image_store *s, char ***ret, struct hull_err *err)
{
	struct ctr **all = NULL;
	char **ids = NULL;
	int r;

	r = ctr_list(s, &all, err);
	if (r < 0)
		return r;
	for (size_t i = 0; all[i]; i++)
		if (all[i]->image_id && *all[i]->image_id)
			strv_push(&ids, all[i]->image_id);
	ctr_list_free(all);
	if (!ids)
		ids = xcalloc(1, sizeof(*ids));
	*ret = ids;
	return 0;
}

int ctr_names_lock(struct image_store *s, struct hull_err *err)
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

char **ctr_names(struct image_store *s)
{
	struct ctr **all = NULL;
	struct hull_err err;
	char **names = xcalloc(1, sizeof(*names));

	if (ctr_list(s, &all, &err) < 0)
		return names;
	for (size_t i = 0; all[i]; i++)
		strv_push(&names, all[i]->name);
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

int ctr_prune_incomplete(struct image_store *s, unsigned *ret_n, struct hull_err *err)
{
	cleanup_close int lock = ctr_names_lock(s, err);
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
		ctr_record_leftover(c);
		if (engine_remove(s, c, true, &e2) == 0)
			(*ret_n)++;
		ctr_free(c);
	}
	return 0;
}

char *ctr_using_image(struct image_store *s, const char *image_id)
{
	struct ctr **all = NULL;
	struct hull_err err;
	char *name = NULL;

	if (ctr_list(s, &all, &err) < 0)
		return NULL;
	for (size_t i = 0; all[i] && !name; i++)
		if (all[i]->image_id && strcmp(all[i]->image_id, image_id) == 0)
			name = xstrdup(*all[i]->name ? all[i]->name : all[i]->id);
	ctr_list_free(all);
	return name;
}
