#pragma once
/*
 * The registry client's HTTP session over libcurl (internal to src/image): the scheme (https,
 * or http when TLS verification is off and the server speaks plain HTTP), CA certificates
 * from certs.d, timeouts, the auth flows (basic, and the bearer token of a WWW-Authenticate
 * challenge), and retries of 429 and 5xx answers.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include <jansson.h>

#include "image/registry.h"

struct reg_session {
	char *domain;   /* as in the reference: "127.0.0.1:5000", "docker.io" */
	char *base;     /* "https://host:port" */
	const struct registry_opts *o;
	char *user, *pass;
	char *authz;    /* "Authorization: ..." header in use, or NULL */
	char *ca_blob;  /* PEM: the system bundle and certs.d certificates, or NULL */
	size_t ca_len;
	char *cert_blob, *key_blob; /* PEM: the client certificate of certs.d, or NULL */
	size_t cert_len, key_len;
	unsigned timeout_s;
};

struct reg_req {
	const char *method;       /* "GET", "HEAD", "PUT", "POST", "PATCH" */
	const char *url;          /* absolute, or a path on the session's base */
	const char *accept;
	const char *content_type;
	const char *content_range;
	const void *body;         /* request body from memory... */
	size_t body_len;
	int body_fd;              /* ...or from a file region (-1: none) */
	uint64_t body_off, body_fd_len;
	size_t max_body;          /* response bodies above this fail (0: 64 KiB) */
	const char *authz;        /* the token request's own header (any origin), or NULL */
};

struct reg_resp {
	long status;
	char *body;
	size_t len;
	bool too_long;
	char *content_type, *location, *docker_digest, *www_auth, *retry_after, *range;
	char *url;                /* the URL that answered (after redirects) */
};

int reg_session_open(const char *domain, const struct registry_opts *o,
		     struct reg_session **ret, struct hull_err *err);
void reg_session_free(struct reg_session *s);

/* Set up c for url with the session's TLS, timeouts and protocols (no auth header). */
void reg_easy_setup(struct reg_session *s, CURL *c, const char *url);
/* An absolute URL for a path or a registry's Location (relative or absolute). Heap. */
char *reg_url(struct reg_session *s, const char *path_or_url);
/*
 * Is url on the registry's own origin (scheme, host and port of s->base)? Only there do
 * requests carry s->authz and are 401 challenges answered: an upload Location or a redirect
 * may name any host, and the credentials must not follow it.
 */
bool reg_same_origin(const struct reg_session *s, const char *url);
/* err for a 401 from url, another origin than the registry's: the credentials stay home. */
int reg_foreign_401(const struct reg_session *s, const char *url, struct hull_err *err);

/*
 * One request with authentication and retries of 429/5xx (honouring Retry-After, bounded).
 * 0 with resp filled whatever the status (the caller judges it), or -errno with err set
 * when no answer came (connection refused, unknown host, timeout, TLS), when another origin
 * than the registry's answered 401 (EACCES), or for a plain http:// URL while TLS is
 * verified (EPROTO).
 */
int reg_request(struct reg_session *s, const struct reg_req *req, struct reg_resp *resp,
		struct hull_err *err);
void reg_resp_clear(struct reg_resp *r);

/*
 * Answer a 401 challenge (www_auth): basic with the session's credentials, or fetch a bearer
 * token for its scope. Then requests carry s->authz.
 */
int reg_authenticate(struct reg_session *s, const char *www_auth, struct hull_err *err);

/* err for an unexpected status: "what: manifest unknown (HTTP 404)" with a fitting errno. */
int reg_status_err(const struct reg_resp *r, const char *what, struct hull_err *err);
/* The errno for a curl failure, and its text. */
int reg_curl_err(CURLcode rc, const char *errbuf, const char *what, struct hull_err *err);
/* Should a status be retried (429, 5xx)? */
bool reg_status_retryable(long status);
/* Seconds to wait before attempt n (1, 2, ...) after a status, from Retry-After (bounded). */
unsigned reg_backoff(const char *retry_after, unsigned attempt);

/* One blob to fetch into fd (a new file in the staging directory). */
struct reg_blob {
	char digest[72];
	uint64_t size;  /* declared by the manifest: the blob must be exactly this long */
	int fd;
	/* state of the transfer */
	uint64_t got, got_at_start;
	struct digest_ctx *ctx;
	unsigned resumes, retries;
	bool restart, done;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	char errbuf[CURL_ERROR_SIZE]; /* curl's */
	char why[256];                /* ours: why the write callback stopped */
};

/*
 * Fetch the blobs of repo ("library/busybox") in parallel (o->parallel at once), each
 * verified against its digest and declared size as it streams; a broken connection resumes
 * with a Range request. what names the reference in errors.
 */
int reg_fetch_blobs(struct reg_session *s, const char *repo, struct reg_blob *v, size_t n,
		    const struct registry_progress *p, const char *what, struct hull_err *err);

/*
 * Unpack the manifest's layers that the store lacks into the staging directory dfd (tmpname
 * relative to the store root), two at a time, before the store's lock is taken: blobs from
 * dfd (fetched) or the store. Each must hash to its diff_id. ret_staged receives pairs of
 * (relative path of the unpacked directory, diff_id) for registry.c to move into layers/.
 */
int reg_unpack_layers(struct image_store *s, const char *tmpname, int dfd, json_t *man,
		      const char *what, char ***ret_staged, struct hull_err *err);
