#include "image/image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/strv.h"

void image_info_clear(struct image_info *info)
{
	free(info->name);
	free(info->created);
	free(info->os);
	free(info->arch);
	free(info->variant);
	memset(info, 0, sizeof(*info));
}

void image_list_free(struct image_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		image_info_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && !strchr("_.-", t[i]))
			return false;
	return true;
}

static bool valid_repo(const char *r, size_t len)
{
	if (len == 0 || len > 255 || r[0] == '/' || r[len - 1] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = r[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || strchr("._-/:", c)))
			return false;
		if (c == '/' && r[i + 1] == '/')
			return false;
	}
	return true;
}

char *image_ref_normalize(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');
	const char *first_slash = strchr(ref, '/');
	size_t repo_len = colon ? (size_t)(colon - ref) : strlen(ref);
	const char *tag = colon ? colon + 1 : "latest";
	bool has_domain = false;

	if (strchr(ref, '@') || !valid_repo(ref, repo_len) || !valid_tag(tag))
		return NULL;
	if (first_slash) {
		size_t dlen = (size_t)(first_slash - ref);

		has_domain = memchr(ref, '.', dlen) || memchr(ref, ':', dlen) ||
			     (dlen == 9 && strncmp(ref, "localhost", 9) == 0);
	}
	/* a ':' is only allowed in the domain (a port) */
	if (memchr(has_domain ? first_slash : ref, ':', repo_len - (size_t)(has_domain ? first_slash - ref : 0)))
		return NULL;
	return xasprintf("%s%.*s:%s", has_domain ? "" : "localhost/", (int)repo_len, ref, tag);
}

void image_ref_split(const char *name, char **ret_repo, char **ret_tag)
{
	const char *slash = strrchr(name, '/');
	const char *colon = strrchr(slash ? slash : name, ':');

	if (!colon) {
		*ret_repo = xstrdup(name);
		*ret_tag = xstrdup("latest");
		return;
	}
	*ret_repo = xstrndup(name, (size_t)(colon - name));
	*ret_tag = xstrdup(colon + 1);
}

static int index_load(struct image_store *s, json_t **ret, struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	cleanup_free char *where = xasprintf("%s/index.json", s->root);
	json_t *idx = NULL, *m;
	size_t len = 0;
	int r;

	/* inside a load, the index as the transaction leaves it (written once, at its end) */
	if (s->in_txn && s->txn_index) {
		*ret = json_incref(s->txn_index);
		return 0;
	}
	r = fd_read_file_at(s->root_fd, "index.json", 64u << 20, &buf, &len);
	if (r == -ENOENT) {
		*ret = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
				 "manifests");
		return 0;
	}
	if (r < 0)
		return hull_err_set(err, -r, "%s", where);
	r = hjson_load_buf(buf, len, where, &idx, err);
	if (r < 0)
		return r;
	r = hjson_get_arr(idx, "manifests", where, true, &m, err);
	if (r < 0) {
		json_decref(idx);
		return r;
	}
	*ret = idx;
	return 0;
}

static int index_save(struct image_store *s, json_t *idx, struct hull_err *err)
{
	cleanup_free char *buf = NULL;

	if (s->in_txn) {
		if (s->txn_index != idx) {
			json_decref(s->txn_index);
			s->txn_index = json_incref(idx);
		}
		return 0;
	}
	buf = hjson_dump(idx, JSON_COMPACT);
	return store_index_write(s, buf, strlen(buf), err);
}

static const char *annot(json_t *desc, const char *key)
{
	json_t *a = json_object_get(desc, "annotations");

	return json_string_value(json_object_get(a, key));
}

int image_blob_json(struct image_store *s, const char *digest, json_t **ret,
		    struct hull_err *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r;

	r = store_blob_read(s, digest, IMAGE_JSON_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	return hjson_load_buf(buf, len, digest, ret, err);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Fill info from an index descriptor; reads the manifest only for foreign entries. */
static int desc_info(struct image_store *s, json_t *desc, struct image_info *info,
		     struct hull_err *err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	const char *name = annot(desc, ANNOT_REF_NAME);
	const char *config = annot(desc, ANNOT_HULL_CONFIG);
	const char *created = annot(desc, ANNOT_HULL_CREATED);
	const char *size = annot(desc, ANNOT_HULL_SIZE);

	memset(info, 0, sizeof(*info));
	if (!digest_is_valid(digest))
		return hull_err_setx(err, EINVAL, "%s/index.json: manifests[].digest: invalid",
				     s->root);
	memcpy(info->manifest, digest, sizeof(info->manifest));
	info->name = name ? xstrdup(name) : NULL;
	info->created = created ? xstrdup(created) : NULL;
	info->size = size ? strtoull(size, NULL, 10) : 0;
	{
		json_t *p = json_object_get(desc, "platform");

		info->os = dup_or_null(json_string_value(json_object_get(p, "os")));
		info->arch = dup_or_null(json_string_value(json_object_get(p, "architecture")));
		info->variant = dup_or_null(json_string_value(json_object_get(p, "variant")));
	}
	if (config && digest_is_valid(config)) {
		memcpy(info->config, config, sizeof(info->config));
	} else {
		cleanup_json json_t *man = NULL;
		const char *c;
		int r = image_blob_json(s, digest, &man, err);

		if (r < 0)
			return r;
		c = json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
		if (!digest_is_valid(c))
			return hull_err_setx(err, EINVAL, "manifest %s: config.digest: invalid",
					     digest);
		memcpy(info->config, c, sizeof(info->config));
	}
	return 0;
}

int image_list(struct image_store *s, struct image_list *ret, struct hull_err *err)
{
	cleanup_json json_t *idx = NULL;
	json_t *m, *desc;
	size_t i;
	int r;

	r = index_load(s, &idx, err);
	if (r < 0)
		return r;
	m = json_object_get(idx, "manifests");
	ret->v = xcalloc(json_array_size(m) + 1, sizeof(*ret->v));
	ret->n = 0;
	json_array_foreach(m, i, desc) {
		r = desc_info(s, desc, &ret->v[ret->n], err);
		if (r < 0) {
			image_info_clear(&ret->v[ret->n]);
			image_list_free(ret);
			return r;
		}
		ret->n++;
	}
	return 0;
}

static void info_copy(struct image_info *dst, const struct image_info *src)
{
	*dst = *src;
	dst->name = src->name ? xstrdup(src->name) : NULL;
	dst->created = src->created ? xstrdup(src->created) : NULL;
	dst->os = dup_or_null(src->os);
	dst->arch = dup_or_null(src->arch);
	dst->variant = dup_or_null(src->variant);
}

int image_lookup(struct image_store *s, const char *ref, struct image_info *ret,
		 struct hull_err *err)
{
	cleanup_free char *name = NULL;
	struct image_list l = { 0 };
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	const struct image_info *found = NULL;
	bool ambiguous = false;
	int r;

	r = image_list(s, &l, err);
	if (r < 0)
		return r;
	name = image_ref_normalize(ref);
	for (size_t i = 0; name && i < l.n && !found; i++)
		if (l.v[i].name && strcmp(l.v[i].name, name) == 0)
			found = &l.v[i];
	for (size_t i = 0; !found && digest_is_hex_prefix(hex) && i < l.n; i++) {
		if (strncmp(l.v[i].config + 7, hex, strlen(hex)) != 0)
			continue;
		for (size_t j = i + 1; j < l.n; j++)
			if (strncmp(l.v[j].config + 7, hex, strlen(hex)) == 0 &&
			    strcmp(l.v[j].config, l.v[i].config) != 0)
				ambiguous = true;
		found = &l.v[i];
	}
	if (ambiguous) {
		image_list_free(&l);
		return hull_err_setx(err, EEXIST, "image id prefix '%s' is ambiguous", ref);
	}
	if (!found) {
		image_list_free(&l);
		return hull_err_setx(err, ENOENT, "no such image: %s", ref);
	}
	info_copy(ret, found);
	image_list_free(&l);
	return 0;
}

/* Remove the entry that carries name (a name is on one entry at most). */
static void index_unname(json_t *m, const char *name)
{
	for (size_t i = json_array_size(m); i-- > 0;) {
		json_t *desc = json_array_get(m, i);
		const char *n = annot(desc, ANNOT_REF_NAME);

		if (n && strcmp(n, name) == 0)
			(void)json_array_remove(m, i);
	}
}

static bool index_has_config(json_t *m, const char *config)
{
	size_t i;
	json_t *desc;

	json_array_foreach(m, i, desc) {
		const char *c = annot(desc, ANNOT_HULL_CONFIG);

		if (c && strcmp(c, config) == 0)
			return true;
	}
	return false;
}

/* The config's platform as the descriptor's (an OCI index's "platform"), so that a listing
 * shows it without reading every config. */
static void platform_record(json_t *desc, json_t *cfg)
{
	const char *os = json_string_value(json_object_get(cfg, "os"));
	const char *arch = json_string_value(json_object_get(cfg, "architecture"));
	const char *variant = json_string_value(json_object_get(cfg, "variant"));
	json_t *p;

	if (!os || !arch)
		return;
	p = json_pack("{s:s, s:s}", "os", os, "architecture", arch);
	if (variant && *variant)
		(void)json_object_set_new(p, "variant", json_string(variant));
	(void)json_object_set_new(desc, "platform", p);
}

int image_record(struct image_store *s, const char *name, const char *manifest_digest,
		 struct hull_err *err)
{
	cleanup_json json_t *idx = NULL;
	cleanup_json json_t *man = NULL;
	cleanup_json json_t *cfg = NULL;
	json_t *m, *layers, *l, *desc;
	const char *config, *created;
	uint64_t size = 0;
	size_t i;
	int r;

	r = image_blob_json(s, manifest_digest, &man, err);
	if (r < 0)
		return r;
	config = json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
	if (!digest_is_valid(config))
		return hull_err_setx(err, EINVAL, "manifest %s: config.digest: invalid",
				     manifest_digest);
	r = image_blob_json(s, config, &cfg, err);
	if (r < 0)
		return r;
	created = json_string_value(json_object_get(cfg, "created"));
	layers = json_object_get(man, "layers");
	json_array_foreach(layers, i, l) {
		json_int_t sz = json_integer_value(json_object_get(l, "size"));

		size += sz > 0 ? (uint64_t)sz : 0;
	}
	r = index_load(s, &idx, err);
	if (r < 0)
		return r;
	m = json_object_get(idx, "manifests");
	if (name) {
		index_unname(m, name);
	} else if (index_has_config(m, config)) {
		return 0; /* an untagged load of an image the store already has */
	}
	desc = json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s}}", "mediaType", MT_OCI_MANIFEST,
			 "digest", manifest_digest, "size",
			 (json_int_t)0, "annotations", ANNOT_HULL_CONFIG, config,
			 ANNOT_HULL_CREATED, created ? created : "", ANNOT_HULL_SIZE, "0");
	{
		struct stat st;
		cleanup_free char *rel = store_blob_relpath(manifest_digest);
		cleanup_free char *sz = xasprintf("%llu", (unsigned long long)size);
		json_t *a = json_object_get(desc, "annotations");

		if (fstatat(s->root_fd, rel, &st, 0) == 0)
			(void)json_object_set_new(desc, "size", json_integer(st.st_size));
		(void)json_object_set_new(a, ANNOT_HULL_SIZE, json_string(sz));
		if (name)
			(void)json_object_set_new(a, ANNOT_REF_NAME, json_string(name));
	}
	platform_record(desc, cfg);
	(void)json_array_append_new(m, desc);
	return index_save(s, idx, err);
}

int image_tag(struct image_store *s, const char *ref, const char *new_name,
	      struct hull_err *err)
{
	cleanup_free char *name = image_ref_normalize(new_name);
	struct image_info info = { 0 };
	int r;

	if (!name)
		return hull_err_setx(err, EINVAL, "invalid image name '%s'", new_name);
	r = image_store_lock(s, true, err);
	if (r < 0)
		return r;
	r = image_lookup(s, ref, &info, err);
	if (r < 0)
		return r;
	r = image_record(s, name, info.manifest, err);
	image_info_clear(&info);
	return r;
}

int image_remove(struct image_store *s, const char *ref, char *ret_removed,
		 struct hull_err *err)
{
	cleanup_json json_t *idx = NULL;
	cleanup_free char *name = NULL;
	struct image_info info = { 0 };
	json_t *m;
	bool by_name;
	int r;

	r = image_store_lock(s, true, err);
	if (r < 0)
		return r;
	r = image_lookup(s, ref, &info, err);
	if (r < 0)
		return r;
	name = image_ref_normalize(ref);
	by_name = name && info.name && strcmp(name, info.name) == 0;
	r = index_load(s, &idx, err);
	if (r < 0)
		goto out;
	m = json_object_get(idx, "manifests");
	for (size_t i = json_array_size(m); i-- > 0;) {
		json_t *desc = json_array_get(m, i);
		const char *n = annot(desc, ANNOT_REF_NAME);
		const char *c = annot(desc, ANNOT_HULL_CONFIG);

		if (by_name ? (n && strcmp(n, name) == 0) : (c && strcmp(c, info.config) == 0))
			(void)json_array_remove(m, i);
	}
	r = index_save(s, idx, err);
	if (r == 0 && ret_removed) {
		ret_removed[0] = '\0';
		if (!index_has_config(m, info.config))
			memcpy(ret_removed, info.config, DIGEST_STR_LEN + 1);
	}
out:
	image_info_clear(&info);
	return r;
}

int image_config(struct image_store *s, const struct image_info *info, json_t **ret_config,
		 char ***ret_diff_ids, struct hull_err *err)
{
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *where = xasprintf("image %s: config", info->config);
	json_t *rootfs = NULL;
	char **ids = NULL;
	int r;

	r = image_blob_json(s, info->config, &cfg, err);
	if (r < 0)
		return r;
	r = hjson_get_obj(cfg, "rootfs", where, true, &rootfs, err);
	if (r < 0)
		return r;
	r = hjson_get_strv(rootfs, "diff_ids", where, true, IMAGE_MAX_LAYERS, &ids, err);
	if (r < 0)
		return r;
	for (size_t i = 0; ids[i]; i++) {
		if (!digest_is_valid(ids[i])) {
			r = hull_err_setx(err, EINVAL, "%s: rootfs.diff_ids[%zu]: invalid digest",
					  where, i);
			strv_free(ids);
			return r;
		}
	}
	if (ret_config)
		*ret_config = steal_ptr(&cfg);
	*ret_diff_ids = ids;
	return 0;
}

int image_prune(struct image_store *s, bool all, char *const *keep_ids, char ***ret_removed,
		struct hull_err *err)
{
	cleanup_json json_t *idx = NULL;
	json_t *m;
	int r;

	r = image_store_lock(s, true, err);
	if (r < 0)
		return r;
	r = index_load(s, &idx, err);
	if (r < 0)
		return r;
	m = json_object_get(idx, "manifests");
	for (size_t i = json_array_size(m); i-- > 0;) {
		struct image_info info = { 0 };
		bool drop;

		r = desc_info(s, json_array_get(m, i), &info, err);
		if (r < 0) {
			image_info_clear(&info);
			return r;
		}
		/* docker's meanings: without -a only dangling (untagged) images go; with -a
		 * every image no container uses */
		drop = (all || !info.name) && strv_find(keep_ids, info.config) < 0;
		if (drop) {
			(void)json_array_remove(m, i);
			if (!index_has_config(m, info.config) &&
			    strv_find(*ret_removed, info.config) < 0)
				strv_push(ret_removed, info.config);
		}
		image_info_clear(&info);
	}
	return index_save(s, idx, err);
}

const char *image_host_arch(void)
{
	static struct utsname u;

	if (uname(&u) < 0 || strcmp(u.machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u.machine, "aarch64") == 0)
		return "arm64";
	return u.machine;
}
