/* Push to a registry (registry.h): missing blobs only, mounted when the registry has them
 * in another repository, monolithic or chunked uploads, then the manifest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/strv.h"
#include "image/image.h"
#include "image/reference.h"
#include "image/regconf.h"
#include "image/registry-http.h"

DEFINE_CLEANUP_FUNC(struct reg_session, reg_session_free)
#define cleanup_session __attribute__((cleanup(reg_session_free_cleanup)))

#define PUSH_CHUNK_DEFAULT (32ull << 20)

struct push {
	struct image_store *s;
	struct reg_session *sess;
	struct image_reference ref;
	const struct registry_progress *p;
	char *what;
	char **mount_from; /* other repositories on the same registry that hold our images */
};

static void progress(struct push *ps, const char *digest, uint64_t done, uint64_t total,
		     const char *state)
{
	if (ps->p && ps->p->blob)
		ps->p->blob(ps->p->ctx, digest, done, total, state);
}

/* Repositories of the store's images on the same registry: candidates for a mount. */
static void mount_candidates(struct push *ps)
{
	struct image_list l = { 0 };
	cleanup_free char *self = reference_repo(&ps->ref);
	size_t dl = strlen(ps->ref.domain);

	if (image_list(ps->s, &l, NULL) < 0)
		return;
	for (size_t i = 0; i < l.n; i++) {
		cleanup_free char *repo = NULL;
		cleanup_free char *tag = NULL;

		if (!l.v[i].name)
			continue;
		image_ref_split(l.v[i].name, &repo, &tag);
		if (strncmp(repo, ps->ref.domain, dl) == 0 && repo[dl] == '/' &&
		    strcmp(repo, self) != 0 && strv_find(ps->mount_from, repo + dl + 1) < 0)
			strv_push(&ps->mount_from, repo + dl + 1);
	}
	image_list_free(&l);
}

static int expect_status(struct push *ps, struct reg_resp *resp, long want, const char *what,
			 struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s: %s", ps->what, what);

	if (resp->status == want)
		return 0;
	return reg_status_err(resp, w, err);
}

/* PATCH the blob in chunks to upload location loc, then PUT ?digest=. */
static int upload(struct push *ps, int fd, const char *digest, uint64_t size, char **loc,
		  struct hull_err *err)
{
	uint64_t chunk = ps->sess->o->chunk_size ? ps->sess->o->chunk_size : PUSH_CHUNK_DEFAULT;
	uint64_t off = 0;
	struct reg_resp resp = { 0 };
	cleanup_free char *url = NULL;
	int r;

	while (size > chunk && off < size) {
		uint64_t n = size - off < chunk ? size - off : chunk;
		char range[64];
		struct reg_req q = { .method = "PATCH", .url = *loc, .body_fd = fd, .body_off = off,
				     .body_fd_len = n, .content_type = "application/octet-stream",
				     .content_range = range };

		(void)snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)off,
			       (unsigned long long)(off + n - 1));
		r = reg_request(ps->sess, &q, &resp, err);
		if (r == 0)
			r = expect_status(ps, &resp, 202, "blob upload (PATCH)", err);
		if (r == 0 && !resp.location)
			r = hull_err_setx(err, EPROTO, "%s: blob upload: no Location", ps->what);
		if (r < 0) {
			reg_resp_clear(&resp);
			return r;
		}
		free(*loc);
		*loc = steal_ptr(&resp.location);
		reg_resp_clear(&resp);
		off += n;
		progress(ps, digest, off, size, "Pushing");
	}
	url = xasprintf("%s%sdigest=%s", *loc, strchr(*loc, '?') ? "&" : "?", digest);
	{
		struct reg_req q = { .method = "PUT", .url = url, .body_fd = off < size ? fd : -1,
				     .body_off = off, .body_fd_len = size - off,
				     .content_type = "application/octet-stream" };

		r = reg_request(ps->sess, &q, &resp, err);
	}
	if (r == 0)
		r = expect_status(ps, &resp, 201, "blob upload (PUT)", err);
	reg_resp_clear(&resp);
	return r;
}

/* One blob: present (HEAD), mounted, or uploaded. */
static int push_blob(struct push *ps, const char *digest, struct hull_err *err)
{
	cleanup_free char *head = xasprintf("/v2/%s/blobs/%s", ps->ref.path, digest);
	cleanup_free char *loc = NULL;
	cleanup_close int fd = -1;
	struct reg_resp resp = { 0 };
	struct reg_req q = { .method = "HEAD", .url = head, .body_fd = -1 };
	struct stat st;
	int r = reg_request(ps->sess, &q, &resp, err);

	if (r == 0 && resp.status == 200) {
		reg_resp_clear(&resp);
		progress(ps, digest, 0, 0, "Layer already exists");
		return 0;
	}
	for (size_t i = 0; r == 0 && ps->mount_from && ps->mount_from[i]; i++) {
		cleanup_free char *m = xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s",
						 ps->ref.path, digest, ps->mount_from[i]);
		struct reg_req mq = { .method = "POST", .url = m, .body_fd = -1 };

		reg_resp_clear(&resp);
		r = reg_request(ps->sess, &mq, &resp, err);
		if (r == 0 && resp.status == 201) {
			reg_resp_clear(&resp);
			progress(ps, digest, 0, 0, "Mounted");
			return 0;
		}
	}
	if (r == 0) {
		cleanup_free char *post = xasprintf("/v2/%s/blobs/uploads/", ps->ref.path);
		struct reg_req pq = { .method = "POST", .url = post, .body_fd = -1 };

		reg_resp_clear(&resp);
		r = reg_request(ps->sess, &pq, &resp, err);
	}
	if (r == 0)
		r = expect_status(ps, &resp, 202, "blob upload (POST)", err);
	if (r == 0 && !resp.location)
		r = hull_err_setx(err, EPROTO, "%s: blob upload: no Location", ps->what);
	if (r == 0)
		loc = steal_ptr(&resp.location);
	reg_resp_clear(&resp);
	if (r < 0)
		return r;
	fd = store_blob_open(ps->s, digest, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "blob %s", digest);
	r = upload(ps, fd, digest, (uint64_t)st.st_size, &loc, err);
	if (r == 0)
		progress(ps, digest, (uint64_t)st.st_size, (uint64_t)st.st_size, "Pushed");
	return r;
}

static int push_run(struct push *ps, const struct image_info *info, char *ret_digest,
		    struct hull_err *err)
{
	cleanup_free char *mbuf = NULL;
	cleanup_free char *mpath = NULL;
	cleanup_json json_t *man = NULL;
	struct reg_resp resp = { 0 };
	const char *mt;
	json_t *layers, *l;
	size_t mlen = 0, i;
	int r;

	r = store_blob_read(ps->s, info->manifest, IMAGE_JSON_MAX, &mbuf, &mlen, err);
	if (r < 0)
		return r;
	r = hjson_load_buf(mbuf, mlen, info->manifest, &man, err);
	if (r < 0)
		return r;
	mt = json_string_value(json_object_get(man, "mediaType"));
	mount_candidates(ps);
	r = push_blob(ps, info->config, err);
	layers = json_object_get(man, "layers");
	json_array_foreach(layers, i, l) {
		if (r < 0)
			break;
		r = push_blob(ps, json_string_value(json_object_get(l, "digest")), err);
	}
	if (r < 0)
		return r;
	mpath = xasprintf("/v2/%s/manifests/%s", ps->ref.path, reference_object(&ps->ref));
	{
		struct reg_req q = { .method = "PUT", .url = mpath, .body = mbuf, .body_len = mlen,
				     .body_fd = -1, .content_type = mt ? mt : MT_OCI_MANIFEST };

		r = reg_request(ps->sess, &q, &resp, err);
	}
	if (r == 0)
		r = expect_status(ps, &resp, 201, "manifest", err);
	if (r == 0 && resp.docker_digest && strcmp(resp.docker_digest, info->manifest) != 0)
		r = hull_err_setx(err, EBADMSG, "%s: the registry stored manifest %s as %s",
				  ps->what, info->manifest, resp.docker_digest);
	reg_resp_clear(&resp);
	if (r == 0 && ret_digest)
		memcpy(ret_digest, info->manifest, DIGEST_STR_LEN + 1);
	return r;
}

/* registries.conf's [[registry]] for ps->ref: refused when blocked; moved to its location,
 * with TLS unverified when insecure (pushes never go to mirrors). */
static int push_route(struct push *ps, struct registry_opts *o, struct hull_err *err)
{
	struct regconf conf = { 0 };
	const struct regconf_registry *g;
	cleanup_free char *repo = reference_repo(&ps->ref);
	cleanup_free char *moved = NULL;
	cleanup_free char *full = NULL;
	struct image_reference to = { 0 };
	int r = regconf_load(o->registries_conf, &conf, err);

	g = r == 0 ? regconf_find(&conf, repo) : NULL;
	if (g && g->blocked)
		r = hull_err_setx(err, EACCES, "%s: registry %s is blocked in registries.conf",
				  ps->what, g->prefix);
	else if (g && g->location) {
		moved = regconf_rewrite(g, g->location, repo);
		full = xasprintf("%s:%s", moved, ps->ref.tag);
		r = reference_parse(full, &to, err);
		if (r == 0) {
			reference_clear(&ps->ref);
			ps->ref = to;
		}
	}
	if (g && g->insecure)
		o->tls_verify = false;
	regconf_free(&conf);
	return r;
}

int registry_push(struct image_store *s, const char *image, const char *dest,
		  const struct registry_opts *o, const struct registry_progress *p,
		  char *ret_digest, struct hull_err *err)
{
	struct push ps = { .s = s, .p = p };
	struct registry_opts o2 = *o;
	struct image_info info = { 0 };
	int r = image_store_lock(s, false, err);

	if (r == 0)
		r = image_lookup(s, image, &info, err);
	if (r < 0)
		return r;
	if (!dest)
		dest = info.name;
	if (!dest) {
		image_info_clear(&info);
		return hull_err_setx(err, EINVAL, "%s: an untagged image needs a destination "
				     "reference", image);
	}
	r = reference_parse(dest, &ps.ref, err);
	if (r == 0)
		ps.what = reference_string(&ps.ref);
	if (r == 0 && ps.ref.digest)
		r = hull_err_setx(err, EINVAL, "%s: push to a tag, not a digest", ps.what);
	if (r == 0 && o->registries_conf)
		r = push_route(&ps, &o2, err);
	if (r == 0)
		r = reg_session_open(ps.ref.domain, &o2, &ps.sess, err);
	if (r == 0)
		r = push_run(&ps, &info, ret_digest, err);
	/* one line naming the reference, whatever failed */
	if (r < 0 && ps.what && err && strncmp(err->msg, ps.what, strlen(ps.what)) != 0)
		(void)hull_err_prefix(err, "%s", ps.what);
	reg_session_free(ps.sess);
	reference_clear(&ps.ref);
	strv_free(ps.mount_from);
	free(ps.what);
	image_info_clear(&info);
	return r;
}
