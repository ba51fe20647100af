#include "image/digest.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

struct digest_ctx {
	EVP_MD_CTX *md;
};

struct digest_ctx *digest_ctx_new(void)
{
	struct digest_ctx *ctx = xmalloc(sizeof(*ctx));

	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1)
		abort();
	return ctx;
}

void digest_ctx_update(struct digest_ctx *ctx, const void *buf, size_t len)
{
	if (len && EVP_DigestUpdate(ctx->md, buf, len) != 1)
		abort();
}

void digest_ctx_finish(struct digest_ctx *ctx, char out[DIGEST_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(ctx->md, md, &n) != 1 || n != 32)
		abort();
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < n; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 15];
	}
	out[DIGEST_STR_LEN] = '\0';
	digest_ctx_free(ctx);
}

void digest_ctx_free(struct digest_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

void digest_buf(const void *buf, size_t len, char out[DIGEST_STR_LEN + 1])
{
	struct digest_ctx *ctx = digest_ctx_new();

	digest_ctx_update(ctx, buf, len);
	digest_ctx_finish(ctx, out);
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool digest_is_hex_prefix(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!is_lower_hex(s[n]) || n >= DIGEST_HEX_LEN)
			return false;
	return n > 0;
}

bool digest_is_valid(const char *s)
{
	return s && strncmp(s, "sha256:", 7) == 0 && strlen(s) == DIGEST_STR_LEN &&
	       digest_is_hex_prefix(s + 7);
}

const char *digest_hex(const char *s)
{
	return s + 7;
}
