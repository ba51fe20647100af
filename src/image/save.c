/* `hull save`: images to an oci-archive or a docker-archive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/strv.h"
#include "image/tarball.h"
#include "image/image.h"
#include "image/transfer.h"

DEFINE_CLEANUP_FUNC(struct archive_out, archive_out_free)
#define cleanup_archive_out __attribute__((cleanup(archive_out_free_cleanup)))

static int add_blob(struct image_store *s, struct archive_out *o, const char *digest,
		    const char *name, char ***added, struct hull_err *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	if (strv_find(*added, name) >= 0)
		return 0;
	fd = store_blob_open(s, digest, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "blob %s", digest);
	strv_push(added, name);
	return archive_out_fd(o, name, fd, (uint64_t)st.st_size, err);
}

static int save_oci(struct image_store *s, struct image_info *imgs, size_t n,
		    struct archive_out *o, struct hull_err *err)
{
	cleanup_json json_t *idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2,
					     "mediaType", MT_OCI_INDEX, "manifests");
	cleanup_strv char **added = NULL;
	cleanup_free char *buf = NULL;
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	int r;

	if ((r = archive_out_buf(o, "oci-layout", layout, strlen(layout), err)) < 0 ||
	    (r = archive_out_dir(o, "blobs", err)) < 0 ||
	    (r = archive_out_dir(o, "blobs/sha256", err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		cleanup_json json_t *man = NULL;
		cleanup_free char *mname = store_blob_relpath(imgs[i].manifest);
		json_t *l, *desc;
		size_t j;
		struct stat st;

		r = image_blob_json(s, imgs[i].manifest, &man, err);
		if (r < 0)
			return r;
		json_array_foreach(json_object_get(man, "layers"), j, l) {
			const char *d = json_string_value(json_object_get(l, "digest"));
			cleanup_free char *name = digest_is_valid(d) ? store_blob_relpath(d) : NULL;

			if (!name)
				return hull_err_setx(err, EINVAL, "manifest %s: invalid layer",
						     imgs[i].manifest);
			if ((r = add_blob(s, o, d, name, &added, err)) < 0)
				return r;
		}
		{
			cleanup_free char *cname = store_blob_relpath(imgs[i].config);

			if ((r = add_blob(s, o, imgs[i].config, cname, &added, err)) < 0 ||
			    (r = add_blob(s, o, imgs[i].manifest, mname, &added, err)) < 0)
				return r;
		}
		if (fstatat(s->root_fd, mname, &st, 0) < 0)
			return hull_err_set(err, errno, "blob %s", imgs[i].manifest);
		desc = json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_MANIFEST, "digest",
				 imgs[i].manifest, "size", (json_int_t)st.st_size);
		if (imgs[i].name)
			(void)json_object_set_new(desc, "annotations",
						  json_pack("{s:s, s:s}", ANNOT_REF_NAME,
							    imgs[i].name, ANNOT_CONTAINERD_NAME,
							    imgs[i].name));
		(void)json_array_append_new(json_object_get(idx, "manifests"), desc);
	}
	buf = hjson_dump(idx, JSON_COMPACT);
	return archive_out_buf(o, "index.json", buf, strlen(buf), err);
}

/* docker-archive layers are uncompressed tars: decompress compressed blobs to staging. */
static int layer_tar_fd(struct image_store *s, const char *digest, uint64_t *ret_size,
			struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/tmp/save-%d-XXXXXX", s->root, (int)getpid());
	cleanup_close int in = store_blob_open(s, digest, err);
	cleanup_close int out = -1;
	struct archive *a;
	struct archive_entry *e;
	char buf[1 << 16];
	la_ssize_t n;
	struct stat st;

	if (in < 0)
		return in;
	out = mkostemp(path, O_CLOEXEC);
	if (out < 0)
		return hull_err_set(err, errno, "%s", path);
	(void)unlink(path);
	a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_fd(a, in, sizeof(buf)) == ARCHIVE_OK &&
	    archive_read_next_header(a, &e) == ARCHIVE_OK) {
		while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n) {
				n = -1;
				break;
			}
	} else {
		n = 0; /* empty blob */
	}
	archive_read_free(a);
	if (n < 0)
		return hull_err_setx(err, EIO, "layer %s: cannot decompress", digest);
	if (fstat(out, &st) < 0 || lseek(out, 0, SEEK_SET) < 0)
		return hull_err_set(err, errno, "layer %s", digest);
	*ret_size = (uint64_t)st.st_size;
	return steal_fd(&out);
}

static int save_docker(struct image_store *s, struct image_info *imgs, size_t n,
		       struct archive_out *o, struct hull_err *err)
{
	cleanup_json json_t *top = json_array();
	cleanup_strv char **added = NULL;
	cleanup_free char *buf = NULL;
	int r;

	for (size_t i = 0; i < n; i++) {
		cleanup_strv char **diff_ids = NULL;
		cleanup_json json_t *man = NULL;
		cleanup_free char *cname = xasprintf("%s.json", digest_hex(imgs[i].config));
		json_t *layers = json_array(), *ent, *l;
		size_t j;

		ent = json_pack("{s:s, s:[], s:o}", "Config", cname, "RepoTags", "Layers", layers);
		(void)json_array_append_new(top, ent);
		if (imgs[i].name)
			(void)json_array_append_new(json_object_get(ent, "RepoTags"),
						    json_string(imgs[i].name));
		if ((r = image_blob_json(s, imgs[i].manifest, &man, err)) < 0 ||
		    (r = image_config(s, &imgs[i], NULL, &diff_ids, err)) < 0 ||
		    (r = add_blob(s, o, imgs[i].config, cname, &added, err)) < 0)
			return r;
		json_array_foreach(json_object_get(man, "layers"), j, l) {
			const char *d = json_string_value(json_object_get(l, "digest"));
			cleanup_free char *lname = NULL;
			cleanup_close int fd = -1;
			uint64_t size = 0;

			if (!digest_is_valid(d) || j >= strv_length(diff_ids))
				return hull_err_setx(err, EINVAL, "manifest %s: invalid layers",
						     imgs[i].manifest);
			lname = xasprintf("%s.tar", digest_hex(diff_ids[j]));
			(void)json_array_append_new(layers, json_string(lname));
			if (strv_find(added, lname) >= 0)
				continue;
			fd = layer_tar_fd(s, d, &size, err);
			if (fd < 0)
				return fd;
			strv_push(&added, lname);
			r = archive_out_fd(o, lname, fd, size, err);
			if (r < 0)
				return r;
		}
	}
	buf = hjson_dump(top, JSON_COMPACT);
	return archive_out_buf(o, "manifest.json", buf, strlen(buf), err);
}

int image_save(struct image_store *s, char *const *refs, const char *path, const char *format,
	       struct hull_err *err)
{
	cleanup_archive_out struct archive_out *o = NULL;
	size_t n = strv_length(refs);
	struct image_info *imgs = xcalloc(n + 1, sizeof(*imgs));
	int r = 0;

	if (strcmp(format, "oci-archive") != 0 && strcmp(format, "docker-archive") != 0)
		r = hull_err_setx(err, EINVAL, "--format %s: expected oci-archive or "
				  "docker-archive", format);
	if (r == 0)
		r = image_store_lock(s, false, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		cleanup_free char *norm = image_ref_normalize(refs[i]);

		r = image_lookup(s, refs[i], &imgs[i], err);
		/* saved under the name asked for, like `docker save NAME` */
		if (r == 0 && norm && imgs[i].name && strcmp(norm, imgs[i].name) != 0 &&
		    strncmp(refs[i], "sha256:", 7) != 0) {
			free(imgs[i].name);
			imgs[i].name = steal_ptr(&norm);
		}
	}
	if (r == 0)
		r = archive_out_open(path, &o, err);
	if (r == 0)
		r = strcmp(format, "oci-archive") == 0 ? save_oci(s, imgs, n, o, err)
						       : save_docker(s, imgs, n, o, err);
	if (r == 0)
		r = archive_out_commit(o, err);
	for (size_t i = 0; i < n; i++)
		image_info_clear(&imgs[i]);
	free(imgs);
	return r;
}
