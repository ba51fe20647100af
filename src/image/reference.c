/* Image references: the distribution grammar and docker's normalisation (reference.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "image/reference.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool valid_domain_component(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* An RFC 3986 IPv6 literal between brackets, loosely: hex digits, ':' and '.' (a v4 tail). */
static bool valid_ipv6(const char *s, size_t n)
{
	size_t colons = 0;

	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == ':')
			colons++;
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			   (c >= 'A' && c <= 'F') || c == '.'))
			return false;
	}
	return colons >= 2 && colons <= 7;
}

/* domain := host [":" port-number]; host := domain-name | "[" IPv6 "]" */
static bool valid_domain(const char *s, size_t n)
{
	const char *end = s + n, *port = NULL;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || !valid_ipv6(s + 1, (size_t)(close - s - 1)))
			return false;
		if (close + 1 != end && close[1] != ':')
			return false;
		port = close + 1 != end ? close + 1 : NULL;
	} else {
		const char *c = memchr(s, ':', n), *p = s;
		const char *hend = c ? c : end;

		port = c;
		while (p < hend) {
			const char *dot = memchr(p, '.', (size_t)(hend - p));
			const char *cend = dot ? dot : hend;

			if (!valid_domain_component(p, (size_t)(cend - p)))
				return false;
			p = dot ? dot + 1 : hend;
			if (dot && p == hend)
				return false; /* trailing '.' */
		}
		if (hend == s)
			return false;
	}
	if (port) {
		if (port + 1 == end)
			return false;
		for (const char *p = port + 1; p < end; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	return true;
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*; separator := [_.] | "__" | "-"+ */
static bool valid_path_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else if (s[i] == '_' && i + 1 < n && s[i + 1] == '_') {
			i += 2;
		} else if (s[i] == '_' || s[i] == '.') {
			i++;
		} else {
			return false;
		}
		if (i >= n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static bool valid_path(const char *s, size_t n)
{
	const char *p = s, *end = s + n;

	while (p <= end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *cend = slash ? slash : end;

		if (!valid_path_component(p, (size_t)(cend - p)))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
	return false;
}

/* tag := [\w][\w.-]{0,127} */
static bool valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > REFERENCE_TAG_MAX || !is_word(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static bool is_hex(const char *s, size_t n, bool lower_only)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (!lower_only && c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/*
 * digest := algorithm ":" hex; algorithm := component ([+._-] component)*, component :=
 * [A-Za-z][A-Za-z0-9]*; hex := [0-9a-fA-F]{32,}. The store keeps sha256 only.
 */
static int check_digest(const char *ref, const char *d, struct hull_err *err)
{
	const char *colon = strchr(d, ':');
	bool start = true;

	if (!colon || colon == d)
		return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid digest format",
				     ref);
	for (const char *p = d; p < colon; p++) {
		if (start && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid digest "
					     "algorithm", ref);
		start = strchr("+._-", *p) != NULL;
		if (!start && !is_alnum(*p))
			return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid digest "
					     "algorithm", ref);
	}
	if (start || strlen(colon + 1) < 32 || !is_hex(colon + 1, strlen(colon + 1), false))
		return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid digest format",
				     ref);
	if ((size_t)(colon - d) != 6 || strncmp(d, "sha256", 6) != 0)
		return hull_err_setx(err, ENOTSUP, "invalid reference '%s': unsupported digest "
				     "algorithm '%.*s'", ref, (int)(colon - d), d);
	if (strlen(colon + 1) != 64 || !is_hex(colon + 1, 64, true))
		return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid checksum digest "
				     "length or case", ref);
	return 0;
}

void reference_clear(struct image_reference *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	*r = (struct image_reference){ 0 };
}

/* Does name (n bytes) begin with no domain (docker's splitDockerDomain)? */
static bool short_name(const char *name, size_t n)
{
	const char *slash = memchr(name, '/', n);
	size_t dlen = slash ? (size_t)(slash - name) : 0;

	return !slash || (!memchr(name, '.', dlen) && !memchr(name, ':', dlen) &&
			  !(dlen == 9 && strncmp(name, "localhost", 9) == 0) &&
			  !has_upper(name, dlen));
}

bool reference_is_short(const char *s)
{
	const char *at = strchr(s, '@');

	return short_name(s, at ? (size_t)(at - s) : strlen(s));
}

/* Split name into domain and path as docker's splitDockerDomain, then normalise. */
static void split_domain(const char *name, size_t n, struct image_reference *r)
{
	const char *slash = memchr(name, '/', n);
	size_t dlen = slash ? (size_t)(slash - name) : 0;

	if (short_name(name, n)) {
		r->domain = xstrdup(REFERENCE_DOCKER_DOMAIN);
		r->path = xstrndup(name, n);
	} else {
		r->domain = xstrndup(name, dlen);
		r->path = xstrndup(slash + 1, n - dlen - 1);
	}
	if (strcmp(r->domain, "index.docker.io") == 0) {
		free(r->domain);
		r->domain = xstrdup(REFERENCE_DOCKER_DOMAIN);
	}
	if (strcmp(r->domain, REFERENCE_DOCKER_DOMAIN) == 0 && !strchr(r->path, '/')) {
		char *p = xasprintf("library/%s", r->path);

		free(r->path);
		r->path = p;
	}
}

static int parse_name(const char *s, const char *name, size_t n, struct image_reference *r,
		      struct hull_err *err)
{
	if (n == 0)
		return hull_err_setx(err, EINVAL, "invalid reference '%s': empty name", s);
	if (n > REFERENCE_NAME_MAX)
		return hull_err_setx(err, EINVAL, "invalid reference '%s': repository name must "
				     "not be more than %d characters", s, REFERENCE_NAME_MAX);
	split_domain(name, n, r);
	if (!valid_domain(r->domain, strlen(r->domain)))
		return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid domain '%s'",
				     s, r->domain);
	if (!valid_path(r->path, strlen(r->path))) {
		if (has_upper(r->path, strlen(r->path)))
			return hull_err_setx(err, EINVAL, "invalid reference '%s': repository name "
					     "must be lowercase", s);
		return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid repository "
				     "name '%s'", s, r->path);
	}
	return 0;
}

int reference_parse(const char *s, struct image_reference *ret, struct hull_err *err)
{
	struct image_reference r = { 0 };
	const char *at = strchr(s, '@');
	size_t nlen = at ? (size_t)(at - s) : strlen(s);
	const char *slash, *colon;
	int rc;

	/* docker refuses a bare 64-hex name: it would be read as an image id */
	if (strlen(s) == 64 && is_hex(s, 64, true))
		return hull_err_setx(err, EINVAL, "invalid repository name '%s': cannot specify "
				     "64-byte hexadecimal strings", s);
	if (at && (rc = check_digest(s, at + 1, err)) < 0)
		return rc;
	slash = memrchr(s, '/', nlen);
	colon = memrchr(slash ? slash : s, ':', nlen - (size_t)(slash ? slash - s : 0));
	if (colon) {
		r.tag = xstrndup(colon + 1, nlen - (size_t)(colon + 1 - s));
		nlen = (size_t)(colon - s);
		if (!valid_tag(r.tag)) {
			reference_clear(&r);
			return hull_err_setx(err, EINVAL, "invalid reference '%s': invalid tag", s);
		}
	}
	rc = parse_name(s, s, nlen, &r, err);
	if (rc < 0) {
		reference_clear(&r);
		return rc;
	}
	if (at)
		r.digest = xstrdup(at + 1);
	else if (!r.tag)
		r.tag = xstrdup("latest");
	*ret = r;
	return 0;
}

char *reference_repo(const struct image_reference *r)
{
	return xasprintf("%s/%s", r->domain, r->path);
}

char *reference_name(const struct image_reference *r)
{
	return r->tag ? xasprintf("%s/%s:%s", r->domain, r->path, r->tag) : NULL;
}

char *reference_string(const struct image_reference *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
			 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *reference_object(const struct image_reference *r)
{
	return r->digest ? r->digest : r->tag;
}
