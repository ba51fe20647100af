#pragma once
/*
 * Getting images into and out of the store, all offline, in skopeo's transport terms:
 *   oci:DIR[:TAG]          an OCI image layout directory
 *   oci-archive:FILE[:TAG] the same as a tar file
 *   docker-archive:FILE    `docker save` / `podman save` format (manifest.json)
 * Everything is staged in the store's tmp/ and verified (sha256 of every blob, diff_id of
 * every layer) before index.json changes, so a failure or a crash changes nothing.
 */
#include "common/error.h"
#include "image/digest.h"
#include "image/store.h"

/*
 * Load an archive file (docker-archive or oci-archive, detected from its content).
 * ret_names receives the names recorded ("sha256:<id>" for an untagged image).
 */
int image_load(struct image_store *s, const char *path, char ***ret_names,
	       struct hull_err *err);
/* Pull from a transport reference (see above, and a registry's: image/source.h); o may be
 * NULL (defaults). */
struct image_source_opts;
int image_pull(struct image_store *s, const char *ref, const struct image_source_opts *o,
	       char ***ret_names, struct hull_err *err);

/*
 * Import a root file system tarball (path, "-" for stdin) as a one-layer image named name
 * (NULL: untagged), applying Dockerfile-like changes ("CMD ...", "ENTRYPOINT ...",
 * "ENV K=V", "WORKDIR D", "USER U", "LABEL K=V"). ret_id receives the image id.
 */
int image_import(struct image_store *s, const char *path, const char *name,
		 char *const *changes, char *ret_id, struct hull_err *err);

/* Write the images refs to path ("-": standard output) as "oci-archive" or "docker-archive". */
int image_save(struct image_store *s, char *const *refs, const char *path, const char *format,
	       struct hull_err *err);

/*
 * Make sure the layer with this diff_id is unpacked in the store, from the blob with
 * digest blob (verified: the unpacked stream must hash to diff_id). what names the image.
 */
int image_layer_ensure(struct image_store *s, const char *what, const char *blob,
		       const char *diff_id, struct hull_err *err);

/* Build and store an OCI manifest for a config and layer blobs already in the store. */
int image_manifest_write(struct image_store *s, const char *config, char *const *layers,
			 char *ret_digest, struct hull_err *err);
