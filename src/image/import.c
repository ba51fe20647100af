#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/path.h"
#include "common/strv.h"
#include "image/tarball.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/source.h"
#include "image/transfer.h"

/* Where blobs come from: a directory, possibly a staging directory inside the store. */
struct source {
	int dirfd;
	const char *tmprel; /* dirfd's path relative to the store root when staged, or NULL */
	const char *label;  /* for messages */
	const char *repo;   /* repository for names that are only a tag */
	char ***stored;     /* relpath, digest pairs already stored from a staging dir */
};

int image_layer_ensure(struct image_store *s, const char *what, const char *blob,
		       const char *diff_id, struct hull_err *err)
{
	cleanup_free char *tmpname = NULL;
	cleanup_free char *rel = NULL;
	cleanup_free char *lwhat = NULL;
	cleanup_close int dfd = -1;
	cleanup_close int bfd = -1;
	char got[DIGEST_STR_LEN + 1];
	struct layer_limits lim = LAYER_LIMITS_DEFAULT;
	int r;

	if (store_layer_exists(s, diff_id))
		return 0;
	bfd = store_blob_open(s, blob, err);
	if (bfd < 0)
		return bfd;
	r = image_store_mktemp(s, &tmpname, &dfd, err);
	if (r < 0)
		return r;
	lwhat = xasprintf("%s: layer %s", what, blob);
	r = layer_unpack(bfd, dfd, lwhat, &lim, got, err);
	if (r == 0 && strcmp(got, diff_id) != 0)
		r = hull_err_setx(err, EBADMSG, "%s: unpacked digest %s differs from diff_id %s",
				  lwhat, got, diff_id);
	rel = store_layer_relpath(diff_id);
	if (r == 0 && renameat(s->root_fd, tmpname, s->root_fd, rel) < 0)
		r = hull_err_set(err, errno, "%s: storing", lwhat);
	if (r == 0)
		image_store_txn_added(s, rel);
	if (r < 0)
		(void)rm_rf_at(s->root_fd, tmpname);
	return r;
}

/* True if relpath is a regular file reached without any symbolic link. */
static bool no_symlinks_to(int dirfd, const char *relpath)
{
	cleanup_close int fd = path_open_in_root(dirfd, relpath, O_PATH | O_NOFOLLOW, 0,
						 RESOLVE_NO_SYMLINKS);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* A blob's size must be the one its descriptor declares (image-spec descriptor.md). */
static int check_size(const struct source *src, const char *digest, uint64_t got,
		      int64_t declared, struct hull_err *err)
{
	if (declared >= 0 && got != (uint64_t)declared)
		return hull_err_setx(err, EBADMSG, "%s: blob %s: %llu bytes, but its descriptor "
				     "declares %lld", src->label, digest, (unsigned long long)got,
				     (long long)declared);
	return 0;
}

/*
 * Store the blob at relpath in the source; verify expect when given, and the declared size
 * when not negative (before anything is stored).
 */
static int src_put(struct image_store *s, const struct source *src, const char *relpath,
		   const char *expect, int64_t declared, char *ret_digest, uint64_t *ret_size,
		   struct hull_err *err)
{
	cleanup_close int fd = -1;
	struct stat st;
	int r;

	/* a staged file is renamed into the store: a second reference to the same path (docker
	 * save names an identical layer file once per use) takes the stored blob */
	for (size_t i = 0; !expect && src->stored && *src->stored && (*src->stored)[i]; i += 2)
		if (strcmp((*src->stored)[i], relpath) == 0)
			expect = (*src->stored)[i + 1];
	if (expect && store_blob_exists(s, expect)) {
		cleanup_free char *rel = store_blob_relpath(expect);

		if (fstatat(s->root_fd, rel, &st, 0) < 0)
			return hull_err_set(err, errno, "blob %s", expect);
		r = check_size(src, expect, (uint64_t)st.st_size, declared, err);
		if (r < 0)
			return r;
		memcpy(ret_digest, expect, DIGEST_STR_LEN + 1);
		*ret_size = (uint64_t)st.st_size;
		return 0;
	}
	/* relpath comes from the archive (manifest.json): it names a file inside it, never
	 * outside, even through the archive's own symlinks (RESOLVE_IN_ROOT) */
	if (relpath[0] == '/' || strcmp(relpath, "..") == 0 || strncmp(relpath, "../", 3) == 0 ||
	    strstr(relpath, "/../") || (strlen(relpath) >= 3 &&
					strcmp(relpath + strlen(relpath) - 3, "/..") == 0))
		return hull_err_setx(err, EPERM, "%s: '%s': path leaves the archive", src->label,
				     relpath);
	fd = store_open_regular_in(src->dirfd, relpath);
	if (fd == -EINVAL)
		return hull_err_setx(err, EINVAL, "%s: %s: not a regular file", src->label,
				     relpath);
	if (fd < 0)
		return hull_err_set(err, -fd, "%s: %s", src->label, relpath);
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "%s: %s", src->label, relpath);
	r = check_size(src, expect ? expect : relpath, (uint64_t)st.st_size, declared, err);
	if (r < 0)
		return r;
	if (src->tmprel && no_symlinks_to(src->dirfd, relpath)) {
		/* staged inside the store: hash, then rename rather than copy */
		cleanup_free char *tmpname = xasprintf("%s/%s", src->tmprel, relpath);

		r = store_blob_put_file(s, tmpname, expect, ret_digest, ret_size, err);
		if (r == 0 && src->stored) {
			strv_push(src->stored, relpath);
			strv_push(src->stored, ret_digest);
		}
	} else {
		r = store_blob_put_fd(s, fd, expect, ret_digest, ret_size, err);
	}
	if (r < 0)
		return hull_err_prefix(err, "%s: %s", src->label, relpath);
	return 0;
}

/* A descriptor's "size" (required by image-spec descriptor.md): a non-negative integer. */
static int desc_size(json_t *desc, const char *where, const char *field, int64_t *ret,
		     struct hull_err *err)
{
	json_t *v = json_object_get(desc, "size");

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return hull_err_setx(err, EINVAL, "%s: %s.size: %s", where, field,
				     v ? "not a non-negative integer" : "missing");
	*ret = (int64_t)json_integer_value(v);
	return 0;
}

/*
 * Store the config blob at relpath (verified against expect and declared when given) and
 * read its rootfs.diff_ids, which must number nlayers (the manifest's field named field).
 */
static int put_config(struct image_store *s, const struct source *src, const char *relpath,
		      const char *expect, int64_t declared, const char *where, const char *field,
		      size_t nlayers, char *ret_digest, char ***ret_diff_ids,
		      struct hull_err *err)
{
	cleanup_strv char **diff_ids = NULL;
	struct image_info info = { 0 };
	uint64_t size;
	int r;

	r = src_put(s, src, relpath, expect, declared, ret_digest, &size, err);
	if (r < 0)
		return r;
	memcpy(info.config, ret_digest, sizeof(info.config));
	r = image_config(s, &info, NULL, &diff_ids, err);
	if (r < 0)
		return r;
	if (nlayers != strv_length(diff_ids))
		return hull_err_setx(err, EINVAL, "%s: %zu %s but %zu rootfs.diff_ids", where,
				     nlayers, field, strv_length(diff_ids));
	*ret_diff_ids = steal_ptr(&diff_ids);
	return 0;
}

/* Store the manifest's config and layers from src, unpack the layers, and check them. */
static int import_manifest(struct image_store *s, const struct source *src, const char *mdigest,
			   const char *what, struct hull_err *err)
{
	cleanup_json json_t *man = NULL;
	cleanup_strv char **diff_ids = NULL;
	cleanup_free char *mwhere = xasprintf("%s: manifest %s", what, mdigest);
	json_t *config = NULL, *layers = NULL, *l;
	const char *cdigest = NULL;
	char got[DIGEST_STR_LEN + 1];
	int64_t declared;
	uint64_t size;
	size_t i;
	int r;

	r = image_blob_json(s, mdigest, &man, err);
	if (r < 0)
		return r;
	if ((r = hjson_get_obj(man, "config", mwhere, true, &config, err)) < 0 ||
	    (r = hjson_get_str(config, "digest", mwhere, true, &cdigest, err)) < 0 ||
	    (r = hjson_get_arr(man, "layers", mwhere, true, &layers, err)) < 0)
		return r;
	if (!digest_is_valid(cdigest))
		return hull_err_setx(err, EINVAL, "%s: config.digest: invalid digest", mwhere);
	r = desc_size(config, mwhere, "config", &declared, err);
	if (r < 0)
		return r;
	{
		cleanup_free char *p = store_blob_relpath(cdigest);

		r = put_config(s, src, p, cdigest, declared, mwhere, "layers",
			       json_array_size(layers), got, &diff_ids, err);
		if (r < 0)
			return r;
	}
	json_array_foreach(layers, i, l) {
		const char *ld = json_string_value(json_object_get(l, "digest"));
		cleanup_free char *p = NULL;
		char field[32];

		if (!digest_is_valid(ld))
			return hull_err_setx(err, EINVAL, "%s: layers[%zu].digest: invalid digest",
					     mwhere, i);
		(void)snprintf(field, sizeof(field), "layers[%zu]", i);
		r = desc_size(l, mwhere, field, &declared, err);
		if (r < 0)
			return r;
		p = store_blob_relpath(ld);
		r = src_put(s, src, p, ld, declared, got, &size, err);
		if (r < 0)
			return r;
		r = image_layer_ensure(s, what, ld, diff_ids[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The name to record for a ref.name annotation: a full name, or a tag on src->repo. */
static char *name_for(const struct source *src, const char *refname)
{
	cleanup_free char *full = NULL;

	if (!refname || !*refname)
		return NULL;
	if (strchr(refname, '/') || strchr(refname, ':'))
		return image_ref_normalize(refname);
	full = xasprintf("%s:%s", src->repo, refname);
	return image_ref_normalize(full);
}

static bool platform_ok(json_t *desc)
{
	json_t *p = json_object_get(desc, "platform");
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));

	if (!p)
		return true;
	return (!os || strcmp(os, "linux") == 0) && (!arch || strcmp(arch, image_host_arch()) == 0);
}

/* Resolve a descriptor to an image manifest digest, descending into nested indexes. */
static int pick_manifest(struct image_store *s, const struct source *src, json_t *desc,
			 int depth, char *ret, struct hull_err *err)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	const char *d = json_string_value(json_object_get(desc, "digest"));
	cleanup_free char *p = NULL;
	cleanup_json json_t *sub = NULL;
	char got[DIGEST_STR_LEN + 1];
	json_t *m, *e;
	int64_t declared;
	uint64_t size;
	size_t i;
	int r;

	if (!digest_is_valid(d))
		return hull_err_setx(err, EINVAL, "%s: index.json: manifests[].digest: invalid",
				     src->label);
	r = desc_size(desc, src->label, d, &declared, err);
	if (r < 0)
		return r;
	p = store_blob_relpath(d);
	r = src_put(s, src, p, d, declared, got, &size, err);
	if (r < 0)
		return r;
	r = image_blob_json(s, d, &sub, err);
	if (r < 0)
		return r;
	if (!mt)
		mt = json_string_value(json_object_get(sub, "mediaType"));
	if (!(mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)) &&
	    !json_object_get(sub, "manifests")) {
		memcpy(ret, d, DIGEST_STR_LEN + 1);
		return 0;
	}
	if (depth > 4)
		return hull_err_setx(err, ELOOP, "%s: index %s: nested too deep", src->label, d);
	m = json_object_get(sub, "manifests");
	json_array_foreach(m, i, e)
		if (platform_ok(e))
			return pick_manifest(s, src, e, depth + 1, ret, err);
	return hull_err_setx(err, ENOENT, "%s: index %s: no manifest for linux/%s", src->label, d,
			     image_host_arch());
}

static int load_oci_layout(struct image_store *s, const struct source *src, const char *tag,
			   char ***ret_names, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_free char *where = xasprintf("%s: index.json", src->label);
	cleanup_json json_t *idx = NULL;
	cleanup_close int fd = -1;
	json_t *manifests = NULL, *desc;
	size_t i, len = 0, loaded = 0;
	int r;

	fd = store_open_regular_in(src->dirfd, "index.json");
	if (fd == -EINVAL)
		return hull_err_setx(err, EINVAL, "%s: not a regular file", where);
	if (fd < 0)
		return hull_err_set(err, -fd, "%s", where);
	buf = xmalloc(IMAGE_JSON_MAX + 1);
	r = (int)fd_read_all(fd, buf, IMAGE_JSON_MAX + 1);
	if (r < 0 || r > (int)IMAGE_JSON_MAX)
		return hull_err_setx(err, EFBIG, "%s: unreadable or too large", where);
	len = (size_t)r;
	if ((r = hjson_load_buf(buf, len, where, &idx, err)) < 0 ||
	    (r = hjson_get_arr(idx, "manifests", where, true, &manifests, err)) < 0)
		return r;
	json_array_foreach(manifests, i, desc) {
		const char *ref = json_string_value(
			json_object_get(json_object_get(desc, "annotations"), ANNOT_REF_NAME));
		const char *cname = json_string_value(
			json_object_get(json_object_get(desc, "annotations"), ANNOT_CONTAINERD_NAME));
		cleanup_free char *name = name_for(src, cname ? cname : ref);
		char mdigest[DIGEST_STR_LEN + 1];

		if (tag) {
			cleanup_free char *want = name_for(src, tag);

			if (!ref || !(strcmp(ref, tag) == 0 || (name && want &&
								strcmp(name, want) == 0)))
				continue;
			if (!strchr(tag, '/') && !strchr(tag, ':')) {
				free(name);
				name = steal_ptr(&want);
			}
		}
		if (json_array_size(manifests) > 1 && !platform_ok(desc))
			continue;
		r = pick_manifest(s, src, desc, 0, mdigest, err);
		if (r < 0)
			return r;
		r = import_manifest(s, src, mdigest, name ? name : src->label, err);
		if (r < 0)
			return r;
		r = image_record(s, name, mdigest, err);
		if (r < 0)
			return r;
		if (name) {
			strv_push(ret_names, name);
		} else {
			cleanup_json json_t *man = NULL;

			if (image_blob_json(s, mdigest, &man, NULL) == 0)
				strv_push(ret_names, json_string_value(json_object_get(
							     json_object_get(man, "config"), "digest")));
		}
		loaded++;
	}
	if (!loaded)
		return hull_err_setx(err, ENOENT, "%s: no image%s%s", src->label,
				     tag ? " tagged " : "", tag ? tag : "");
	return 0;
}

static const char *layer_media_type(struct image_store *s, const char *digest)
{
	cleanup_close int fd = store_blob_open(s, digest, NULL);
	const char *c = fd >= 0 ? layer_compression(fd) : NULL;

	if (c && strcmp(c, "gzip") == 0)
		return MT_OCI_LAYER "+gzip";
	if (c && strcmp(c, "zstd") == 0)
		return MT_OCI_LAYER "+zstd";
	return MT_OCI_LAYER;
}

/* Build and store an OCI manifest for a config and layer blobs already in the store. */
int image_manifest_write(struct image_store *s, const char *config, char *const *layers,
			 char *ret_digest, struct hull_err *err)
{
	cleanup_json json_t *man = NULL;
	cleanup_free char *buf = NULL;
	json_t *arr = json_array();
	struct stat st;

	for (size_t i = 0; layers[i]; i++) {
		cleanup_free char *rel = store_blob_relpath(layers[i]);

		if (fstatat(s->root_fd, rel, &st, 0) < 0) {
			json_decref(arr);
			return hull_err_set(err, errno, "blob %s", layers[i]);
		}
		(void)json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "mediaType",
							   layer_media_type(s, layers[i]), "digest",
							   layers[i], "size",
							   (json_int_t)st.st_size));
	}
	{
		cleanup_free char *rel = store_blob_relpath(config);

		if (fstatat(s->root_fd, rel, &st, 0) < 0) {
			json_decref(arr);
			return hull_err_set(err, errno, "blob %s", config);
		}
	}
	man = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
			MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest", config,
			"size", (json_int_t)st.st_size, "layers", arr);
	buf = hjson_dump(man, JSON_COMPACT);
	return store_blob_put_buf(s, buf, strlen(buf), ret_digest, err);
}

static int load_docker_one(struct image_store *s, const struct source *src, json_t *ent,
			   size_t idx, char ***ret_names, struct hull_err *err)
{
	cleanup_free char *where = xasprintf("%s: manifest.json[%zu]", src->label, idx);
	cleanup_strv char **layer_paths = NULL;
	cleanup_strv char **tags = NULL;
	cleanup_strv char **blobs = NULL;
	cleanup_strv char **diff_ids = NULL;
	const char *cpath = NULL;
	char cdigest[DIGEST_STR_LEN + 1], mdigest[DIGEST_STR_LEN + 1];
	uint64_t size;
	int r;

	if ((r = hjson_get_str(ent, "Config", where, true, &cpath, err)) < 0 ||
	    (r = hjson_get_strv(ent, "Layers", where, true, IMAGE_MAX_LAYERS, &layer_paths,
				err)) < 0 ||
	    (r = hjson_get_strv(ent, "RepoTags", where, false, 64, &tags, err)) < 0)
		return r;
	r = put_config(s, src, cpath, NULL, -1, where, "Layers", strv_length(layer_paths), cdigest,
		       &diff_ids, err);
	if (r < 0)
		return r;
	for (size_t i = 0; layer_paths[i]; i++) {
		char ld[DIGEST_STR_LEN + 1];

		r = src_put(s, src, layer_paths[i], NULL, -1, ld, &size, err);
		if (r < 0)
			return r;
		r = image_layer_ensure(s, tags && tags[0] ? tags[0] : src->label, ld, diff_ids[i],
				       err);
		if (r < 0)
			return r;
		strv_push(&blobs, ld);
	}
	r = image_manifest_write(s, cdigest, blobs ? blobs : (char *[]){ NULL }, mdigest, err);
	if (r < 0)
		return r;
	for (size_t i = 0; tags && tags[i]; i++) {
		cleanup_free char *name = image_ref_normalize(tags[i]);

		if (!name)
			return hull_err_setx(err, EINVAL, "%s: RepoTags[%zu]: invalid name '%s'",
					     where, i, tags[i]);
		r = image_record(s, name, mdigest, err);
		if (r < 0)
			return r;
		strv_push(ret_names, name);
	}
	if (!tags || !tags[0]) {
		r = image_record(s, NULL, mdigest, err);
		if (r < 0)
			return r;
		strv_push(ret_names, cdigest);
	}
	return 0;
}

static int load_docker_archive(struct image_store *s, const struct source *src,
			       char ***ret_names, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_free char *where = xasprintf("%s: manifest.json", src->label);
	cleanup_json json_t *man = NULL;
	cleanup_close int fd = -1;
	json_t *ent;
	size_t i;
	ssize_t n;
	int r;

	fd = store_open_regular_in(src->dirfd, "manifest.json");
	if (fd == -EINVAL)
		return hull_err_setx(err, EINVAL, "%s: not a regular file", where);
	if (fd < 0)
		return hull_err_set(err, -fd, "%s", where);
	buf = xmalloc(IMAGE_JSON_MAX + 1);
	n = fd_read_all(fd, buf, IMAGE_JSON_MAX + 1);
	if (n < 0 || n > (ssize_t)IMAGE_JSON_MAX)
		return hull_err_setx(err, EFBIG, "%s: unreadable or too large", where);
	r = hjson_load_buf(buf, (size_t)n, where, &man, err);
	if (r < 0)
		return r;
	if (!json_is_array(man) || json_array_size(man) == 0)
		return hull_err_setx(err, EINVAL, "%s: expected a non-empty array", where);
	json_array_foreach(man, i, ent) {
		r = load_docker_one(s, src, ent, i, ret_names, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the sources (image/source.h) ----------------------------------------------------- */

static int oci_fetch(struct image_store *s, struct image_source *is, char ***ret_names,
		     struct hull_err *err)
{
	cleanup_strv char **stored = NULL;
	struct source src = { .dirfd = is->dirfd, .tmprel = is->stage, .label = is->path,
			      .repo = is->repo, .stored = is->stage ? &stored : NULL };

	if (faccessat(is->dirfd, "index.json", F_OK, 0) < 0 && is->stage)
		return hull_err_setx(err, EINVAL, "%s: neither a docker-archive (manifest.json) "
				     "nor an oci-archive (index.json)", is->path);
	return load_oci_layout(s, &src, is->tag, ret_names, err);
}

static int docker_fetch(struct image_store *s, struct image_source *is, char ***ret_names,
			struct hull_err *err)
{
	cleanup_strv char **stored = NULL;
	struct source src = { .dirfd = is->dirfd, .tmprel = is->stage, .label = is->path,
			      .repo = is->repo, .stored = &stored };

	return load_docker_archive(s, &src, ret_names, err);
}

const struct image_source_ops image_source_oci = {
	.transport = "oci",
	.parse = image_source_parse_path_tag,
	.open = image_source_open_dir,
	.fetch = oci_fetch,
};

const struct image_source_ops image_source_oci_archive = {
	.transport = "oci-archive",
	.parse = image_source_parse_path_tag,
	.open = image_source_extract,
	.fetch = oci_fetch,
};

const struct image_source_ops image_source_docker_archive = {
	.transport = "docker-archive",
	.parse = image_source_parse_path,
	.open = image_source_extract,
	.fetch = docker_fetch,
};

/* Lock the store, fetch in one transaction, and drop the source's staging. */
static int fetch_source(struct image_store *s, struct image_source *src, char ***ret_names,
			struct hull_err *err)
{
	int r = image_store_lock(s, true, err);

	if (r == 0) {
		image_store_txn_begin(s);
		r = src->ops->fetch(s, src, ret_names, err);
	}
	image_source_close(s, src);
	return image_store_txn_end(s, r, err);
}

int image_load(struct image_store *s, const char *path, char ***ret_names,
	       struct hull_err *err)
{
	struct image_source *src = NULL;
	int r = image_source_open_archive(s, path, &src, err);

	return r < 0 ? r : fetch_source(s, src, ret_names, err);
}

int image_pull(struct image_store *s, const char *ref, const struct image_source_opts *o,
	       char ***ret_names, struct hull_err *err)
{
	static const struct image_source_opts none = { 0 };
	struct image_source *src = NULL;
	int r = image_source_open(s, ref, &src, err);

	if (r < 0)
		return r;
	if (!src->ops->pull)
		return fetch_source(s, src, ret_names, err);
	r = src->ops->pull(s, src, o ? o : &none, ret_names, err);
	image_source_close(s, src);
	return r;
}
