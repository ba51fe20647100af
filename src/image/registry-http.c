/* The registry client's HTTP session (registry-http.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "image/auth.h"
#include "image/registry-http.h"

#define REG_BODY_DEFAULT_MAX (64u << 10)
#define REG_ATTEMPTS 4
#define REG_TOKEN_MAX (1u << 20)
#define REG_CA_MAX (8u << 20)

/* Append every *.crt of dir (certs.d/HOST:PORT) to the PEM blob. */
static void ca_add_dir(struct reg_session *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		cleanup_free char *buf = NULL;
		size_t len = 0;
		int dfd = dirfd(d);

		if (n < 5 || strcmp(e->d_name + n - 4, ".crt") != 0)
			continue;
		if (fd_read_file_at(dfd, e->d_name, REG_CA_MAX, &buf, &len) < 0)
			continue;
		s->ca_blob = xrealloc(s->ca_blob, s->ca_len + len + 2);
		memcpy(s->ca_blob + s->ca_len, buf, len);
		s->ca_len += len;
		s->ca_blob[s->ca_len++] = '\n';
	}
	closedir(d);
}

/* certs.d: the registry's own CAs, added to (not replacing) the system's. */
static void ca_load(struct reg_session *s)
{
	for (size_t i = 0; s->o->cert_dirs && s->o->cert_dirs[i]; i++) {
		cleanup_free char *dir = xasprintf("%s/%s", s->o->cert_dirs[i], s->domain);

		ca_add_dir(s, dir);
	}
	if (s->ca_blob) {
		cleanup_free char *sys = NULL;
		size_t len = 0;

		if (fd_read_file_at(AT_FDCWD, "/etc/ssl/certs/ca-certificates.crt", 64u << 20,
				    &sys, &len) == 0) {
			s->ca_blob = xrealloc(s->ca_blob, s->ca_len + len + 1);
			memcpy(s->ca_blob + s->ca_len, sys, len);
			s->ca_len += len;
		}
	}
}

static int cert_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && strcmp(d->d_name + n - 5, ".cert") == 0;
}

/*
 * certs.d/HOST:PORT/NAME.cert with NAME.key beside it: the client certificate shown to a
 * registry that asks for one (docker's and podman's rule). The first pair in name order of
 * the first directory that has one (libcurl takes one); a .cert without its .key is an
 * error, as docker says.
 */
static int client_cert_load(struct reg_session *s, struct hull_err *err)
{
	for (size_t i = 0; s->o->cert_dirs && s->o->cert_dirs[i]; i++) {
		cleanup_free char *dir = xasprintf("%s/%s", s->o->cert_dirs[i], s->domain);
		cleanup_free char *cert = NULL;
		cleanup_free char *key = NULL;
		struct dirent **names = NULL;
		int n = scandir(dir, &names, cert_name, alphasort), r = 0;

		if (n > 0) {
			cert = xasprintf("%s/%s", dir, names[0]->d_name);
			key = xasprintf("%.*s.key", (int)strlen(cert) - 5, cert);
		}
		for (int k = 0; k < n; k++)
			free(names[k]);
		free(names);
		if (n <= 0)
			continue;
		r = fd_read_file_at(AT_FDCWD, cert, REG_CA_MAX, &s->cert_blob, &s->cert_len);
		if (r < 0)
			return hull_err_set(err, -r, "client certificate %s", cert);
		r = fd_read_file_at(AT_FDCWD, key, REG_CA_MAX, &s->key_blob, &s->key_len);
		if (r == -ENOENT)
			return hull_err_setx(err, ENOENT, "client certificate %s: missing key %s",
					     cert, key);
		if (r < 0)
			return hull_err_set(err, -r, "client key %s", key);
		return 0;
	}
	return 0;
}

void reg_session_free(struct reg_session *s)
{
	if (!s)
		return;
	free(s->domain);
	free(s->base);
	free(s->user);
	if (s->pass)
		explicit_bzero(s->pass, strlen(s->pass));
	free(s->pass);
	free(s->authz);
	free(s->ca_blob);
	free(s->cert_blob);
	if (s->key_blob)
		explicit_bzero(s->key_blob, s->key_len);
	free(s->key_blob);
	free(s);
}

void reg_easy_setup(struct reg_session *s, CURL *c, const char *url)
{
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_USERAGENT, "hull");
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)s->timeout_s);
	/* a transfer that stalls (no byte for timeout_s) fails; a slow but live one goes on */
	(void)curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	(void)curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)s->timeout_s);
	(void)curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	if (!s->o->tls_verify) {
		(void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		(void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (s->ca_blob) {
		struct curl_blob b = { .data = s->ca_blob, .len = s->ca_len,
				       .flags = CURL_BLOB_NOCOPY };

		(void)curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
	/* the registry's own certificate only for the registry (not a token realm elsewhere) */
	if (s->cert_blob && reg_same_origin(s, url)) {
		struct curl_blob cb = { .data = s->cert_blob, .len = s->cert_len,
					.flags = CURL_BLOB_NOCOPY };
		struct curl_blob kb = { .data = s->key_blob, .len = s->key_len,
					.flags = CURL_BLOB_NOCOPY };

		(void)curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cb);
		(void)curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		(void)curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &kb);
		(void)curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

char *reg_url(struct reg_session *s, const char *p)
{
	if (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0)
		return xstrdup(p);
	return xasprintf("%s%s%s", s->base, p[0] == '/' ? "" : "/", p);
}

/* Scheme, host and port (the scheme's default when absent) of url. */
static bool url_origin(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;

	curl_url_cleanup(u);
	return ok;
}

bool reg_same_origin(const struct reg_session *s, const char *url)
{
	char *v[6] = { 0 };
	bool same = url_origin(s->base, &v[0], &v[1], &v[2]) &&
		    url_origin(url, &v[3], &v[4], &v[5]) && strcasecmp(v[0], v[3]) == 0 &&
		    strcasecmp(v[1], v[4]) == 0 && strcmp(v[2], v[5]) == 0;

	for (size_t i = 0; i < 6; i++)
		curl_free(v[i]);
	return same;
}

int reg_foreign_401(const struct reg_session *s, const char *url, struct hull_err *err)
{
	size_t n = strcspn(url, "?");

	return hull_err_setx(err, EACCES, "%.*s asks for authentication, but it is not %s: "
			     "the registry's credentials are not sent to another origin",
			     (int)(n > 200 ? 200 : n), url, s->base);
}

void reg_resp_clear(struct reg_resp *r)
{
	free(r->body);
	free(r->content_type);
	free(r->location);
	free(r->docker_digest);
	free(r->www_auth);
	free(r->retry_after);
	free(r->range);
	free(r->url);
	*r = (struct reg_resp){ 0 };
}

struct xfer {
	struct reg_resp *resp;
	size_t max;
	const struct reg_req *req;
	uint64_t sent;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n;

	if (x->resp->len + len > x->max) {
		x->resp->too_long = true;
		return 0;
	}
	x->resp->body = xrealloc(x->resp->body, x->resp->len + len + 1);
	memcpy(x->resp->body + x->resp->len, p, len);
	x->resp->len += len;
	x->resp->body[x->resp->len] = '\0';
	return len;
}

static void header_take(const char *line, size_t len, const char *name, char **slot)
{
	size_t n = strlen(name);

	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return;
	line += n + 1, len -= n + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	free(*slot);
	*slot = xstrndup(line, len);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct reg_resp *r = ((struct xfer *)ud)->resp;
	size_t len = sz * n;

	/* a new status line (after a redirect or 100-continue) starts a new set of headers */
	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		free(r->www_auth);
		r->www_auth = NULL;
		free(r->location);
		r->location = NULL;
	}
	header_take(p, len, "Content-Type", &r->content_type);
	header_take(p, len, "Location", &r->location);
	header_take(p, len, "Docker-Content-Digest", &r->docker_digest);
	header_take(p, len, "WWW-Authenticate", &r->www_auth);
	header_take(p, len, "Retry-After", &r->retry_after);
	header_take(p, len, "Range", &r->range);
	return len;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	const struct reg_req *q = x->req;
	uint64_t total = q->body_fd >= 0 ? q->body_fd_len : q->body_len;
	size_t want = sz * n;
	ssize_t got;

	if (x->sent >= total)
		return 0;
	if (want > total - x->sent)
		want = (size_t)(total - x->sent);
	if (q->body_fd < 0) {
		memcpy(buf, (const char *)q->body + x->sent, want);
		got = (ssize_t)want;
	} else {
		got = pread(q->body_fd, buf, want, (off_t)(q->body_off + x->sent));
		if (got <= 0)
			return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)got;
	return (size_t)got;
}

int reg_curl_err(CURLcode rc, const char *errbuf, const char *what, struct hull_err *err)
{
	int e = EIO;

	if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY)
		e = EHOSTUNREACH;
	else if (rc == CURLE_COULDNT_CONNECT)
		e = ECONNREFUSED;
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		e = ETIMEDOUT;
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
		 rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE)
		e = EPROTO;
	if (e == ETIMEDOUT)
		return hull_err_setx(err, e, "%s: timed out (%s)", what,
				     errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
	return hull_err_setx(err, e, "%s: %s", what,
			     errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
}

static struct curl_slist *req_headers(struct reg_session *s, const struct reg_req *q,
				      const char *url)
{
	struct curl_slist *h = NULL;
	char buf[512];

	if (q->accept && snprintf(buf, sizeof(buf), "Accept: %s", q->accept) > 0)
		h = curl_slist_append(h, buf);
	if (q->content_type && snprintf(buf, sizeof(buf), "Content-Type: %s",
					q->content_type) > 0)
		h = curl_slist_append(h, buf);
	if (q->content_range && snprintf(buf, sizeof(buf), "Content-Range: %s",
					 q->content_range) > 0)
		h = curl_slist_append(h, buf);
	/* curl drops custom Authorization headers on a redirect to another origin */
	if (q->authz)
		h = curl_slist_append(h, q->authz);
	else if (s->authz && reg_same_origin(s, url))
		h = curl_slist_append(h, s->authz);
	return curl_slist_append(h, "Expect:");
}

/* The method and the request body. */
static void req_method(CURL *c, const struct reg_req *q, struct xfer *x)
{
	if (strcmp(q->method, "HEAD") == 0) {
		(void)curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		return;
	}
	if (strcmp(q->method, "GET") == 0) {
		(void)curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		return;
	}
	(void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->body || q->body_fd >= 0) {
		(void)curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		(void)curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		(void)curl_easy_setopt(c, CURLOPT_READDATA, x);
		(void)curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				       (curl_off_t)(q->body_fd >= 0 ? q->body_fd_len : q->body_len));
	} else if (strcmp(q->method, "POST") == 0 || strcmp(q->method, "PUT") == 0) {
		(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		(void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
}

/* One exchange on c; *url may change to http:// (see below). */
static CURLcode req_perform(struct reg_session *s, CURL *c, const struct reg_req *q,
			    struct xfer *x, char **url, char *errbuf)
{
	for (;;) {
		struct curl_slist *h = req_headers(s, q, *url);
		CURLcode rc;

		reg_resp_clear(x->resp);
		x->sent = 0;
		errbuf[0] = '\0';
		reg_easy_setup(s, c, *url);
		(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
		(void)curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		(void)curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
		req_method(c, q, x);
		rc = curl_easy_perform(c);
		curl_slist_free_all(h);
		/* --tls-verify=false: a registry that speaks plain HTTP (docker's insecure one) */
		if (!s->o->tls_verify && strncmp(*url, "https://", 8) == 0 &&
		    (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR)) {
			char *u = xasprintf("http://%s", *url + 8);

			if (strncmp(s->base, "https://", 8) == 0) {
				char *b = xasprintf("http://%s", s->base + 8);

				free(s->base);
				s->base = b;
			}
			free(*url);
			*url = u;
			continue;
		}
		return rc;
	}
}

/* One HTTP exchange, no retries. */
static int reg_once(struct reg_session *s, const struct reg_req *q, struct reg_resp *resp,
		    struct hull_err *err)
{
	CURL *c = curl_easy_init();
	cleanup_free char *url = reg_url(s, q->url);
	struct xfer x = { .resp = resp, .req = q,
			  .max = q->max_body ? q->max_body : REG_BODY_DEFAULT_MAX };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	char *eff = NULL;
	int r = 0;

	if (!c)
		return hull_err_setx(err, ENOMEM, "curl_easy_init");
	/* an upload Location or a token realm in clear text would undo the TLS */
	if (s->o->tls_verify && strncasecmp(url, "http://", 7) == 0) {
		curl_easy_cleanup(c);
		return hull_err_setx(err, EPROTO, "%s %.200s: plain http from a registry reached "
				     "over https (--tls-verify=false allows it)", q->method, url);
	}
	rc = req_perform(s, c, q, &x, &url, errbuf);
	if (rc == CURLE_WRITE_ERROR && resp->too_long) {
		r = hull_err_setx(err, EFBIG, "%s %s: answer longer than %zu bytes", q->method,
				  url, x.max);
	} else if (rc != CURLE_OK) {
		cleanup_free char *what = xasprintf("%s %s", q->method, url);

		r = reg_curl_err(rc, errbuf, what, err);
	} else {
		(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		(void)curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
		resp->url = xstrdup(eff ? eff : url);
	}
	curl_easy_cleanup(c);
	return r;
}

bool reg_status_retryable(long status)
{
	return status == 429 || (status >= 500 && status <= 599 && status != 501);
}

unsigned reg_backoff(const char *retry_after, unsigned attempt)
{
	char *end;
	unsigned long v;

	if (retry_after && *retry_after) {
		errno = 0;
		v = strtoul(retry_after, &end, 10);
		if (!errno && *end == '\0')
			return v > 10 ? 10 : (unsigned)v;
	}
	return attempt > 3 ? 4 : 1u << (attempt - 1);
}

int reg_request(struct reg_session *s, const struct reg_req *q, struct reg_resp *resp,
		struct hull_err *err)
{
	bool authed = false;
	int r;

	for (unsigned attempt = 1;; attempt++) {
		r = reg_once(s, q, resp, err);
		if (r < 0)
			return r;
		/* a foreign challenge is not answered: its realm could be anyone's */
		if (resp->status == 401 && !reg_same_origin(s, resp->url)) {
			r = reg_foreign_401(s, resp->url, err);
			reg_resp_clear(resp);
			return r;
		}
		if (resp->status == 401 && !authed && resp->www_auth) {
			cleanup_free char *ch = xstrdup(resp->www_auth);

			authed = true;
			r = reg_authenticate(s, ch, err);
			if (r < 0)
				return r;
			attempt--;
			continue;
		}
		if (!reg_status_retryable(resp->status) || attempt >= REG_ATTEMPTS)
			return 0;
		(void)sleep(reg_backoff(resp->retry_after, attempt));
	}
}

/* A challenge's parameter: key="value" (quoted) or key=token. Heap, or NULL. */
static char *challenge_param(const char *ch, const char *key)
{
	size_t kn = strlen(key);

	for (const char *p = ch; *p; p++) {
		const char *v;

		if (strncasecmp(p, key, kn) != 0 || p[kn] != '=' ||
		    (p != ch && p[-1] != ' ' && p[-1] != ','))
			continue;
		v = p + kn + 1;
		if (*v == '"')
			return xstrndup(v + 1, strcspn(v + 1, "\""));
		return xstrndup(v, strcspn(v, ", "));
	}
	return NULL;
}

static char *basic_header(const char *user, const char *pass)
{
	cleanup_free char *plain = xasprintf("%s:%s", user, pass);
	size_t n = strlen(plain);
	cleanup_free char *b64 = xmalloc((n + 2) / 3 * 4 + 1);

	(void)EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)plain, (int)n);
	explicit_bzero(plain, n);
	return xasprintf("Authorization: Basic %s", b64);
}

/* The bearer flow (distribution's token spec): GET realm?service=..&scope=.. -> {"token"}. */
static int fetch_token(struct reg_session *s, const char *ch, struct hull_err *err)
{
	cleanup_free char *realm = challenge_param(ch, "realm");
	cleanup_free char *service = challenge_param(ch, "service");
	cleanup_free char *scope = challenge_param(ch, "scope");
	cleanup_free char *url = NULL;
	cleanup_free char *basic = NULL;
	cleanup_json json_t *j = NULL;
	struct reg_resp resp = { 0 };
	struct reg_req q = { .method = "GET", .body_fd = -1, .max_body = REG_TOKEN_MAX };
	CURL *c = curl_easy_init();
	const char *tok;
	char *e1, *e2;
	int r;

	if (!realm || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0))
		return hull_err_setx(err, EPROTO, "%s: bearer challenge without an http(s) realm",
				     s->domain);
	e1 = curl_easy_escape(c, service ? service : "", 0);
	e2 = curl_easy_escape(c, scope ? scope : "", 0);
	url = xasprintf("%s%sservice=%s%s%s", realm, strchr(realm, '?') ? "&" : "?", e1,
			scope ? "&scope=" : "", scope ? e2 : "");
	curl_free(e1);
	curl_free(e2);
	curl_easy_cleanup(c);
	/* the realm the registry's own challenge names gets the credentials (the bearer flow) */
	if (s->user)
		basic = basic_header(s->user, s->pass);
	q.url = url;
	q.authz = basic;
	r = reg_once(s, &q, &resp, err);
	if (basic)
		explicit_bzero(basic, strlen(basic));
	if (r == 0 && resp.status != 200)
		r = reg_status_err(&resp, "token server", err);
	if (r == 0)
		r = hjson_load_buf(resp.body ? resp.body : "", resp.len, "token server answer", &j,
				   err);
	reg_resp_clear(&resp);
	if (r < 0)
		return hull_err_prefix(err, "%s: authentication", s->domain);
	tok = json_string_value(json_object_get(j, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !*tok || strpbrk(tok, "\r\n"))
		return hull_err_setx(err, EPROTO, "%s: token server answer without a token",
				     s->domain);
	free(s->authz);
	s->authz = xasprintf("Authorization: Bearer %s", tok);
	return 0;
}

int reg_authenticate(struct reg_session *s, const char *ch, struct hull_err *err)
{
	if (strncasecmp(ch, "Basic", 5) == 0) {
		if (!s->user)
			return hull_err_setx(err, EACCES, "%s: authentication required (no "
					     "credentials: hull login %s)", s->domain, s->domain);
		free(s->authz);
		s->authz = basic_header(s->user, s->pass);
		return 0;
	}
	if (strncasecmp(ch, "Bearer", 6) == 0)
		return fetch_token(s, ch, err);
	return hull_err_setx(err, EPROTO, "%s: unsupported authentication scheme in '%.40s'",
			     s->domain, ch);
}

int reg_status_err(const struct reg_resp *r, const char *what, struct hull_err *err)
{
	cleanup_json json_t *j = NULL;
	const char *msg = NULL;
	int e;

	if (r->body && r->len)
		j = json_loadb(r->body, r->len, 0, NULL);
	msg = json_string_value(json_object_get(json_array_get(json_object_get(j, "errors"), 0),
						"message"));
	switch (r->status) {
	case 401: e = EACCES; msg = msg ? msg : "unauthorized"; break;
	case 403: e = EPERM; msg = msg ? msg : "denied"; break;
	case 404: e = ENOENT; msg = msg ? msg : "not found"; break;
	case 429: e = EBUSY; msg = msg ? msg : "too many requests"; break;
	default: e = r->status >= 500 ? EIO : EPROTO; break;
	}
	if (!msg)
		msg = r->status >= 500 ? "server error" : "unexpected answer";
	return hull_err_setx(err, e, "%s: %s (HTTP %ld)", what, msg, r->status);
}

int reg_session_open(const char *domain, const struct registry_opts *o,
		     struct reg_session **ret, struct hull_err *err)
{
	struct reg_session *s = xcalloc(1, sizeof(*s));
	const char *host = strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;
	int r = 0;

	s->domain = xstrdup(domain);
	s->base = xasprintf("https://%s", host);
	s->o = o;
	s->timeout_s = o->timeout_s ? o->timeout_s : 30;
	if (o->username) {
		s->user = xstrdup(o->username);
		s->pass = xstrdup(o->password ? o->password : "");
	} else {
		r = auth_lookup(o->auth_files, domain, &s->user, &s->pass, err);
	}
	if (r == 0 && o->tls_verify)
		ca_load(s);
	if (r == 0)
		r = client_cert_load(s, err);
	if (r < 0) {
		reg_session_free(s);
		return r;
	}
	*ret = s;
	return 0;
}
