#pragma once
/*
 * Volumes (docs/engine.md, "Volumes"): named and anonymous volumes in <store>/volumes/NAME
 * (meta.json and _data, as docker's local driver), and -v, --mount, --tmpfs and
 * --volumes-from resolved into the mount entries of config.json.
 */
#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "engine/run.h"
#include "image/store.h"

/* The flock of <store>/volumes/.lock (taken after ctr_names_lock when both are). */
int volume_lock(struct image_store *s, struct hull_err *err);
/*
 * Create volume name with labels ("K=V"), or an anonymous one (name NULL: a random name
 * in *ret_name when not NULL). An existing name is kept, as docker's create is idempotent;
 * *ret_created tells. meta.json is written under a temporary name, then renamed. Caller
 * holds volume_lock.
 */
int volume_create(struct image_store *s, const char *name, char *const *labels,
		  char **ret_name, bool *ret_created, struct hull_err *err);
/* volume_create without meta.json when it makes the volume: the caller fills _data (a
 * container's copy-up) and then calls volume_publish, so that a volume is listed only once
 * complete; a directory without meta.json is a create that died and is made again. */
int volume_create_unpublished(struct image_store *s, const char *name, char *const *labels,
			      char **ret_name, bool *ret_created, struct hull_err *err);
/* Write meta.json of a volume made by volume_create_unpublished (temp name, then rename). */
int volume_publish(struct image_store *s, const char *name, char *const *labels,
		   bool anonymous, struct hull_err *err);
/* meta.json of name (with Mountpoint), or -ENOENT "no such volume: NAME". */
int volume_inspect(struct image_store *s, const char *name, json_t **ret, struct hull_err *err);
/* The names of all volumes, sorted. */
int volume_names(struct image_store *s, char ***ret, struct hull_err *err);
/* The name of a container that uses volume name, or NULL (heap). */
char *volume_user(struct image_store *s, const char *name);
/* Remove name: -ENOENT if missing, -EBUSY naming the container that uses it. Caller holds
 * ctr_names_lock and volume_lock. */
int volume_remove(struct image_store *s, const char *name, struct hull_err *err);

/*
 * Resolve o's -v, --mount, --tmpfs, --volumes-from and the image's Volumes (icfg) into
 * o->mounts (heap, run_mounts_free), creating volumes (copied up from rootfs when new) and
 * writing dir/mounts.json (read by `rm -v`, `volume rm` and --volumes-from). On failure
 * the volumes created here are removed again.
 */
int engine_mounts_resolve(struct image_store *s, struct run_opts *o, json_t *icfg, int rootfs,
			  const char *dir, struct hull_err *err);
void run_mounts_free(struct run_opts *o);
/* Remove the volumes that create made for dir (after a later failure of create). */
void engine_mounts_undo(struct image_store *s, const char *dir);
/* The container's mounts.json in dir: 0 with *ret NULL when it has none, -EINVAL with err
 * naming the file when it cannot be read. */
int engine_mounts_read(const char *dir, json_t **ret, struct hull_err *err);
/* The anonymous volumes of the container in dir (from its mounts.json), NULL if none. */
char **engine_anon_volumes(const char *dir);
/* Remove those of names that no container uses any more (volume_remove refuses the others).
 * Caller holds ctr_names_lock; this takes volume_lock. */
void engine_anon_volumes_remove(struct image_store *s, char *const *names);
