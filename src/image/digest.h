#pragma once
/*
 * sha256 content digests, "sha256:<64 lowercase hex>" (OCI image-spec descriptor.md,
 * "Digests"). Only sha256 is accepted: it is what every producer on this host writes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* "sha256:" + hex */

struct digest_ctx;

/* A running sha256; digest_ctx_new aborts on OOM. */
struct digest_ctx *digest_ctx_new(void);
void digest_ctx_update(struct digest_ctx *ctx, const void *buf, size_t len);
/* Write "sha256:<hex>" (DIGEST_STR_LEN + 1 bytes) into out and free ctx. */
void digest_ctx_finish(struct digest_ctx *ctx, char out[DIGEST_STR_LEN + 1]);
void digest_ctx_free(struct digest_ctx *ctx);

void digest_buf(const void *buf, size_t len, char out[DIGEST_STR_LEN + 1]);

/* True if s is "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_is_valid(const char *s);
/* The hex part of a valid digest (a pointer into s). */
const char *digest_hex(const char *s);
/* True if s is 1..64 lowercase hex digits. */
bool digest_is_hex_prefix(const char *s);
