/* Layers unpacked in parallel into the pull's staging directory (registry-http.h): the
 * unpacking, not the download, is most of a pull's time (docs/performance.md). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/strv.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/registry-http.h"

#define UNPACK_THREADS 2

struct job {
	int blob_fd, dir_fd;
	char *rel;      /* the unpacked directory, relative to the store root */
	char *what;
	char diff_id[DIGEST_STR_LEN + 1];
	int r;
	struct hull_err err;
};

struct pool {
	struct job *v;
	size_t n;
	atomic_size_t next;
	atomic_int failed;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	size_t i;

	while (!atomic_load(&p->failed) && (i = atomic_fetch_add(&p->next, 1)) < p->n) {
		struct job *j = &p->v[i];
		struct layer_limits lim = LAYER_LIMITS_DEFAULT;
		char got[DIGEST_STR_LEN + 1];

		j->r = layer_unpack(j->blob_fd, j->dir_fd, j->what, &lim, got, &j->err);
		if (j->r == 0 && strcmp(got, j->diff_id) != 0)
			j->r = hull_err_setx(&j->err, EBADMSG, "%s: unpacked digest %s differs "
					     "from diff_id %s", j->what, got, j->diff_id);
		if (j->r < 0)
			atomic_store(&p->failed, 1);
	}
	return NULL;
}

/* The config's rootfs.diff_ids, from the staging directory or the store. */
static int diff_ids_of(struct image_store *s, int dfd, const char *cdigest, const char *what,
		       char ***ret, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_free char *where = xasprintf("%s: config %s", what, cdigest);
	cleanup_json json_t *cfg = NULL;
	json_t *rootfs = NULL;
	size_t len = 0;
	int r = fd_read_file_at(dfd, digest_hex(cdigest), IMAGE_JSON_MAX, &buf, &len);

	if (r == -ENOENT)
		r = store_blob_read(s, cdigest, IMAGE_JSON_MAX, &buf, &len, err);
	else if (r < 0)
		r = hull_err_set(err, -r, "%s", where);
	if (r < 0)
		return r;
	if ((r = hjson_load_buf(buf, len, where, &cfg, err)) < 0 ||
	    (r = hjson_get_obj(cfg, "rootfs", where, true, &rootfs, err)) < 0)
		return r;
	return hjson_get_strv(rootfs, "diff_ids", where, true, IMAGE_MAX_LAYERS, ret, err);
}

/* A job for layer blob -> diff_id, or 0 without one when the store has the layer. */
static int job_make(struct image_store *s, const char *tmpname, int dfd, const char *blob,
		    const char *diff_id, const char *what, struct job *j, struct hull_err *err)
{
	cleanup_free char *name = xasprintf("L%s", digest_hex(diff_id));

	*j = (struct job){ .blob_fd = -1, .dir_fd = -1 };
	j->blob_fd = openat(dfd, digest_hex(blob), O_RDONLY | O_CLOEXEC);
	if (j->blob_fd < 0 && errno == ENOENT)
		j->blob_fd = store_blob_open(s, blob, err);
	else if (j->blob_fd < 0)
		return hull_err_set(err, errno, "%s: staged blob %s", what, blob);
	if (j->blob_fd < 0)
		return j->blob_fd;
	if (mkdirat(dfd, name, 0755) < 0 ||
	    (j->dir_fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return hull_err_set(err, errno, "%s: staging layer %s", what, diff_id);
	j->rel = xasprintf("%s/%s", tmpname, name);
	j->what = xasprintf("%s: layer %s", what, blob);
	memcpy(j->diff_id, diff_id, DIGEST_STR_LEN + 1);
	return 0;
}

static void jobs_free(struct job *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].blob_fd >= 0)
			(void)close(v[i].blob_fd);
		if (v[i].dir_fd >= 0)
			(void)close(v[i].dir_fd);
		free(v[i].rel);
		free(v[i].what);
	}
	free(v);
}

static int run_pool(struct pool *p, struct hull_err *err)
{
	pthread_t t[UNPACK_THREADS];
	size_t started = 0;

	for (; started < UNPACK_THREADS && started < p->n; started++)
		if (pthread_create(&t[started], NULL, worker, p) != 0)
			break;
	if (started == 0)
		(void)worker(p); /* no thread: do it here */
	for (size_t i = 0; i < started; i++)
		(void)pthread_join(t[i], NULL);
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].r < 0) {
			*err = p->v[i].err;
			return p->v[i].r;
		}
	return 0;
}

int reg_unpack_layers(struct image_store *s, const char *tmpname, int dfd, json_t *man,
		      const char *what, char ***ret_staged, struct hull_err *err)
{
	json_t *layers = json_object_get(man, "layers"), *l;
	const char *cdigest = json_string_value(json_object_get(json_object_get(man, "config"),
								"digest"));
	cleanup_strv char **diff_ids = NULL;
	struct pool p = { 0 };
	size_t i;
	int r = diff_ids_of(s, dfd, cdigest, what, &diff_ids, err);

	if (r < 0)
		return r;
	if (strv_length(diff_ids) != json_array_size(layers))
		return hull_err_setx(err, EINVAL, "%s: %zu layers but %zu rootfs.diff_ids", what,
				     json_array_size(layers), strv_length(diff_ids));
	p.v = xcalloc(json_array_size(layers) + 1, sizeof(*p.v));
	json_array_foreach(layers, i, l) {
		bool dup = false;

		if (!digest_is_valid(diff_ids[i]))
			r = hull_err_setx(err, EINVAL, "%s: rootfs.diff_ids[%zu]: invalid digest",
					  what, i);
		for (size_t k = 0; r == 0 && k < p.n; k++)
			dup |= strcmp(p.v[k].diff_id, diff_ids[i]) == 0;
		if (r < 0 || dup || store_layer_exists(s, diff_ids[i]))
			continue;
		r = job_make(s, tmpname, dfd, json_string_value(json_object_get(l, "digest")),
			     diff_ids[i], what, &p.v[p.n], err);
		p.n++;
		if (r < 0)
			break;
	}
	if (r == 0)
		r = run_pool(&p, err);
	for (i = 0; r == 0 && i < p.n; i++) {
		strv_push(ret_staged, p.v[i].rel);
		strv_push(ret_staged, p.v[i].diff_id);
	}
	jobs_free(p.v, p.n);
	return r;
}
