/* Pull from a registry (registry.h): manifests, indexes and platforms, then the blobs. */
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
#include "image/digest.h"
#include "image/image.h"
#include "image/reference.h"
#include "image/regconf.h"
#include "image/registry-http.h"
#include "image/transfer.h"

DEFINE_CLEANUP_FUNC(struct reg_session, reg_session_free)
#define cleanup_session __attribute__((cleanup(reg_session_free_cleanup)))

#define MANIFEST_ACCEPT MT_OCI_MANIFEST ", " MT_OCI_INDEX ", " MT_DOCKER_MANIFEST ", " \
	MT_DOCKER_LIST
#define INDEX_DEPTH_MAX 4

struct pull {
	struct image_store *s;
	struct reg_session *sess;
	struct image_reference ref;           /* where it comes from (a mirror, a location) */
	const struct image_reference *named; /* what to record it as (NULL: ref) */
	char *what; /* the reference, for messages */
	char *os, *arch, *variant;
	char **docs; /* index documents on the way: digest, body pairs to store */
};

int registry_platform_parse(const char *s, char **ret_os, char **ret_arch,
			    char **ret_variant, struct hull_err *err)
{
	const char *a = strchr(s, '/');
	const char *v = a ? strchr(a + 1, '/') : NULL;

	if (!a || a == s || a[1] == '\0' || a + 1 == v || (v && (v[1] == '\0' ||
							       strchr(v + 1, '/'))))
		return hull_err_setx(err, EINVAL, "invalid platform '%s': expected "
				     "os/arch[/variant]", s);
	*ret_os = xstrndup(s, (size_t)(a - s));
	*ret_arch = v ? xstrndup(a + 1, (size_t)(v - a - 1)) : xstrdup(a + 1);
	*ret_variant = v ? xstrdup(v + 1) : NULL;
	return 0;
}

/* GET a manifest or index by tag or digest; verified against expect and size when given. */
static int fetch_manifest(struct pull *pl, const char *object, const char *expect,
			  int64_t size, char **ret_body, size_t *ret_len, char *ret_digest,
			  char **ret_type, struct hull_err *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/manifests/%s", pl->ref.path, object);
	struct reg_req q = { .method = "GET", .url = path, .accept = MANIFEST_ACCEPT,
			     .body_fd = -1, .max_body = REGISTRY_MANIFEST_MAX };
	struct reg_resp resp = { 0 };
	int r = reg_request(pl->sess, &q, &resp, err);

	if (r < 0)
		return hull_err_prefix(err, "%s", pl->what);
	if (resp.status != 200) {
		cleanup_free char *what = xasprintf("%s: manifest %s", pl->what, object);

		r = reg_status_err(&resp, what, err);
		reg_resp_clear(&resp);
		return r;
	}
	digest_buf(resp.body ? resp.body : "", resp.len, ret_digest);
	if (expect && strcmp(expect, ret_digest) != 0)
		r = hull_err_setx(err, EBADMSG, "%s: manifest %s: content has digest %s",
				  pl->what, expect, ret_digest);
	else if (size >= 0 && (uint64_t)size != resp.len)
		r = hull_err_setx(err, EBADMSG, "%s: manifest %s: %zu bytes, its descriptor "
				  "declares %lld", pl->what, ret_digest, resp.len, (long long)size);
	else if (!expect && resp.docker_digest && strncmp(resp.docker_digest, "sha256:", 7) == 0 &&
		 strcmp(resp.docker_digest, ret_digest) != 0)
		r = hull_err_setx(err, EBADMSG, "%s: manifest: content has digest %s, the registry "
				  "says %s", pl->what, ret_digest, resp.docker_digest);
	if (r == 0) {
		*ret_body = resp.body ? steal_ptr(&resp.body) : xstrdup("");
		*ret_len = resp.len;
		*ret_type = resp.content_type ? steal_ptr(&resp.content_type) : NULL;
	}
	reg_resp_clear(&resp);
	return r;
}

static bool platform_match(struct pull *pl, json_t *desc)
{
	json_t *p = json_object_get(desc, "platform");
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *var = json_string_value(json_object_get(p, "variant"));

	if (!os || !arch || strcmp(os, pl->os) != 0 || strcmp(arch, pl->arch) != 0)
		return false;
	if (!pl->variant)
		return true;
	if (var && strcmp(var, pl->variant) == 0)
		return true;
	/* arm64's only variant is v8: said or not, it is the same */
	return strcmp(pl->arch, "arm64") == 0 && strcmp(pl->variant, "v8") == 0 && !var;
}

static bool is_index(const char *mt, json_t *doc)
{
	if (!mt)
		mt = json_string_value(json_object_get(doc, "mediaType"));
	if (mt && (strncmp(mt, MT_OCI_INDEX, strlen(MT_OCI_INDEX)) == 0 ||
		   strncmp(mt, MT_DOCKER_LIST, strlen(MT_DOCKER_LIST)) == 0))
		return true;
	return !mt && json_object_get(doc, "manifests") && !json_object_get(doc, "layers");
}

/* A descriptor's digest and size, checked. */
static int desc_get(struct pull *pl, json_t *d, const char *field, const char **ret_digest,
		    int64_t *ret_size, struct hull_err *err)
{
	const char *dg = json_string_value(json_object_get(d, "digest"));
	json_t *sz = json_object_get(d, "size");

	if (!digest_is_valid(dg))
		return hull_err_setx(err, EINVAL, "%s: %s.digest: missing, invalid or not sha256",
				     pl->what, field);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
	    (uint64_t)json_integer_value(sz) > REGISTRY_BLOB_MAX)
		return hull_err_setx(err, EFBIG, "%s: %s.size: %s", pl->what, field,
				     json_is_integer(sz) ? "absurd size" : "missing");
	*ret_digest = dg;
	*ret_size = (int64_t)json_integer_value(sz);
	return 0;
}

/*
 * Resolve the reference to an image manifest: descend indexes by platform. The index
 * documents on the way are kept in pl->docs (to store as an oci: import stores them).
 */
static int resolve(struct pull *pl, char **ret_body, size_t *ret_len, char *ret_digest,
		   json_t **ret_man, struct hull_err *err)
{
	const char *object = reference_object(&pl->ref);
	const char *expect = pl->ref.digest;
	int64_t size = -1;
	cleanup_strv char **seen = NULL; /* the indexes on the way */
	cleanup_strv char **hold = NULL; /* storage of the digests asked for */

	for (int depth = 0;; depth++) {
		cleanup_free char *body = NULL;
		cleanup_free char *type = NULL;
		cleanup_free char *where = NULL;
		cleanup_json json_t *doc = NULL;
		char digest[DIGEST_STR_LEN + 1];
		json_t *ms, *d, *pick = NULL;
		size_t len = 0, i;
		int r;

		r = fetch_manifest(pl, object, expect, size, &body, &len, digest, &type, err);
		if (r < 0)
			return r;
		where = xasprintf("%s: manifest %s", pl->what, digest);
		r = hjson_load_buf(body, len, where, &doc, err);
		if (r < 0)
			return r;
		if (!json_is_object(doc))
			return hull_err_setx(err, EINVAL, "%s: not a JSON object", where);
		if (!is_index(type, doc)) {
			*ret_body = steal_ptr(&body);
			*ret_len = len;
			memcpy(ret_digest, digest, sizeof(digest));
			*ret_man = steal_ptr(&doc);
			return 0;
		}
		if (strv_find(seen, digest) >= 0)
			return hull_err_setx(err, ELOOP, "%s: index %s points to itself", pl->what,
					     digest);
		if (depth >= INDEX_DEPTH_MAX)
			return hull_err_setx(err, ELOOP, "%s: indexes nested too deep", pl->what);
		strv_push(&seen, digest);
		strv_push(&pl->docs, digest);
		strv_push(&pl->docs, body);
		ms = json_object_get(doc, "manifests");
		json_array_foreach(ms, i, d)
			if (!pick && platform_match(pl, d))
				pick = d;
		if (!pick)
			return hull_err_setx(err, ENOENT, "%s: no image for platform %s/%s%s%s in "
					     "index %s", pl->what, pl->os, pl->arch,
					     pl->variant ? "/" : "", pl->variant ? pl->variant : "",
					     digest);
		r = desc_get(pl, pick, "manifests[]", &expect, &size, err);
		if (r < 0)
			return r;
		if (size > REGISTRY_MANIFEST_MAX)
			return hull_err_setx(err, EFBIG, "%s: manifest %s: declared size %lld above "
					     "%u", pl->what, expect, (long long)size,
					     REGISTRY_MANIFEST_MAX);
		/* expect points into doc, freed at the end of this iteration */
		strv_push(&hold, expect);
		expect = hold[strv_length(hold) - 1];
		object = expect;
	}
}

static void blobs_free(struct reg_blob *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].fd >= 0)
			(void)close(v[i].fd);
	free(v);
}

/* A blob the store has must still be the size the descriptor declares (as an oci: import). */
static int check_present(struct pull *pl, const char *digest, int64_t size,
			 struct hull_err *err)
{
	cleanup_free char *rel = store_blob_relpath(digest);
	struct stat st;

	if (fstatat(pl->s->root_fd, rel, &st, 0) < 0)
		return hull_err_set(err, errno, "%s: blob %s", pl->what, digest);
	if ((uint64_t)st.st_size != (uint64_t)size)
		return hull_err_setx(err, EBADMSG, "%s: blob %s: %llu bytes, but its descriptor "
				     "declares %lld", pl->what, digest,
				     (unsigned long long)st.st_size, (long long)size);
	return 0;
}

/* The config and layers of the manifest that the store lacks, as staged files. */
static int plan_blobs(struct pull *pl, json_t *man, int dfd, struct reg_blob **ret_v,
		      size_t *ret_n, struct hull_err *err)
{
	json_t *layers = json_object_get(man, "layers"), *l;
	size_t nl = json_array_size(layers), n = 0, i;
	struct reg_blob *v;
	int r = 0;

	if (!json_is_array(layers) || nl > IMAGE_MAX_LAYERS)
		return hull_err_setx(err, EINVAL, "%s: manifest: layers: %s", pl->what,
				     json_is_array(layers) ? "too many" : "missing");
	v = xcalloc(nl + 1, sizeof(*v));
	for (i = 0; i <= nl && r == 0; i++) {
		json_t *d = i == 0 ? json_object_get(man, "config") : json_array_get(layers, i - 1);
		const char *dg;
		int64_t size;
		bool dup = false;

		r = desc_get(pl, d, i == 0 ? "config" : "layers[]", &dg, &size, err);
		if (r == 0 && i == 0 && size > IMAGE_JSON_MAX)
			r = hull_err_setx(err, EFBIG, "%s: config: absurd size %lld", pl->what,
					  (long long)size);
		for (size_t k = 0; r == 0 && k < n; k++)
			dup |= strcmp(v[k].digest, dg) == 0;
		if (r < 0 || dup)
			continue;
		if (store_blob_exists(pl->s, dg)) {
			r = check_present(pl, dg, size, err);
			continue;
		}
		memcpy(v[n].digest, dg, DIGEST_STR_LEN + 1);
		v[n].size = (uint64_t)size;
		v[n].fd = openat(dfd, digest_hex(dg), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (v[n].fd < 0)
			r = hull_err_set(err, errno, "%s: staging blob %s", pl->what, dg);
		n++;
	}
	(void)l;
	if (r < 0) {
		blobs_free(v, n);
		return r;
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}

/* Under the store's lock: move the verified blobs in, unpack the layers, record the name. */
/* Move the layers unpacked in staging (pairs: directory, diff_id) into layers/. */
static int move_layers(struct pull *pl, char *const *staged, struct hull_err *err)
{
	for (size_t i = 0; staged && staged[i]; i += 2) {
		cleanup_free char *rel = store_layer_relpath(staged[i + 1]);

		if (store_layer_exists(pl->s, staged[i + 1]))
			continue; /* another pull stored it meanwhile */
		if (renameat(pl->s->root_fd, staged[i], pl->s->root_fd, rel) < 0)
			return hull_err_set(err, errno, "%s: storing layer %s", pl->what,
					    staged[i + 1]);
		image_store_txn_added(pl->s, rel);
	}
	return 0;
}

static int commit(struct pull *pl, const char *tmpname, const char *mbody, size_t mlen,
		  const char *mdigest, json_t *man, struct reg_blob *v, size_t n,
		  char *const *staged, const char *name, struct hull_err *err)
{
	cleanup_strv char **diff_ids = NULL;
	struct image_info info = { 0 };
	json_t *layers = json_object_get(man, "layers"), *l;
	char got[DIGEST_STR_LEN + 1];
	size_t i;
	int r;

	for (i = 0; pl->docs && pl->docs[i]; i += 2) {
		r = store_blob_put_buf(pl->s, pl->docs[i + 1], strlen(pl->docs[i + 1]), got, err);
		if (r < 0)
			return r;
	}
	r = store_blob_put_buf(pl->s, mbody, mlen, got, err);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		cleanup_free char *rel = xasprintf("%s/%s", tmpname, digest_hex(v[i].digest));

		r = store_blob_put_file(pl->s, rel, v[i].digest, got, NULL, err);
		if (r < 0)
			return hull_err_prefix(err, "%s", pl->what);
	}
	memcpy(info.config, json_string_value(json_object_get(json_object_get(man, "config"),
							      "digest")), DIGEST_STR_LEN + 1);
	r = image_config(pl->s, &info, NULL, &diff_ids, err);
	if (r < 0)
		return hull_err_prefix(err, "%s", pl->what);
	if (strv_length(diff_ids) != json_array_size(layers))
		return hull_err_setx(err, EINVAL, "%s: %zu layers but %zu rootfs.diff_ids",
				     pl->what, json_array_size(layers), strv_length(diff_ids));
	r = move_layers(pl, staged, err);
	if (r < 0)
		return r;
	json_array_foreach(layers, i, l) {
		r = image_layer_ensure(pl->s, pl->what,
				       json_string_value(json_object_get(l, "digest")),
				       diff_ids[i], err);
		if (r < 0)
			return r;
	}
	return image_record(pl->s, name, mdigest, err);
}

static int pull_run(struct pull *pl, const struct registry_opts *o,
		    const struct registry_progress *p, char **ret_name, struct hull_err *err)
{
	cleanup_free char *mbody = NULL;
	cleanup_free char *tmpname = NULL;
	cleanup_free char *name = reference_name(pl->named ? pl->named : &pl->ref);
	cleanup_json json_t *man = NULL;
	cleanup_strv char **staged = NULL;
	cleanup_close int dfd = -1;
	struct reg_blob *v = NULL;
	char mdigest[DIGEST_STR_LEN + 1];
	size_t mlen = 0, n = 0;
	int r;

	r = reg_session_open(pl->ref.domain, o, &pl->sess, err);
	if (r < 0)
		return hull_err_prefix(err, "%s", pl->what);
	r = resolve(pl, &mbody, &mlen, mdigest, &man, err);
	if (r < 0)
		return r;
	if (json_integer_value(json_object_get(man, "schemaVersion")) != 2)
		return hull_err_setx(err, ENOTSUP, "%s: manifest %s: schema version 1 (docker's "
				     "deprecated format) is not supported", pl->what, mdigest);
	/* staged before the lock is taken: the network is slow, other store users are not */
	r = image_store_mktemp(pl->s, &tmpname, &dfd, err);
	if (r < 0)
		return r;
	r = plan_blobs(pl, man, dfd, &v, &n, err);
	if (r == 0)
		r = reg_fetch_blobs(pl->sess, pl->ref.path, v, n, p, pl->what, err);
	if (r == 0)
		r = reg_unpack_layers(pl->s, tmpname, dfd, man, pl->what, &staged, err);
	if (r == 0)
		r = image_store_lock(pl->s, true, err);
	if (r == 0) {
		image_store_txn_begin(pl->s);
		r = commit(pl, tmpname, mbody, mlen, mdigest, man, v, n, staged, name, err);
		r = image_store_txn_end(pl->s, r, err);
	}
	if (v)
		blobs_free(v, n);
	(void)rm_rf_at(pl->s->root_fd, tmpname);
	if (r == 0)
		*ret_name = name ? steal_ptr(&name)
				 : xstrdup(json_string_value(json_object_get(
					   json_object_get(man, "config"), "digest")));
	return r;
}

/* Pull named from repo ("domain/path": the registry, its location or a mirror). */
static int pull_from(struct image_store *s, const struct image_reference *named,
		     const char *repo, bool insecure, const struct registry_opts *o,
		     const struct registry_progress *p, char **ret_name, struct hull_err *err)
{
	struct registry_opts o2 = *o;
	struct pull pl = { .s = s, .named = named };
	cleanup_free char *ref = xasprintf("%s%s%s%s%s", repo, named->tag ? ":" : "",
					   named->tag ? named->tag : "", named->digest ? "@" : "",
					   named->digest ? named->digest : "");
	int r = reference_parse(ref, &pl.ref, err);

	if (r < 0)
		return r;
	o2.tls_verify = o->tls_verify && !insecure;
	pl.what = reference_string(&pl.ref);
	if (o->platform)
		r = registry_platform_parse(o->platform, &pl.os, &pl.arch, &pl.variant, err);
	else
		pl.os = xstrdup("linux"), pl.arch = xstrdup(image_host_arch());
	if (r == 0)
		r = pull_run(&pl, &o2, p, ret_name, err);
	if (r < 0 && err && strncmp(err->msg, pl.what, strlen(pl.what)) != 0)
		(void)hull_err_prefix(err, "%s", pl.what);
	reg_session_free(pl.sess);
	reference_clear(&pl.ref);
	strv_free(pl.docs);
	free(pl.what);
	free(pl.os);
	free(pl.arch);
	free(pl.variant);
	return r;
}

/* Pull ref through registries.conf's [[registry]] for it: its mirrors in order, then its
 * location (the registry itself when none); the last failure is the one reported. */
static int pull_ref(struct image_store *s, const char *ref, const struct regconf *conf,
		    const struct registry_opts *o, const struct registry_progress *p,
		    char **ret_name, struct hull_err *err)
{
	struct image_reference named = { 0 };
	cleanup_free char *repo = NULL;
	cleanup_free char *main_repo = NULL;
	const struct regconf_registry *g;
	int r = reference_parse(ref, &named, err);

	if (r < 0)
		return r;
	repo = reference_repo(&named);
	g = regconf_find(conf, repo);
	if (g && g->blocked) {
		reference_clear(&named);
		return hull_err_setx(err, EACCES, "%s: registry %s is blocked in registries.conf",
				     ref, g->prefix);
	}
	r = -ENOENT;
	for (size_t i = 0; g && r < 0 && i < g->n_mirrors; i++) {
		cleanup_free char *mrepo = regconf_rewrite(g, g->mirrors[i].location, repo);

		r = pull_from(s, &named, mrepo, g->mirrors[i].insecure, o, p, ret_name, err);
	}
	main_repo = g ? regconf_rewrite(g, g->location, repo) : xstrdup(repo);
	if (r < 0)
		r = pull_from(s, &named, main_repo, g && g->insecure, o, p, ret_name, err);
	reference_clear(&named);
	return r;
}

int registry_pull(struct image_store *s, const char *ref, const struct registry_opts *o,
		  const struct registry_progress *p, char **ret_name, struct hull_err *err)
{
	struct regconf conf = { 0 };
	struct image_reference check = { 0 };
	int r = reference_parse(ref, &check, err);

	reference_clear(&check);
	if (r == 0 && o->registries_conf)
		r = regconf_load(o->registries_conf, &conf, err);
	if (r == 0 && conf.search && reference_is_short(ref)) {
		/* tried in order, the first that has it wins (podman's short-name-mode
		 * "disabled"; hull never prompts) */
		r = conf.search[0] ? 0 : hull_err_setx(err, ENOENT, "%s: a short name, and "
						       "registries.conf's unqualified-search-"
						       "registries is empty", ref);
		for (size_t i = 0; conf.search[i]; i++) {
			cleanup_free char *full = xasprintf("%s/%s", conf.search[i], ref);

			r = pull_ref(s, full, &conf, o, p, ret_name, err);
			if (r == 0)
				break;
		}
	} else if (r == 0) {
		r = pull_ref(s, ref, &conf, o, p, ret_name, err);
	}
	regconf_free(&conf);
	return r;
}

int registry_login_check(const char *registry, const struct registry_opts *o,
			 struct hull_err *err)
{
	cleanup_session struct reg_session *sess = NULL;
	struct reg_req q = { .method = "GET", .url = "/v2/", .body_fd = -1 };
	struct reg_resp resp = { 0 };
	int r = reg_session_open(registry, o, &sess, err);

	if (r == 0)
		r = reg_request(sess, &q, &resp, err);
	if (r == 0 && resp.status != 200)
		r = reg_status_err(&resp, registry, err);
	reg_resp_clear(&resp);
	return r;
}
