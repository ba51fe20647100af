/* Parallel, verified, resumable blob downloads over curl multi (registry-http.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "image/digest.h"
#include "image/registry-http.h"
#include "image/store.h"

#define BLOB_RESUMES 5 /* broken connections per blob */

struct fetch {
	struct reg_session *s;
	const struct registry_progress *p;
	const char *what;
	int failed;           /* first error's -errno, 0 while none */
	struct hull_err *err;
};

struct blob_cb {
	struct fetch *f;
	struct reg_blob *b;
};

static void blob_reset(struct reg_blob *b)
{
	if (b->ctx)
		digest_ctx_free(b->ctx);
	b->ctx = digest_ctx_new();
	b->got = 0;
	if (ftruncate(b->fd, 0) < 0)
		(void)snprintf(b->why, sizeof(b->why), "truncate: %s", strerror(errno));
}

static size_t on_blob(char *data, size_t sz, size_t n, void *ud)
{
	struct blob_cb *cb = ud;
	struct reg_blob *b = cb->b;
	size_t len = sz * n;
	long status = 0;

	(void)curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && status != 206)
		return len; /* an error page: judged when the transfer ends */
	if (b->restart) {
		/* a Range request answered with the whole blob: start over */
		b->restart = false;
		if (status == 200)
			blob_reset(b);
	}
	if (b->got + len > b->size) {
		(void)snprintf(b->why, sizeof(b->why), "blob %s is longer than the %llu "
			       "bytes its descriptor declares", b->digest,
			       (unsigned long long)b->size);
		return 0;
	}
	if (store_pwrite_all(b->fd, data, len, (off_t)b->got) < 0) {
		(void)snprintf(b->why, sizeof(b->why), "blob %s: write: %s", b->digest,
			       strerror(errno));
		return 0;
	}
	digest_ctx_update(b->ctx, data, len);
	b->got += len;
	if (cb->f->p && cb->f->p->blob)
		cb->f->p->blob(cb->f->p->ctx, b->digest, b->got, b->size, "Downloading");
	return len;
}

static void blob_start(struct fetch *f, CURLM *m, struct reg_blob *b, struct blob_cb *cb)
{
	b->easy = curl_easy_init();
	reg_easy_setup(f->s, b->easy, b->url);
	curl_slist_free_all(b->hdrs);
	b->hdrs = NULL;
	/* curl drops it on a redirect to another origin */
	if (f->s->authz && reg_same_origin(f->s, b->url))
		b->hdrs = curl_slist_append(b->hdrs, f->s->authz);
	if (b->got > 0) {
		char range[64];

		(void)snprintf(range, sizeof(range), "Range: bytes=%llu-",
			       (unsigned long long)b->got);
		b->hdrs = curl_slist_append(b->hdrs, range);
		b->restart = true;
	}
	b->errbuf[0] = '\0';
	b->got_at_start = b->got;
	(void)curl_easy_setopt(b->easy, CURLOPT_HTTPHEADER, b->hdrs);
	(void)curl_easy_setopt(b->easy, CURLOPT_FOLLOWLOCATION, 1L);
	(void)curl_easy_setopt(b->easy, CURLOPT_WRITEFUNCTION, on_blob);
	(void)curl_easy_setopt(b->easy, CURLOPT_WRITEDATA, cb);
	(void)curl_easy_setopt(b->easy, CURLOPT_ERRORBUFFER, b->errbuf);
	(void)curl_easy_setopt(b->easy, CURLOPT_PRIVATE, cb);
	(void)curl_multi_add_handle(m, b->easy);
}

static int __attribute__((format(printf, 3, 4)))
blob_fail(struct fetch *f, int e, const char *fmt, ...)
{
	char msg[HULL_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!f->failed)
		f->failed = hull_err_setx(f->err, e, "%s: %s", f->what, msg);
	return f->failed;
}

/* A finished transfer: done, to be resumed or retried (1), or failed. */
static int blob_finish(struct fetch *f, struct reg_blob *b, CURLcode rc)
{
	long status = 0;
	char got[DIGEST_STR_LEN + 1];

	(void)curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &status);
	if (b->why[0])
		return blob_fail(f, EBADMSG, "%s", b->why);
	if (rc == CURLE_OK && status == 401) {
		char *eff = NULL;

		/* a redirect target that asks for credentials does not get them */
		(void)curl_easy_getinfo(b->easy, CURLINFO_EFFECTIVE_URL, &eff);
		if (eff && !reg_same_origin(f->s, eff)) {
			struct hull_err e = { 0 };

			(void)reg_foreign_401(f->s, eff, &e);
			return blob_fail(f, EACCES, "blob %s: %s", b->digest, e.msg);
		}
	}
	if (rc == CURLE_OK && status == 401 && b->retries++ < 1) {
		/* an expired token: authenticate again through a plain request */
		struct reg_resp resp = { 0 };
		struct reg_req q = { .method = "HEAD", .url = b->url, .body_fd = -1 };
		int r = reg_request(f->s, &q, &resp, f->err);

		reg_resp_clear(&resp);
		if (r < 0)
			return f->failed = r;
		return 1;
	}
	if (rc == CURLE_OK && reg_status_retryable(status) && b->retries++ < 3) {
		(void)sleep(reg_backoff(NULL, b->retries));
		return 1;
	}
	/* a resume that brings nothing (416, an empty answer): the blob ends before its size */
	if (b->got_at_start > 0 && b->got == b->got_at_start && b->got < b->size &&
	    rc != CURLE_OPERATION_TIMEDOUT &&
	    (rc != CURLE_OK || status == 416 || status == 200 || status == 206))
		return blob_fail(f, EBADMSG, "blob %s is truncated: %llu bytes, its descriptor "
				 "declares %llu", b->digest, (unsigned long long)b->got,
				 (unsigned long long)b->size);
	if (rc == CURLE_OK && status != 200 && status != 206) {
		struct reg_resp resp = { .status = status };
		cleanup_free char *what = xasprintf("%s: blob %s", f->what, b->digest);

		if (!f->failed)
			f->failed = reg_status_err(&resp, what, f->err);
		return f->failed;
	}
	/* a stall that made no progress since the last attempt is a timeout, not a cut */
	if (rc == CURLE_OPERATION_TIMEDOUT && b->got == b->got_at_start)
		b->resumes = BLOB_RESUMES;
	if ((rc != CURLE_OK || b->got < b->size) && b->resumes++ < BLOB_RESUMES)
		return 1; /* cut mid-blob (or a stall): resume from b->got with Range */
	if (rc != CURLE_OK) {
		cleanup_free char *what = xasprintf("%s: blob %s", f->what, b->digest);

		if (!f->failed)
			f->failed = reg_curl_err(rc, b->errbuf, what, f->err);
		return f->failed;
	}
	if (b->got != b->size)
		return blob_fail(f, EBADMSG, "blob %s is truncated", b->digest);
	digest_ctx_finish(b->ctx, got);
	b->ctx = NULL;
	if (strcmp(got, b->digest) != 0)
		return blob_fail(f, EBADMSG, "blob %s: content has digest %s", b->digest, got);
	b->done = true;
	if (f->p && f->p->blob)
		f->p->blob(f->p->ctx, b->digest, b->size, b->size, "Download complete");
	return 0;
}

static void multi_drain(struct fetch *f, CURLM *m, size_t *active, size_t *next, size_t n,
			struct reg_blob *v, struct blob_cb *cbs)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m, &left))) {
		struct blob_cb *cb = NULL;
		struct reg_blob *b;
		int r;

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&cb);
		b = cb->b;
		r = blob_finish(f, b, msg->data.result);
		(void)curl_multi_remove_handle(m, b->easy);
		curl_easy_cleanup(b->easy);
		b->easy = NULL;
		(*active)--;
		if (r == 1 && !f->failed) {
			blob_start(f, m, b, cb);
			(*active)++;
		}
	}
	while (!f->failed && *active < (f->s->o->parallel ? f->s->o->parallel : 3) && *next < n) {
		blob_start(f, m, &v[*next], &cbs[*next]);
		(*next)++;
		(*active)++;
	}
}

int reg_fetch_blobs(struct reg_session *s, const char *repo, struct reg_blob *v, size_t n,
		    const struct registry_progress *p, const char *what, struct hull_err *err)
{
	struct fetch f = { .s = s, .p = p, .what = what, .err = err };
	cleanup_free struct blob_cb *cbs = xcalloc(n ? n : 1, sizeof(*cbs));
	CURLM *m = curl_multi_init();
	size_t active = 0, next = 0;
	int still = 0;

	for (size_t i = 0; i < n; i++) {
		cbs[i] = (struct blob_cb){ .f = &f, .b = &v[i] };
		free(v[i].url);
		v[i].url = xasprintf("%s/v2/%s/blobs/%s", s->base, repo, v[i].digest);
		blob_reset(&v[i]);
	}
	multi_drain(&f, m, &active, &next, n, v, cbs);
	while (active > 0) {
		CURLMcode mc = curl_multi_perform(m, &still);

		if (mc == CURLM_OK)
			mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK && !f.failed)
			f.failed = hull_err_setx(err, EIO, "%s: %s", what, curl_multi_strerror(mc));
		multi_drain(&f, m, &active, &next, n, v, cbs);
		if (f.failed)
			break;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].easy) {
			(void)curl_multi_remove_handle(m, v[i].easy);
			curl_easy_cleanup(v[i].easy);
			v[i].easy = NULL;
		}
		curl_slist_free_all(v[i].hdrs);
		v[i].hdrs = NULL;
		free(v[i].url);
		v[i].url = NULL;
		if (v[i].ctx)
			digest_ctx_free(v[i].ctx);
		v[i].ctx = NULL;
	}
	curl_multi_cleanup(m);
	return f.failed;
}
