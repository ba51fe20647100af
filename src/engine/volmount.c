/*
 * -v, --mount, --tmpfs, --volumes-from and the image's Volumes resolved into the mounts of
 * config.json (engine_mounts_resolve in volume.h): every value is parsed before anything
 * is made, then volumes are created (copied up from the image when new, as docker does).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/path.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/rootfs.h"
#include "engine/volspec.h"
#include "engine/volume.h"

struct req {
	struct vol_spec v;
	const char *flag, *arg; /* for messages; flag NULL: the image's VOLUME */
};

struct reqs {
	struct req *r;
	size_t n;
	json_t *from; /* entries taken from --volumes-from containers */
};

static void reqs_clear(struct reqs *q)
{
	for (size_t i = 0; i < q->n; i++)
		vol_spec_clear(&q->r[i].v);
	free(q->r);
	json_decref(q->from);
}

/* dst and every destination in q are normalised where they enter (vol_parse_*, add_from,
 * the image's keys in parse_all): a plain comparison. */
static bool dst_taken(const struct reqs *q, const char *dst)
{
	size_t i;
	json_t *e;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->r[i].v.dst, dst) == 0)
			return true;
	json_array_foreach(q->from, i, e)
		if (strcmp(json_string_value(json_object_get(e, "Destination")), dst) == 0)
			return true;
	return false;
}

static int add_flag(struct reqs *q, const char *flag, const char *arg, struct hull_err *err)
{
	struct req rq = { .flag = flag, .arg = arg };
	int r;

	if (strcmp(flag, "-v") == 0)
		r = vol_parse_v(arg, &rq.v, err);
	else if (strcmp(flag, "--mount") == 0)
		r = vol_parse_mount(arg, &rq.v, err);
	else
		r = vol_parse_tmpfs(arg, &rq.v, err);
	if (r == 0 && dst_taken(q, rq.v.dst))
		r = hull_err_setx(err, EINVAL, "%s %s: duplicate mount point %s", flag, arg,
				  rq.v.dst);
	if (r < 0) {
		vol_spec_clear(&rq.v);
		return r;
	}
	q->r = xrealloc(q->r, (q->n + 1) * sizeof(*q->r));
	q->r[q->n++] = rq;
	return 0;
}

/* --volumes-from CTR[:ro|rw]: its mounts (not those it inherited from the image's files) */
static int add_from(struct image_store *s, struct reqs *q, const char *arg,
		    struct hull_err *err)
{
	cleanup_free char *ref = xstrdup(arg);
	cleanup_ctr struct ctr *c = NULL;
	cleanup_json json_t *m = NULL;
	char *mode = strchr(ref, ':');
	struct hull_err e2;
	size_t i;
	json_t *e;

	if (mode)
		*mode++ = '\0';
	if (mode && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
		return hull_err_setx(err, EINVAL, "--volumes-from %s: unknown mode '%s' (ro or rw)",
				     arg, mode);
	if (!*ref || ctr_load(s, ref, &c, &e2) < 0)
		return hull_err_setx(err, ENOENT, "--volumes-from %s: no such container", arg);
	if (engine_mounts_read(c->dir, &m, err) < 0)
		return -EINVAL;
	json_array_foreach(m, i, e) {
		const char *raw = json_string_value(json_object_get(e, "Destination"));
		cleanup_free char *dst = raw && raw[0] == '/' ? path_normalize(raw) : NULL;
		json_t *copy;

		/* a record may predate normalised destinations: normalised as it enters */
		if (!dst || strcmp(dst, "/") == 0 || dst_taken(q, dst))
			continue;
		copy = json_deep_copy(e);
		(void)json_object_del(copy, "Created");
		(void)json_object_set_new(copy, "Destination", json_string(dst));
		if (mode)
			(void)json_object_set_new(copy, "RW", json_boolean(strcmp(mode, "rw") == 0));
		(void)json_array_append_new(q->from, copy);
	}
	return 0;
}

/*
 * An image's VOLUME entries are each a volume made, copied up and mounted at create: a real
 * image has a handful, and one image must not make a create make thousands (docker sets no
 * cap; podman neither). Each is a path in the container, so at most PATH_MAX - 1 bytes.
 */
#define IMAGE_VOLUMES_MAX 128

static int image_volumes_check(const struct run_opts *o, json_t *vols, struct hull_err *err)
{
	const char *k;
	json_t *v;

	if (vols && !json_is_null(vols) && !json_is_object(vols))
		return hull_err_setx(err, EINVAL, "image %s: config.Volumes is not an object",
				     o->image);
	if (json_object_size(vols) > IMAGE_VOLUMES_MAX)
		return hull_err_setx(err, E2BIG, "image %s: config.Volumes has %zu entries (at "
				     "most %d)", o->image, json_object_size(vols),
				     IMAGE_VOLUMES_MAX);
	json_object_foreach(vols, k, v)
		if (strlen(k) >= PATH_MAX)
			return hull_err_setx(err, ENAMETOOLONG, "image %s: config.Volumes: an "
					     "entry of %zu bytes (at most %d)", o->image,
					     strlen(k), PATH_MAX - 1);
	return 0;
}

static int parse_all(struct image_store *s, const struct run_opts *o, json_t *icfg,
		     struct reqs *q, struct hull_err *err)
{
	const char *k;
	json_t *v;
	int r = image_volumes_check(o, json_object_get(icfg, "Volumes"), err);

	q->from = json_array();
	for (size_t i = 0; r == 0 && o->volumes && o->volumes[i]; i++)
		r = add_flag(q, "-v", o->volumes[i], err);
	for (size_t i = 0; r == 0 && o->mount_args && o->mount_args[i]; i++)
		r = add_flag(q, "--mount", o->mount_args[i], err);
	for (size_t i = 0; r == 0 && o->tmpfs && o->tmpfs[i]; i++)
		r = add_flag(q, "--tmpfs", o->tmpfs[i], err);
	for (size_t i = 0; r == 0 && o->volumes_from && o->volumes_from[i]; i++)
		r = add_from(s, q, o->volumes_from[i], err);
	/* the image's VOLUME entries not covered by a flag: anonymous volumes */
	json_object_foreach(json_object_get(icfg, "Volumes"), k, v) {
		struct req rq = { .v = { .type = VOL_VOLUME } };

		if (r < 0 || k[0] != '/')
			continue;
		rq.v.dst = path_normalize(k);
		/* "/data" and "/data/" in one image are one volume */
		if (strcmp(rq.v.dst, "/") == 0 || dst_taken(q, rq.v.dst)) {
			vol_spec_clear(&rq.v);
			continue;
		}
		q->r = xrealloc(q->r, (q->n + 1) * sizeof(*q->r));
		q->r[q->n++] = rq;
	}
	return r;
}

static void push_mount(struct run_opts *o, const char *type, const char *src, const char *dst,
		       const char *opts)
{
	o->mounts = xrealloc(o->mounts, (o->n_mounts + 1) * sizeof(*o->mounts));
	o->mounts[o->n_mounts++] = (struct run_mount){
		.type = xstrdup(type), .src = xstrdup(src), .dst = path_normalize(dst),
		.opts = xstrdup(opts),
	};
}

/* a bind's host path: relative ones from the working directory (docker >= 23) */
static int bind_source(const struct req *rq, char **ret, struct hull_err *err)
{
	char cwd[PATH_MAX];
	cleanup_free char *abs = NULL;
	struct stat st;

	if (rq->v.src[0] == '/') {
		abs = xstrdup(rq->v.src);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return hull_err_set(err, errno, "%s %s: the working directory", rq->flag,
					    rq->arg);
		abs = xasprintf("%s/%s", cwd, rq->v.src);
	}
	*ret = path_normalize(abs);
	if (stat(*ret, &st) == 0)
		return 0;
	/* -v makes a missing host directory, --mount refuses it (docker's rules) */
	if (strcmp(rq->flag, "--mount") == 0 || errno != ENOENT)
		return hull_err_setx(err, ENOENT, "%s %s: bind source path does not exist: %s",
				     rq->flag, rq->arg, *ret);
	if (path_mkdir_p(*ret, 0755) < 0)
		return hull_err_set(err, errno, "%s %s: %s", rq->flag, rq->arg, *ret);
	return 0;
}

/* a new volume gets the image's files at its mount point (docker's copy-up) */
static int copy_up(struct image_store *s, int rootfs, const char *name, const char *dst,
		   struct hull_err *err)
{
	cleanup_free char *data = xasprintf("volumes/%s/_data", name);
	cleanup_close int src = path_open_in_root(rootfs, dst, O_RDONLY | O_DIRECTORY |
						  O_CLOEXEC, 0, 0);
	cleanup_close int dd = -1;
	struct stat st;

	if (src < 0)
		return 0; /* nothing there (or not a directory): an empty volume */
	dd = openat(s->root_fd, data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dd < 0)
		return hull_err_set(err, errno, "%s/%s", s->root, data);
	if (fstat(src, &st) == 0) {
		if (fchown(dd, st.st_uid, st.st_gid) < 0 || fchmod(dd, st.st_mode & 07777) < 0)
			return hull_err_set(err, errno, "%s/%s", s->root, data);
	}
	return ctr_copy_tree(src, dd, CTR_COPY_NO_DEVICES, err);
}

/* A volume (named or anonymous) is nodev: its files come from images and containers, and a
 * device node written there must not open the host's device. Not nosuid (docker's neither);
 * binds keep what their source has. */
static char *mount_opts(bool ro, const char *prop, bool volume)
{
	return xasprintf("rbind,%s,%s%s", ro ? "ro" : "rw", prop ? prop : "rprivate",
			 volume ? ",nodev" : "");
}

static char *tmpfs_opts(const struct vol_spec *v, bool docker_tmpfs)
{
	cleanup_free char *size = v->tmpfs_size ? xasprintf(",size=%lldk",
							    (long long)((v->tmpfs_size + 1023) / 1024))
						: xstrdup(docker_tmpfs ? ",size=65536k" : "");

	/* --tmpfs is noexec unless told (docker); --mount type=tmpfs is not */
	return xasprintf("nosuid,nodev%s,mode=%o%s%s%s%s", docker_tmpfs ? ",noexec" : "",
			 v->tmpfs_mode, size, v->ro ? ",ro" : "", v->tmpfs_opts ? "," : "",
			 v->tmpfs_opts ? v->tmpfs_opts : "");
}

static int make_one(struct image_store *s, struct run_opts *o, const struct req *rq, int rootfs,
		    json_t *rec, struct hull_err *err)
{
	const struct vol_spec *v = &rq->v;
	cleanup_free char *src = NULL;
	cleanup_free char *opts = NULL;
	cleanup_free char *name = NULL;
	bool created = false;
	int r;

	if (v->type == VOL_TMPFS) {
		opts = tmpfs_opts(v, rq->flag && strcmp(rq->flag, "--tmpfs") == 0);
		push_mount(o, "tmpfs", "tmpfs", v->dst, opts);
		(void)json_array_append_new(rec, json_pack("{s:s, s:s, s:s, s:b}", "Type",
				"tmpfs", "Source", "", "Destination", v->dst, "RW", !v->ro));
		return 0;
	}
	if (v->type == VOL_BIND) {
		r = bind_source(rq, &src, err);
		if (r < 0)
			return r;
	} else {
		r = volume_create_unpublished(s, v->src, v->labels, &name, &created, err);
		/* recorded at once: a failure after it removes what it made */
		(void)json_array_append_new(rec, json_pack("{s:s, s:s, s:s, s:b, s:b, s:b}",
				"Type", "volume", "Name", name ? name : "", "Destination", v->dst,
				"RW", !v->ro, "Anonymous", !v->src, "Created", created));
		if (r == 0 && created && !v->nocopy)
			r = copy_up(s, rootfs, name, v->dst, err);
		/* meta.json after the copy: a create killed mid-copy leaves no volume that looks
		 * complete */
		if (r == 0 && created)
			r = volume_publish(s, name, v->labels, !v->src, err);
		if (r < 0 && created) {
			cleanup_free char *vd = xasprintf("volumes/%s", name);

			(void)rm_tree_at(s->root_fd, vd);
		}
		if (r < 0)
			return r;
		src = xasprintf("%s/volumes/%s/_data", s->root, name);
		json_object_set_new(json_array_get(rec, json_array_size(rec) - 1), "Source",
				    json_string(src));
	}
	opts = mount_opts(v->ro, v->prop, v->type != VOL_BIND);
	push_mount(o, "bind", src, v->dst, opts);
	if (v->type == VOL_BIND)
		(void)json_array_append_new(rec, json_pack("{s:s, s:s, s:s, s:b, s:s}", "Type",
				"bind", "Source", src, "Destination", v->dst, "RW", !v->ro,
				"Propagation", v->prop ? v->prop : "rprivate"));
	return 0;
}

static int write_rec(const char *dir, json_t *rec, struct hull_err *err)
{
	cleanup_free char *buf = hjson_dump(rec, JSON_COMPACT);

	return ctr_write_file(dir, "mounts.json", buf, strlen(buf), 0600, err);
}

int engine_mounts_resolve(struct image_store *s, struct run_opts *o, json_t *icfg, int rootfs,
			  const char *dir, struct hull_err *err)
{
	struct reqs q = { 0 };
	cleanup_json json_t *rec = json_array();
	cleanup_close int lock = -1;
	size_t i;
	json_t *e;
	int r = parse_all(s, o, icfg, &q, err);

	o->mounts = NULL;
	o->n_mounts = 0;
	if (r == 0 && (q.n > 0 || json_array_size(q.from) > 0))
		r = lock = volume_lock(s, err);
	for (i = 0; r >= 0 && i < q.n; i++)
		r = make_one(s, o, &q.r[i], rootfs, rec, err);
	json_array_foreach(q.from, i, e) {
		const char *src = json_string_value(json_object_get(e, "Source"));
		const char *type = json_string_value(json_object_get(e, "Type"));
		const char *dst = json_string_value(json_object_get(e, "Destination"));
		cleanup_free char *opts = NULL;

		if (r < 0 || !src || !type || !dst)
			continue;
		if (strcmp(type, "tmpfs") == 0) {
			continue; /* docker does not share a tmpfs either */
		}
		opts = mount_opts(!json_is_true(json_object_get(e, "RW")),
				  json_string_value(json_object_get(e, "Propagation")),
				  strcmp(type, "volume") == 0);
		push_mount(o, "bind", src, dst, opts);
		(void)json_array_append(rec, e);
	}
	/* the record even on failure: engine_mounts_undo reads what was made */
	if (json_array_size(rec) > 0) {
		struct hull_err e2;
		int w = write_rec(dir, rec, r < 0 ? &e2 : err);

		if (r >= 0)
			r = w;
	}
	reqs_clear(&q);
	if (r < 0) {
		if (lock >= 0)
			(void)close(lock);
		lock = -1;
		engine_mounts_undo(s, dir);
		run_mounts_free(o);
		return r;
	}
	return 0;
}
