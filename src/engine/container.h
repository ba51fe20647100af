#pragma once
/*
 * Container records of the `hull` engine, under <store>/containers/<id>/:
 *
 *   hull.json     what was asked for (name, image, command, options): written once
 *   state.json    status, pids, exit code, times: replaced atomically on every change
 *   config.json   the generated OCI config; this directory is the OCI bundle
 *   rootfs/       overlayfs of the image's layers (upper/ and work/ beside it), or a copy
 *   ctr.log       the container's output (engine/ctrlog.h), one record per line:
 *                 "<RFC 3339 time> <stdout|stderr> <F|P> <text>" (P: no newline yet)
 *
 * The OCI runtime keeps its own state under <store>/runtime (src/oci/runtime.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "engine/record.h"
#include "image/store.h"

DEFINE_CLEANUP_FUNC(struct ctr, ctr_free)
#define cleanup_ctr __attribute__((cleanup(ctr_free_cleanup)))

void ctr_list_free(struct ctr **v);

/* The status, corrected when a running container's monitor died without recording it. */
enum ctr_status ctr_status_live(struct ctr *c);

/* Load one container by exact name, exact id, or unique id prefix. -ENOENT "no such
 * container: REF", -EEXIST when a prefix is ambiguous. */
int ctr_load(struct image_store *s, const char *ref, struct ctr **ret,
		   struct hull_err *err);
/*
 * Every container, oldest first, leftovers of interrupted creations and removals included
 * (status "dead"; one without hull.json has an empty name and is listed only when no
 * creation is running). *ret is a NULL-terminated array; free with ctr_list_free.
 */
int ctr_list(struct image_store *s, struct ctr ***ret, struct hull_err *err);
void ctr_list_free(struct ctr **v);

/* Replace state.json with c->state. */
int ctr_state_save(struct ctr *c, struct hull_err *err);
/*
 * Replace dir/name atomically (temporary name, then rename) without fsync, with exactly
 * mode (common/fd.h fd_replace_file_at); the error names the file.
 */
int ctr_write_file(const char *dir, const char *name, const char *buf, size_t len,
		   unsigned mode, struct hull_err *err);
/*
 * Delete a container directory in an order that always leaves a record the listing shows:
 * everything but hull.json (state.json among it: the record reads "dead" from then on),
 * then hull.json, then the directory. Descriptors stay bounded whatever the depth. -errno.
 */
int ctr_dir_remove(const char *dir);
/* Re-read state.json. */
int ctr_state_reload(struct ctr *c, struct hull_err *err);

/* The image ids of all containers (for image_gc). */
int ctr_image_ids(struct image_store *s, char ***ret, struct hull_err *err);

/*
 * Remove what crashes left (every container ctr_list shows as "dead"): directories
 * without hull.json (a creation or a removal interrupted) and records whose state.json is
 * gone (a removal interrupted), unmounting their rootfs and deleting their runtime state.
 * Takes the names lock, which creation holds throughout. *ret_n: how many.
 */
int ctr_prune_incomplete(struct image_store *s, unsigned *ret_n, struct hull_err *err);
/* The name of a container that uses image id, or NULL (a heap string). */
char *ctr_using_image(struct image_store *s, const char *image_id);

/* Lock protecting name uniqueness (containers/.lock); returns an fd to close. */
int ctr_names_lock(struct image_store *s, struct hull_err *err);
/* The names of all containers (a new NULL-terminated vector; strv_free). */
char **ctr_names(struct image_store *s);
