#pragma once
/*
 * Images in the store: the name -> manifest index (index.json, whose descriptors carry the
 * name in the org.opencontainers.image.ref.name annotation), look-ups by name or by id
 * prefix, tags, removal and garbage collection.
 *
 * An image's id is the digest of its config blob, as docker and podman print it.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "image/digest.h"
#include "image/store.h"

#define ANNOT_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOT_CONTAINERD_NAME "io.containerd.image.name"
#define ANNOT_HULL_CONFIG "io.hull.image.config"
#define ANNOT_HULL_CREATED "io.hull.image.created"
#define ANNOT_HULL_SIZE "io.hull.image.size"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

/* Bounds on the JSON documents and lists an image may bring (STYLE.md: limit everything). */
#define IMAGE_JSON_MAX (4u << 20)
#define IMAGE_MAX_LAYERS 256

struct image_info {
	char *name; /* "localhost/busybox:latest", or NULL for an untagged image */
	char manifest[DIGEST_STR_LEN + 1];
	char config[DIGEST_STR_LEN + 1]; /* the image id */
	char *created;                   /* RFC 3339 from the config, or NULL */
	char *os, *arch, *variant;       /* the config's platform (index.json's record), or NULL */
	uint64_t size;                   /* bytes of the layer blobs */
};

struct image_list {
	struct image_info *v;
	size_t n;
};

void image_info_clear(struct image_info *info);
void image_list_free(struct image_list *l);

/*
 * Normalise a user's image name: "busybox" -> "localhost/busybox:latest",
 * "docker.io/library/x:1" stays. Returns a heap string, or NULL when ref is not a valid name.
 */
char *image_ref_normalize(const char *ref);
/* Split a normalised name into repository and tag (heap strings). */
void image_ref_split(const char *name, char **ret_repo, char **ret_tag);

/* The host's architecture as OCI names it (GOARCH: "amd64", "arm64"; else uname's). */
const char *image_host_arch(void);

/* Every image in the index, in index order. */
int image_list(struct image_store *s, struct image_list *ret, struct hull_err *err);

/*
 * Find an image by name (normalised as above), by full id "sha256:<hex>", or by a unique id
 * prefix. -ENOENT "no such image: REF", -EEXIST when a prefix is ambiguous.
 */
int image_lookup(struct image_store *s, const char *ref, struct image_info *ret,
		 struct hull_err *err);

/*
 * Record name (NULL: untagged) -> manifest in the index, taking the manifest and config
 * from the store's blobs; a previous image of that name loses it. Caller holds the
 * exclusive lock.
 */
int image_record(struct image_store *s, const char *name, const char *manifest_digest,
		 struct hull_err *err);

/* Give the image ref the additional name new_name. */
int image_tag(struct image_store *s, const char *ref, const char *new_name,
	      struct hull_err *err);

/*
 * Remove ref: a name loses that name; an id removes every name of the image.
 * ret_removed (may be NULL) receives the id when no name is left on the image.
 */
int image_remove(struct image_store *s, const char *ref, char *ret_removed,
		 struct hull_err *err);

/* Read and parse a JSON blob (manifest, config). */
int image_blob_json(struct image_store *s, const char *digest, json_t **ret,
		    struct hull_err *err);
/* The image's config and its rootfs.diff_ids (a new NULL-terminated vector). */
int image_config(struct image_store *s, const struct image_info *info, json_t **ret_config,
		 char ***ret_diff_ids, struct hull_err *err);

/*
 * Drop from the index the images no container uses (their ids not in keep_ids): all of them
 * with all, else only the untagged ("dangling") ones. Their blobs stay for image_gc.
 * ret_removed receives the ids of the images removed. Takes the exclusive lock.
 */
int image_prune(struct image_store *s, bool all, char *const *keep_ids, char ***ret_removed,
		struct hull_err *err);

struct image_gc_stats {
	unsigned blobs, layers;
	uint64_t bytes; /* released on disk, as du counts it (blocks) */
};

/*
 * Remove blobs and unpacked layers that no image in the index uses, nor any image whose id
 * is in keep_ids (images of existing containers). Takes the exclusive lock.
 */
int image_gc(struct image_store *s, char *const *keep_ids, struct image_gc_stats *ret,
	     struct hull_err *err);

struct image_df {
	unsigned images, active; /* images in the index; those a container uses */
	uint64_t size;           /* disk usage of every blob and unpacked layer */
	uint64_t reclaimable;    /* of which no container's image needs */
};

struct image_usage {
	struct image_info info; /* as image_list gives it (one entry per name) */
	uint64_t size;          /* disk usage of its blobs and unpacked layers */
	uint64_t shared;        /* of which another image (another id) uses too */
};

/* Every image of the index with its disk usage (`system df -v`). Free with free() after
 * image_info_clear on each. Shared lock. */
int image_usage_list(struct image_store *s, struct image_usage **ret, size_t *ret_n,
		     struct hull_err *err);

/* What `hull system df` reports for images; keep_ids as for image_gc. Shared lock. */
int image_df(struct image_store *s, char *const *keep_ids, struct image_df *ret,
	     struct hull_err *err);
