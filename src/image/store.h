#pragma once
/*
 * The image store: a directory (default /var/lib/hull) laid out as
 *
 *   oci-layout, index.json     an OCI image layout (image-spec image-layout.md); index.json
 *                              is the name -> manifest index (ref.name annotations)
 *   blobs/sha256/<hex>         content-addressed blobs, verified on the way in
 *   layers/<diff_id hex>/      each layer unpacked once, in overlayfs form, shared by images
 *   containers/<id>/           container records (src/engine)
 *   tmp/                       staging: everything is built here, then renamed into place
 *   lock                       flock(): exclusive for changes, shared for readers that mount
 *
 * Every change is a rename of a finished file or directory, and index.json is replaced last,
 * so a crash (even kill -9) leaves the store as it was; leftovers in tmp/ are removed the next
 * time the exclusive lock is taken.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "image/digest.h"

#define IMAGE_STORE_DEFAULT_ROOT "/var/lib/hull"

struct json_t;

struct image_store {
	char *root;  /* absolute path of the store */
	int root_fd; /* O_DIRECTORY fd on root */
	int lock_fd; /* fd on root/lock, -1 until locked */
	char **added; /* blobs and layers added since image_store_txn_begin (relative paths) */
	bool in_txn;
	/* index.json as the transaction will leave it: written once, by image_store_txn_end */
	struct json_t *txn_index;
};

/*
 * Open (creating if needed) the store at root; NULL means $HULL_ROOT or the default.
 * Returns 0 and a store to free with image_store_free, or -errno with err set.
 */
int image_store_open(const char *root, struct image_store **ret, struct hull_err *err);
void image_store_free(struct image_store *s);
DEFINE_CLEANUP_FUNC(struct image_store, image_store_free)
#define cleanup_image_store __attribute__((cleanup(image_store_free_cleanup)))

/* Resolve the store root: the argument, else $HULL_ROOT, else the default. Heap string. */
char *image_store_root_default(const char *root);

/* Take the store lock (exclusive or shared), held until image_store_free. An exclusive
 * lock also removes what a crashed writer left in tmp/. */
int image_store_lock(struct image_store *s, bool exclusive, struct hull_err *err);

/*
 * A failed load/pull/import must leave the store as it was, including blobs it verified
 * before failing: between begin and end, every blob or layer moved into place is recorded,
 * and index changes are kept in s->txn_index. image_store_txn_end with result < 0 removes
 * the recorded blobs and layers and returns result; with result 0 it writes index.json once
 * (temporary file, fsync, rename) and returns 0, or rolls back and returns -errno with err
 * set when that write fails. Caller holds the exclusive lock.
 */
void image_store_txn_begin(struct image_store *s);
int image_store_txn_end(struct image_store *s, int result, struct hull_err *err);
/* Replace index.json with buf (staged in tmp/, fsync, rename). */
int store_index_write(struct image_store *s, const char *buf, size_t len, struct hull_err *err);
/* Record relpath as added in the current transaction (no-op outside one). */
void image_store_txn_added(struct image_store *s, const char *relpath);

/* Make a new empty directory under tmp/; returns its name (relative to root) and an fd. */
int image_store_mktemp(struct image_store *s, char **ret_name, int *ret_fd,
		       struct hull_err *err);

/*
 * Move the file tmpname (relative to root, on the store's file system) into blobs/ after
 * hashing it; when expect is non-NULL the digest must match, else -EBADMSG naming both.
 * ret_digest (may be NULL) receives the digest, ret_size the size.
 */
int store_blob_put_file(struct image_store *s, const char *tmpname, const char *expect,
			char *ret_digest, uint64_t *ret_size, struct hull_err *err);
/* Copy a stream into a blob (see store_blob_put_file). */
int store_blob_put_fd(struct image_store *s, int fd, const char *expect, char *ret_digest,
		      uint64_t *ret_size, struct hull_err *err);
int store_blob_put_buf(struct image_store *s, const void *buf, size_t len, char *ret_digest,
		       struct hull_err *err);
bool store_blob_exists(struct image_store *s, const char *digest);
/* Open a blob read-only; -ENOENT with err naming the digest when absent. */
int store_blob_open(struct image_store *s, const char *digest, struct hull_err *err);
int store_blob_read(struct image_store *s, const char *digest, size_t max, char **ret_buf,
		    size_t *ret_len, struct hull_err *err);
/* "blobs/sha256/<hex>" and "layers/<hex>", relative to root. Heap strings. */
char *store_blob_relpath(const char *digest);
char *store_layer_relpath(const char *diff_id);
bool store_layer_exists(struct image_store *s, const char *diff_id);

/* Remove dirfd/name recursively (no error if absent). Returns 0 or -errno. */
int rm_rf_at(int dirfd, const char *name);
/*
 * rm_rf_at that adds to *freed the bytes it released, counted as du counts them (st_blocks),
 * each inode once: a file when its last link goes, a directory when it is removed.
 */
int rm_rf_at_freed(int dirfd, const char *name, uint64_t *freed);
/* The disk usage (st_blocks, each inode once, one file system) of dirfd/name, as du -s. */
int store_du_at(int dirfd, const char *name, uint64_t *ret);

/*
 * Open relpath below dirfd (RESOLVE_IN_ROOT) for reading without blocking on a FIFO or a
 * device, and refuse anything but a regular file (-EINVAL). Returns the fd or -errno.
 */
int store_open_regular_in(int dirfd, const char *relpath);
/* write() all of buf at offset off; a short write is continued, so a full disk reports
 * ENOSPC (not a stale errno). Returns 0 or -errno. */
int store_pwrite_all(int fd, const void *buf, size_t len, off_t off);
