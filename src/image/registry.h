#pragma once
/*
 * The OCI distribution client (docs/registry.md): pull and push of images between the store
 * and a registry (the distribution spec, docker's Registry v2 being the same protocol), over
 * libcurl. Everything fetched is staged in the store's tmp/ and verified (digest and size)
 * before a store transaction moves it in, so a failure leaves the store as it was.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "image/store.h"

#define REGISTRY_MANIFEST_MAX (4u << 20) /* as containers/image */
#define REGISTRY_BLOB_MAX (64ull << 30) /* a larger declared size is refused as absurd */

struct registry_opts {
	bool tls_verify;          /* false: TLS unverified, and plain HTTP allowed */
	char *const *cert_dirs;   /* searched for HOST[:PORT]/NAME.crt (certs.d) */
	char *const *auth_files;  /* auth.json files, first match wins */
	const char *username;     /* explicit credentials (login, --creds), or NULL */
	const char *password;
	const char *platform;     /* "os/arch[/variant]", or NULL for the host's */
	unsigned timeout_s;       /* a transfer without a byte for this long fails (0: 30) */
	unsigned parallel;        /* concurrent blob transfers (0: 3) */
	uint64_t chunk_size;      /* push: blobs above this go up in PATCH chunks (0: 32 MiB) */
	const char *registries_conf; /* registries.conf (and FILE.d/), or NULL: none */
};

/* Progress of one blob: called with done == total and finished when it is complete. */
struct registry_progress {
	void (*blob)(void *ctx, const char *digest, uint64_t done, uint64_t total,
		     const char *state);
	void *ctx;
};

/*
 * Pull ref ("busybox", "host:port/repo:tag@sha256:...") into the store. ret_name receives
 * the name recorded ("host:port/repo:tag"), or the image id for a digest-only reference.
 */
int registry_pull(struct image_store *s, const char *ref, const struct registry_opts *o,
		  const struct registry_progress *p, char **ret_name, struct hull_err *err);

/*
 * Push the store's image (a name or id) to dest (a reference; NULL: the image's own name).
 * ret_digest (may be NULL) receives the manifest digest the registry has.
 */
int registry_push(struct image_store *s, const char *image, const char *dest,
		  const struct registry_opts *o, const struct registry_progress *p,
		  char *ret_digest, struct hull_err *err);

/* Check credentials against registry ("host[:port]"): GET /v2/ with them. */
int registry_login_check(const char *registry, const struct registry_opts *o,
			 struct hull_err *err);

/* Parse "os/arch[/variant]" into heap strings (variant NULL when absent). */
int registry_platform_parse(const char *s, char **ret_os, char **ret_arch,
			    char **ret_variant, struct hull_err *err);
