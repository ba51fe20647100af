/*
 * Garbage collection and disk usage of the image store: what the images in the index and
 * the images of containers need (mark), and the blobs and unpacked layers nothing needs
 * (sweep). Sizes are disk usage as du counts it (allocated blocks), so that what prune
 * reports is what the file system gets back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/json.h"
#include "image/image.h"

/* Mark the blobs (hex) and layers (hex) of one image (by manifest, or by config id alone). */
static void gc_mark(struct image_store *s, const char *manifest, const char *config,
		    char ***blobs, char ***layers)
{
	cleanup_json json_t *man = NULL;
	struct image_info info = { 0 };
	char **ids = NULL;
	struct hull_err err;
	json_t *l;
	size_t i;

	if (manifest) {
		strv_push(blobs, digest_hex(manifest));
		if (image_blob_json(s, manifest, &man, &err) == 0) {
			json_array_foreach(json_object_get(man, "layers"), i, l) {
				const char *d = json_string_value(json_object_get(l, "digest"));

				if (digest_is_valid(d))
					strv_push(blobs, digest_hex(d));
			}
		}
	}
	strv_push(blobs, digest_hex(config));
	memcpy(info.config, config, sizeof(info.config));
	if (image_config(s, &info, NULL, &ids, &err) == 0) {
		for (i = 0; ids[i]; i++)
			strv_push(layers, digest_hex(ids[i]));
	}
	strv_free(ids);
}

/*
 * Mark what the index's images need (all of them, or only those whose ids are in keep_ids
 * when only_kept) and what the images of keep_ids need. ret_n/ret_active count the images.
 */
static int mark_all(struct image_store *s, char *const *keep_ids, bool only_kept,
		    char ***blobs, char ***layers, unsigned *ret_n, unsigned *ret_active,
		    struct hull_err *err)
{
	cleanup_strv char **seen = NULL;
	struct image_list l = { 0 };
	int r;

	r = image_list(s, &l, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		bool kept = strv_find(keep_ids, l.v[i].config) >= 0;

		if (strv_find(seen, l.v[i].config) < 0) {
			strv_push(&seen, l.v[i].config);
			(*ret_n)++;
			*ret_active += kept;
		}
		if (kept || !only_kept)
			gc_mark(s, l.v[i].manifest, l.v[i].config, blobs, layers);
	}
	image_list_free(&l);
	for (size_t i = 0; keep_ids && keep_ids[i]; i++)
		if (digest_is_valid(keep_ids[i]))
			gc_mark(s, NULL, keep_ids[i], blobs, layers);
	strv_push(blobs, "");
	strv_push(layers, "");
	return 0;
}

/*
 * For each entry of dir not in keep: remove it (counting what it released) when sweep,
 * else add its disk usage to *ret_unmarked. *ret_total gets every entry's usage (not sweep).
 */
static int walk_dir(int root_fd, const char *dir, char **keep, bool sweep, unsigned *ret_n,
		    uint64_t *ret_bytes, uint64_t *ret_total)
{
	cleanup_close int fd = openat(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return -errno;
	fd = -1;
	while ((de = readdir(d))) {
		bool kept;
		uint64_t du = 0;

		if (de->d_name[0] == '.')
			continue;
		kept = strv_find(keep, de->d_name) >= 0;
		if (sweep) {
			if (!kept && rm_rf_at_freed(dirfd(d), de->d_name, ret_bytes) == 0)
				(*ret_n)++;
			continue;
		}
		(void)store_du_at(dirfd(d), de->d_name, &du);
		*ret_total += du;
		if (!kept)
			*ret_bytes += du;
	}
	(void)closedir(d);
	return 0;
}

/* `hull run --vm`'s root images, vm/<image id hex>/ (engine/vmroot.h): those of images
 * gone go with them. The rest of vm/ (initramfs images, the VMs' state) is not the store's. */
static void vm_roots_sweep(int root_fd, char **keep, uint64_t *ret_bytes)
{
	cleanup_close int fd = openat(root_fd, "vm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d)
		return;
	fd = -1;
	while ((de = readdir(d)))
		if (strlen(de->d_name) == DIGEST_HEX_LEN && digest_is_hex_prefix(de->d_name) &&
		    strv_find(keep, de->d_name) < 0)
			(void)rm_rf_at_freed(dirfd(d), de->d_name, ret_bytes);
	(void)closedir(d);
}

int image_gc(struct image_store *s, char *const *keep_ids, struct image_gc_stats *ret,
	     struct hull_err *err)
{
	cleanup_strv char **blobs = NULL;
	cleanup_strv char **layers = NULL;
	unsigned n = 0, active = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = image_store_lock(s, true, err);
	if (r < 0)
		return r;
	r = mark_all(s, keep_ids, false, &blobs, &layers, &n, &active, err);
	if (r < 0)
		return r;
	r = walk_dir(s->root_fd, "blobs/sha256", blobs, true, &ret->blobs, &ret->bytes, NULL);
	if (r == 0)
		r = walk_dir(s->root_fd, "layers", layers, true, &ret->layers, &ret->bytes, NULL);
	if (r < 0)
		return hull_err_set(err, -r, "garbage collection in %s", s->root);
	vm_roots_sweep(s->root_fd, blobs, &ret->bytes);
	return 0;
}

int image_df(struct image_store *s, char *const *keep_ids, struct image_df *ret,
	     struct hull_err *err)
{
	cleanup_strv char **blobs = NULL;
	cleanup_strv char **layers = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = image_store_lock(s, false, err);
	if (r < 0)
		return r;
	r = mark_all(s, keep_ids, true, &blobs, &layers, &ret->images, &ret->active, err);
	if (r < 0)
		return r;
	r = walk_dir(s->root_fd, "blobs/sha256", blobs, false, NULL, &ret->reclaimable,
		     &ret->size);
	if (r == 0)
		r = walk_dir(s->root_fd, "layers", layers, false, NULL, &ret->reclaimable,
			     &ret->size);
	if (r < 0)
		return hull_err_set(err, -r, "disk usage of %s", s->root);
	return 0;
}

/* Disk usage of blobs/sha256/<hex> or layers/<hex>. */
static uint64_t entry_du(struct image_store *s, const char *dir, const char *hex)
{
	cleanup_free char *rel = xasprintf("%s/%s", dir, hex);
	uint64_t du = 0;

	(void)store_du_at(s->root_fd, rel, &du);
	return du;
}

/* How many distinct image ids among l mark hex in dir (blobs or layers). */
static unsigned users_of(char ***marks, const struct image_list *l, size_t which,
			 const char *hex)
{
	unsigned n = 0;

	for (size_t i = 0; i < l->n; i++) {
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = strcmp(l->v[j].config, l->v[i].config) == 0;
		if (!dup && strv_find(marks[2 * i + which], hex) >= 0)
			n++;
	}
	return n;
}

int image_usage_list(struct image_store *s, struct image_usage **ret, size_t *ret_n,
		     struct hull_err *err)
{
	struct image_list l = { 0 };
	struct image_usage *u;
	char ***marks; /* per image: blobs (2i) and layers (2i + 1) */
	int r;

	r = image_store_lock(s, false, err);
	if (r < 0)
		return r;
	r = image_list(s, &l, err);
	if (r < 0)
		return r;
	marks = xcalloc(2 * l.n + 1, sizeof(*marks));
	u = xcalloc(l.n + 1, sizeof(*u));
	for (size_t i = 0; i < l.n; i++)
		gc_mark(s, l.v[i].manifest, l.v[i].config, &marks[2 * i], &marks[2 * i + 1]);
	for (size_t i = 0; i < l.n; i++) {
		for (size_t w = 0; w < 2; w++) {
			for (size_t k = 0; marks[2 * i + w] && marks[2 * i + w][k]; k++) {
				const char *hex = marks[2 * i + w][k];
				uint64_t du;

				if (strv_find(marks[2 * i + w], hex) < (int)k)
					continue; /* listed twice (a layer used twice) */
				du = entry_du(s, w ? "layers" : "blobs/sha256", hex);
				u[i].size += du;
				if (users_of(marks, &l, w, hex) > 1)
					u[i].shared += du;
			}
		}
	}
	for (size_t i = 0; i < l.n; i++) { /* only now: users_of reads every config */
		u[i].info = l.v[i];
		memset(&l.v[i], 0, sizeof(l.v[i]));
	}
	for (size_t i = 0; i < 2 * l.n; i++)
		strv_free(marks[i]);
	free(marks);
	*ret_n = l.n;
	image_list_free(&l);
	*ret = u;
	return 0;
}
