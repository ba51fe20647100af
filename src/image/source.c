#include "image/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/rmtree.h"
#include "image/image.h"
#include "image/tarball.h"

/* Every transport this hull reads. */
static const struct image_source_ops *const sources[] = {
	&image_source_oci,
	&image_source_oci_archive,
	&image_source_docker_archive,
	&image_source_docker,
};

/* "/x/busybox.tar.gz" -> "busybox": the repository for names that are only a tag. */
static char *repo_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	cleanup_free char *b = NULL;
	char *dot;
	size_t o = 0;

	while (base && base[1] == '\0' && base > path) /* trailing slash */
		base--;
	b = xstrdup(base ? base + 1 : path);
	if (b[0] && b[strlen(b) - 1] == '/')
		b[strlen(b) - 1] = '\0';
	dot = strchr(b, '.');
	if (dot && dot != b)
		*dot = '\0';
	for (size_t i = 0; b[i]; i++) {
		char c = b[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (o && strchr("._-", c)))
			b[o++] = c;
	}
	b[o] = '\0';
	return xasprintf("localhost/%s", o ? b : "image");
}

int image_source_parse_path_tag(const char *rest, struct image_source *src,
				struct hull_err *err)
{
	/* PATH[:REF]: as skopeo, the path ends at the first ':' (REF may hold ':' and '/') */
	const char *colon = strchr(rest, ':');

	src->path = colon ? xstrndup(rest, (size_t)(colon - rest)) : xstrdup(rest);
	if (colon && colon[1])
		src->tag = xstrdup(colon + 1);
	return 0;
}

int image_source_parse_path(const char *rest, struct image_source *src, struct hull_err *err)
{
	src->path = xstrdup(rest);
	return 0;
}

int image_source_open_dir(struct image_store *s, struct image_source *src,
			  struct hull_err *err)
{
	src->dirfd = open(src->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src->dirfd < 0)
		return hull_err_set(err, errno, "%s", src->path);
	return 0;
}

/*
 * Read the whole archive into a staging directory of the store before the lock is taken:
 * `hull save X | hull load` on one store would otherwise wait forever (save holds the
 * shared lock while it writes); the sweep of tmp/ spares the staging of a live process.
 */
int image_source_extract(struct image_store *s, struct image_source *src,
			 struct hull_err *err)
{
	int r = image_store_mktemp(s, &src->stage, &src->dirfd, err);

	return r < 0 ? r : archive_extract_plain(src->path, src->dirfd, err);
}

static struct image_source *source_new(const struct image_source_ops *ops)
{
	struct image_source *src = xcalloc(1, sizeof(*src));

	src->ops = ops;
	src->dirfd = -1;
	return src;
}

static int source_start(struct image_store *s, struct image_source *src, const char *rest,
			struct image_source **ret, struct hull_err *err)
{
	int r = src->ops->parse(rest, src, err);

	if (r == 0) {
		src->repo = repo_from_path(src->path);
		r = src->ops->open(s, src, err);
	}
	if (r < 0) {
		image_source_close(s, src);
		return r;
	}
	*ret = src;
	return 0;
}

int image_source_open(struct image_store *s, const char *ref, struct image_source **ret,
		      struct hull_err *err)
{
	const char *colon = strchr(ref, ':');

	for (size_t i = 0; colon && i < ARRAY_SIZE(sources); i++)
		if (strlen(sources[i]->transport) == (size_t)(colon - ref) &&
		    strncmp(ref, sources[i]->transport, (size_t)(colon - ref)) == 0)
			return source_start(s, source_new(sources[i]), colon + 1, ret, err);
	/* as docker and podman: a bare reference ("busybox", "host:5000/x") is a registry's */
	return source_start(s, source_new(&image_source_docker), ref, ret, err);
}

int image_source_open_archive(struct image_store *s, const char *path,
			      struct image_source **ret, struct hull_err *err)
{
	struct image_source *src = source_new(&image_source_oci_archive);
	int r;

	/* a path with a ':' is a file name here, not FILE:TAG */
	src->path = xstrdup(path);
	src->repo = repo_from_path(path);
	r = src->ops->open(s, src, err);
	if (r < 0) {
		image_source_close(s, src);
		return r;
	}
	/* docker-archive when it has manifest.json and no index.json; oci-archive's fetch
	 * says "neither" when it has no index.json either */
	if (faccessat(src->dirfd, "manifest.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	    faccessat(src->dirfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		src->ops = &image_source_docker_archive;
	*ret = src;
	return 0;
}

void image_source_close(struct image_store *s, struct image_source *src)
{
	if (!src)
		return;
	if (src->dirfd >= 0)
		(void)close(src->dirfd);
	if (src->stage)
		(void)rm_rf_at(s->root_fd, src->stage);
	free(src->stage);
	free(src->path);
	free(src->tag);
	free(src->repo);
	free(src);
}
