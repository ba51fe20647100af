/* Volumes in <store>/volumes and the mounts of a container (volume.h). */
#include "engine/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/ident.h"
#include "common/json.h"
#include "common/path.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/human.h"
#include "engine/rootfs.h"
#include "engine/volspec.h"

int volume_lock(struct image_store *s, struct hull_err *err)
{
	int fd;

	if (mkdirat(s->root_fd, "volumes", 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s/volumes", s->root);
	fd = openat(s->root_fd, "volumes/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_set(err, errno, "%s/volumes/.lock", s->root);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;

			(void)close(fd);
			return hull_err_set(err, e, "locking %s/volumes/.lock", s->root);
		}
	return fd;
}

static char *random_hex(void)
{
	char *out = xmalloc(65);

	ident_random_hex(out, 32);
	return out;
}

static json_t *labels_json(char *const *labels)
{
	json_t *o = json_object();

	for (size_t i = 0; labels && labels[i]; i++) {
		cleanup_free char *k = xstrdup(labels[i]);
		char *v = strchr(k, '=');

		if (v)
			*v++ = '\0';
		(void)json_object_set_new(o, k, json_string(v ? v : ""));
	}
	return o;
}

int volume_publish(struct image_store *s, const char *name, char *const *labels,
		   bool anonymous, struct hull_err *err)
{
	cleanup_free char *meta = xasprintf("volumes/%s/meta.json", name);
	cleanup_free char *buf = NULL;
	cleanup_free char *created = NULL;
	struct timespec ts;
	json_t *m;
	int r;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	created = human_rfc3339(&ts);
	m = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:b}", "Name", name, "CreatedAt", created,
		      "Driver", "local", "Labels", labels_json(labels), "Scope", "local",
		      "Options", json_object(), "Anonymous", anonymous);
	buf = hjson_dump(m, JSON_INDENT(2));
	json_decref(m);
	r = fd_write_file_atomic_at(s->root_fd, meta, buf, strlen(buf), 0600);
	return r < 0 ? hull_err_set(err, -r, "%s/%s", s->root, meta) : 0;
}

int volume_create_unpublished(struct image_store *s, const char *name, char *const *labels,
			      char **ret_name, bool *ret_created, struct hull_err *err)
{
	cleanup_free char *n = name ? xstrdup(name) : random_hex();
	cleanup_free char *dir = xasprintf("volumes/%s", n);
	cleanup_free char *data = xasprintf("volumes/%s/_data", n);
	cleanup_free char *meta = xasprintf("volumes/%s/meta.json", n);
	int r;

	(void)labels;
	*ret_created = false;
	if (!vol_name_is_valid(n))
		return hull_err_setx(err, EINVAL, "invalid volume name '%s': use "
				     "[a-zA-Z0-9][a-zA-Z0-9_.-]*", n);
	if (faccessat(s->root_fd, meta, F_OK, 0) == 0) {
		if (ret_name)
			*ret_name = steal_ptr(&n);
		return 0;
	}
	/* a directory without meta.json is a create that died: made again */
	(void)rm_tree_at(s->root_fd, dir);
	if (mkdirat(s->root_fd, dir, 0700) < 0 || mkdirat(s->root_fd, data, 0755) < 0) {
		r = hull_err_set(err, errno, "%s/%s", s->root, dir);
		(void)rm_tree_at(s->root_fd, dir);
		return r;
	}
	*ret_created = true;
	if (ret_name)
		*ret_name = steal_ptr(&n);
	return 0;
}

int volume_create(struct image_store *s, const char *name, char *const *labels,
		  char **ret_name, bool *ret_created, struct hull_err *err)
{
	cleanup_free char *n = NULL;
	int r = volume_create_unpublished(s, name, labels, &n, ret_created, err);

	if (r == 0 && *ret_created && (r = volume_publish(s, n, labels, !name, err)) < 0) {
		cleanup_free char *dir = xasprintf("volumes/%s", n);

		(void)rm_tree_at(s->root_fd, dir);
		*ret_created = false;
	}
	if (r == 0 && ret_name)
		*ret_name = steal_ptr(&n);
	return r;
}

int volume_inspect(struct image_store *s, const char *name, json_t **ret, struct hull_err *err)
{
	cleanup_free char *meta = xasprintf("%s/volumes/%s/meta.json", s->root, name);
	int r;

	if (!vol_name_is_valid(name) || access(meta, F_OK) < 0)
		return hull_err_setx(err, ENOENT, "no such volume: %s", name);
	r = hjson_load_file(meta, 1 << 20, ret, err);
	if (r < 0)
		return r;
	(void)json_object_set_new(*ret, "Mountpoint",
				  json_sprintf("%s/volumes/%s/_data", s->root, name));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int volume_names(struct image_store *s, char ***ret, struct hull_err *err)
{
	cleanup_free char *dir = xasprintf("%s/volumes", s->root);
	char **names = xcalloc(1, sizeof(*names));
	DIR *d = opendir(dir);
	struct dirent *de;

	*ret = names;
	if (!d)
		return errno == ENOENT ? 0 : hull_err_set(err, errno, "%s", dir);
	while ((de = readdir(d))) {
		cleanup_free char *meta = xasprintf("%s/meta.json", de->d_name);

		if (vol_name_is_valid(de->d_name) && faccessat(dirfd(d), meta, F_OK, 0) == 0)
			strv_push(&names, de->d_name);
	}
	(void)closedir(d);
	qsort(names, strv_length(names), sizeof(*names), cmp_str);
	*ret = names;
	return 0;
}

int engine_mounts_read(const char *dir, json_t **ret, struct hull_err *err)
{
	cleanup_free char *p = xasprintf("%s/mounts.json", dir);

	*ret = NULL;
	if (access(p, F_OK) < 0)
		return errno == ENOENT ? 0 : hull_err_set(err, errno, "%s", p);
	return hjson_load_file(p, 16 << 20, ret, err) < 0 ? -EINVAL : 0;
}

/* the same, leniently: NULL for none, unreadable or not a list (removal goes on) */
static json_t *mounts_load(const char *dir)
{
	struct hull_err e;
	json_t *m = NULL;

	if (engine_mounts_read(dir, &m, &e) < 0 || !json_is_array(m)) {
		json_decref(m);
		return NULL;
	}
	return m;
}

char *volume_user(struct image_store *s, const char *name)
{
	struct ctr **all = NULL;
	struct hull_err e;
	char *user = NULL;

	if (ctr_list(s, &all, &e) < 0)
		return NULL;
	for (size_t i = 0; all[i] && !user; i++) {
		cleanup_json json_t *m = mounts_load(all[i]->dir);
		size_t j;
		json_t *v;

		json_array_foreach(m, j, v) {
			const char *n = json_string_value(json_object_get(v, "Name"));

			if (n && strcmp(n, name) == 0) {
				user = xstrdup(all[i]->name);
				break;
			}
		}
	}
	ctr_list_free(all);
	return user;
}

int volume_remove(struct image_store *s, const char *name, struct hull_err *err)
{
	cleanup_free char *dir = xasprintf("volumes/%s", name);
	cleanup_free char *meta = xasprintf("volumes/%s/meta.json", name);
	cleanup_free char *user = NULL;
	int r;

	if (!vol_name_is_valid(name) || faccessat(s->root_fd, meta, F_OK, 0) < 0)
		return hull_err_setx(err, ENOENT, "no such volume: %s", name);
	user = volume_user(s, name);
	if (user)
		return hull_err_setx(err, EBUSY, "volume %s is in use by container %s", name,
				     user);
	/* meta.json first: from then on it is no volume, whatever stops the rest */
	if (unlinkat(s->root_fd, meta, 0) < 0)
		return hull_err_set(err, errno, "%s/%s", s->root, meta);
	r = rm_tree_at(s->root_fd, dir);
	return r < 0 ? hull_err_set(err, -r, "removing %s/%s", s->root, dir) : 0;
}

void run_mounts_free(struct run_opts *o)
{
	for (size_t i = 0; i < o->n_mounts; i++) {
		free(o->mounts[i].type);
		free(o->mounts[i].src);
		free(o->mounts[i].dst);
		free(o->mounts[i].opts);
	}
	free(o->mounts);
	o->mounts = NULL;
	o->n_mounts = 0;
}

char **engine_anon_volumes(const char *dir)
{
	cleanup_json json_t *m = mounts_load(dir);
	char **names = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(m, i, v)
		if (json_is_true(json_object_get(v, "Anonymous")) &&
		    json_string_value(json_object_get(v, "Name")))
			strv_push(&names, json_string_value(json_object_get(v, "Name")));
	return names;
}

void engine_anon_volumes_remove(struct image_store *s, char *const *names)
{
	cleanup_close int lock = -1;
	struct hull_err e;

	if (!names || !names[0])
		return;
	lock = volume_lock(s, &e);
	if (lock < 0)
		return;
	/* a volume another container shares (--volumes-from) stays: volume_remove refuses */
	for (size_t i = 0; names[i]; i++)
		(void)volume_remove(s, names[i], &e);
}

void engine_mounts_undo(struct image_store *s, const char *dir)
{
	cleanup_json json_t *m = mounts_load(dir);
	cleanup_free char *p = xasprintf("%s/mounts.json", dir);
	cleanup_strv char **made = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(m, i, v)
		if (json_is_true(json_object_get(v, "Created")))
			strv_push(&made, json_string_value(json_object_get(v, "Name")));
	/* this container no longer counts as a user */
	(void)unlink(p);
	engine_anon_volumes_remove(s, made);
}
