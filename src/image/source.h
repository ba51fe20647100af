#pragma once
/*
 * Where images come from, behind one interface: each transport of skopeo's that hull reads
 * is an ops table, found by the reference's "TRANSPORT:" and never branched on elsewhere.
 *
 *   oci:DIR[:TAG]            an OCI image layout directory          (image/import.c)
 *   oci-archive:FILE[:TAG]   the same as a tar file                 (image/import.c)
 *   docker-archive:FILE      `docker save` / `podman save` format   (image/import.c)
 *   docker://REF, or REF     a registry; a reference with no known   (image/registry-source.c)
 *                            transport is one ("busybox", "host:5000/x:1")
 *
 * The caller's order: image_source_open() (parse, then ops->open, before the store lock:
 * an archive is read whole first, see import.c), then the store lock and its transaction,
 * ops->fetch, image_source_close(). A transport whose transfer is slow (the network) has
 * ops->pull instead of ops->fetch: it stages everything first and takes the store lock
 * itself only for its transaction, so other store users do not wait on the network.
 */
#include "common/error.h"
#include "image/registry.h"
#include "image/store.h"

/* What the caller may tune, for the transports that use it (only the registry's today). */
struct image_source_opts {
	const struct registry_opts *registry;     /* TLS, auth files, platform; NULL: defaults */
	const struct registry_progress *progress; /* per-blob progress; NULL: none */
};

struct image_source {
	const struct image_source_ops *ops;
	char *path;  /* the directory or file of the reference */
	char *tag;   /* NULL: every image the source holds */
	char *repo;  /* the repository for names that are only a tag ("localhost/busybox") */
	char *stage; /* an archive's staging directory, relative to the store root, or NULL */
	int dirfd;   /* the content: the layout directory or the extracted archive; -1 */
};

struct image_source_ops {
	const char *transport; /* "oci": the text before the first ':' of a reference */
	/* Split what follows "TRANSPORT:" into src->path and src->tag. */
	int (*parse)(const char *rest, struct image_source *src, struct hull_err *err);
	/* Make the content readable at src->dirfd. Before the store lock. */
	int (*open)(struct image_store *s, struct image_source *src, struct hull_err *err);
	/*
	 * Resolve the source's manifests (src->tag's, or all) for the host platform, fetch
	 * their config and layer blobs into the store (every digest and diff_id verified) and
	 * record the names; *ret_names gets them ("sha256:<id>" for an untagged image).
	 * Under the store lock, inside its transaction.
	 */
	int (*fetch)(struct image_store *s, struct image_source *src, char ***ret_names,
		     struct hull_err *err);
	/* Instead of fetch: the whole transfer, which locks the store for its own
	 * transaction after the slow part. */
	int (*pull)(struct image_store *s, struct image_source *src,
		    const struct image_source_opts *o, char ***ret_names, struct hull_err *err);
};

extern const struct image_source_ops image_source_oci;
extern const struct image_source_ops image_source_oci_archive;
extern const struct image_source_ops image_source_docker_archive;
extern const struct image_source_ops image_source_docker;

/* The source for "TRANSPORT:REST", parsed and opened; a reference whose text before ':'
 * names no transport is a registry's (docker). Free with image_source_close(). */
int image_source_open(struct image_store *s, const char *ref, struct image_source **ret,
		      struct hull_err *err);
/* An archive file of either kind, told by its content (`hull load`). */
int image_source_open_archive(struct image_store *s, const char *path,
			      struct image_source **ret, struct hull_err *err);
/* Drop the staging directory and the descriptors; NULL is fine. */
void image_source_close(struct image_store *s, struct image_source *src);

/* Helpers the archive transports share (image/source.c). */
int image_source_parse_path_tag(const char *rest, struct image_source *src,
				struct hull_err *err);
int image_source_parse_path(const char *rest, struct image_source *src, struct hull_err *err);
int image_source_open_dir(struct image_store *s, struct image_source *src,
			  struct hull_err *err);
int image_source_extract(struct image_store *s, struct image_source *src,
			 struct hull_err *err);
