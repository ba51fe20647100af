/* Image references: docker's grammar and normalisation, bad input, generated round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "image/reference.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* in -> full form, or NULL with want_err in the message */
static void ok(const char *in, const char *want)
{
	struct image_reference r;
	struct hull_err err = { 0 };
	char *got;

	if (reference_parse(in, &r, &err) != 0)
		fail_msg("'%s': %s", in, err.msg);
	got = reference_string(&r);
	if (strcmp(got, want) != 0)
		fail_msg("'%s' -> '%s', want '%s'", in, got, want);
	free(got);
	reference_clear(&r);
}

static void bad(const char *in, const char *why)
{
	struct image_reference r = { 0 };
	struct hull_err err = { 0 };

	if (reference_parse(in, &r, &err) == 0)
		fail_msg("'%s' accepted as %s/%s", in, r.domain, r.path);
	assert_non_null(strstr(err.msg, in));
	if (!strstr(err.msg, why))
		fail_msg("'%s': '%s' lacks '%s'", in, err.msg, why);
}

static void test_normalise(void **state)
{
	(void)state;
	ok("busybox", "docker.io/library/busybox:latest");
	ok("busybox:1.36", "docker.io/library/busybox:1.36");
	ok("library/busybox", "docker.io/library/busybox:latest");
	ok("docker.io/busybox", "docker.io/library/busybox:latest");
	ok("index.docker.io/busybox", "docker.io/library/busybox:latest");
	ok("index.docker.io/user/img:v1", "docker.io/user/img:v1");
	ok("user/img", "docker.io/user/img:latest");
	ok("a/b/c/d", "docker.io/a/b/c/d:latest");
	ok("localhost/x", "localhost/x:latest");
	ok("localhost:5000/x", "localhost:5000/x:latest");
	ok("127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t");
	ok("quay.io/podman/stable", "quay.io/podman/stable:latest");
	ok("[::1]:5000/x:y", "[::1]:5000/x:y");
	ok("[fe80::1]/x", "[fe80::1]/x:latest");
	ok("Example.COM/x", "Example.COM/x:latest");
	ok("UPPER/x", "UPPER/x:latest"); /* an upper-case first part is a domain */
	ok("busybox@" D64, "docker.io/library/busybox@" D64);
	ok("host:5000/busybox:tag@" D64, "host:5000/busybox:tag@" D64);
	ok("x/a-b.c_d__e---f", "docker.io/x/a-b.c_d__e---f:latest");
	bad("a-b.c_d/g", "invalid domain"); /* a '.' makes it a domain */
	ok("x:_tag", "docker.io/library/x:_tag");
	ok("x:Tag.1-2", "docker.io/library/x:Tag.1-2");
	ok("0/1", "docker.io/0/1:latest");
}

static void test_fields(void **state)
{
	struct image_reference r;
	struct hull_err err = { 0 };
	char *s;

	(void)state;
	assert_int_equal(reference_parse("127.0.0.1:5000/a/b@" D64, &r, &err), 0);
	assert_string_equal(r.domain, "127.0.0.1:5000");
	assert_string_equal(r.path, "a/b");
	assert_null(r.tag);
	assert_string_equal(r.digest, D64);
	assert_string_equal(reference_object(&r), D64);
	assert_null(reference_name(&r));
	s = reference_repo(&r);
	assert_string_equal(s, "127.0.0.1:5000/a/b");
	free(s);
	reference_clear(&r);
	assert_int_equal(reference_parse("h.io/x:9", &r, &err), 0);
	assert_string_equal(reference_object(&r), "9");
	s = reference_name(&r);
	assert_string_equal(s, "h.io/x:9");
	free(s);
	reference_clear(&r);
}

static void test_bad(void **state)
{
	char longname[300], longtag[140];

	(void)state;
	bad("", "empty name");
	bad(":tag", "empty name");
	bad("Busybox", "must be lowercase");
	bad("docker.io/Library/busybox", "must be lowercase");
	bad("busybox:", "invalid tag");
	bad("busybox:-x", "invalid tag");
	bad("busybox:a/b", "invalid"); /* ':' before the last '/' is a port: a bad domain */
	bad("busybox:t@sha256:abc", "invalid digest format");
	bad("busybox@sha512:0123456789abcdef0123456789abcdef0123456789abcdef", "unsupported");
	bad("busybox@sha256:0123456789abcdef0123456789abcdef", "length");
	bad("busybox@" "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    "length or case");
	bad("busybox@1sha:0123456789abcdef0123456789abcdef", "algorithm");
	bad("busybox@", "digest");
	bad("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64-byte");
	bad("a//b", "invalid repository name");
	bad("a/b/", "invalid repository name");
	bad("/a", "invalid");
	bad("a__-b", "invalid repository name");
	bad("a..b", "invalid repository name");
	bad("-a", "invalid repository name");
	bad("a-", "invalid repository name");
	bad("a_", "invalid repository name");
	bad("host:/x", "invalid domain");
	bad("host:50a0/x", "invalid domain");
	bad("-host.io/x", "invalid domain");
	bad("host..io/x", "invalid domain");
	bad("host.io./x", "invalid domain");
	bad("[::1/x", "invalid");
	bad("[zz::1]:5000/x", "invalid domain");
	bad("a b", "invalid");
	bad("a\tb", "invalid");
	bad("a/b c:d", "invalid");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	bad(longname, "more than 255");
	memset(longtag, 't', sizeof(longtag) - 1);
	longtag[0] = 'x', longtag[1] = ':';
	longtag[sizeof(longtag) - 1] = '\0';
	bad(longtag, "invalid tag");
}

/* Seeded: a valid generated reference round-trips through its full form. */
static void gen_component(unsigned *seed, char *out, size_t max)
{
	static const char *const seps[] = { ".", "_", "__", "-", "--" };
	size_t n = 0, parts = 1 + (size_t)rand_r(seed) % 3;

	for (size_t p = 0; p < parts && n + 8 < max; p++) {
		if (p)
			n += (size_t)snprintf(out + n, max - n, "%s", seps[rand_r(seed) % 5]);
		for (int k = 1 + rand_r(seed) % 4; k > 0; k--)
			out[n++] = "abcdefghijklmnopqrstuvwxyz0123456789"[rand_r(seed) % 36];
	}
	out[n] = '\0';
}

static void test_generated(void **state)
{
	unsigned seed = 19;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		char a[40], b[40], in[200], *full, *again;
		struct image_reference r, r2;
		struct hull_err err = { 0 };
		int kind = rand_r(&seed) % 4;

		gen_component(&seed, a, sizeof(a));
		gen_component(&seed, b, sizeof(b));
		if (kind == 0)
			(void)snprintf(in, sizeof(in), "%s", a);
		else if (kind == 1)
			(void)snprintf(in, sizeof(in), "user%d/%s/%s:v%d", i, a, b, i);
		else if (kind == 2)
			(void)snprintf(in, sizeof(in), "h%d.example:%d/%s/%s", i, 1 + i, a, b);
		else
			(void)snprintf(in, sizeof(in), "localhost/%s@%s", a, D64);
		if (reference_parse(in, &r, &err) != 0)
			fail_msg("'%s': %s", in, err.msg);
		full = reference_string(&r);
		if (reference_parse(full, &r2, &err) != 0)
			fail_msg("'%s' (from '%s'): %s", full, in, err.msg);
		again = reference_string(&r2);
		assert_string_equal(full, again);
		assert_string_equal(r.domain, r2.domain);
		if (kind != 0)
			assert_non_null(strstr(r.path, a));
		free(full);
		free(again);
		reference_clear(&r);
		reference_clear(&r2);
	}
	/* random bytes: never a crash, and an accepted one is all lower-case in its path */
	for (int i = 0; i < 20000; i++) {
		char in[24];
		size_t n = (size_t)rand_r(&seed) % sizeof(in);
		struct image_reference r;
		struct hull_err err = { 0 };

		for (size_t k = 0; k < n; k++)
			in[k] = "aB0:/@._-[]"[rand_r(&seed) % 11];
		in[n] = '\0';
		if (reference_parse(in, &r, &err) == 0) {
			for (const char *p = r.path; *p; p++)
				assert_false(*p >= 'A' && *p <= 'Z');
			reference_clear(&r);
		} else {
			assert_true(err.msg[0] != '\0');
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_generated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
