/* Digests, image names, and the store's blob and index operations. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/strv.h"
#include "image/digest.h"
#include "image/image.h"
#include "image/store.h"

static void test_digest(void **state)
{
	char d[DIGEST_STR_LEN + 1];

	digest_buf("abc", 3, d);
	assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(digest_is_valid(d));
	assert_false(digest_is_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(digest_is_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(digest_is_valid("sha256:ba78"));
	assert_false(digest_is_valid("sha256:../../../../../../../../../../../../../../../../etc/passwd00"));
	assert_true(digest_is_hex_prefix("ba78"));
	assert_false(digest_is_hex_prefix(""));
	assert_false(digest_is_hex_prefix("xyz"));
}

static void norm(const char *in, const char *want)
{
	char *got = image_ref_normalize(in);

	if (!want) {
		if (got)
			fail_msg("'%s' should be invalid, got '%s'", in, got);
		return;
	}
	if (!got || strcmp(got, want) != 0)
		fail_msg("'%s' -> '%s', want '%s'", in, got ? got : "(null)", want);
	free(got);
}

static void test_ref_normalize(void **state)
{
	norm("busybox", "localhost/busybox:latest");
	norm("busybox:1.36", "localhost/busybox:1.36");
	norm("localhost/busybox:latest", "localhost/busybox:latest");
	norm("docker.io/library/alpine", "docker.io/library/alpine:latest");
	norm("registry:5000/team/app:v2", "registry:5000/team/app:v2");
	norm("team/app", "localhost/team/app:latest");
	norm("Busybox", NULL);
	norm("bad name", NULL);
	norm("a//b", NULL);
	norm("x:", NULL);
	norm("x@sha256:abc", NULL);
	norm("", NULL);
	norm("team:5/app", "team:5/app:latest");
}

static void test_store_blobs_and_index(void **state)
{
	char tmpl[] = "/tmp/hull-test-store-XXXXXX";
	struct image_store *s = NULL;
	struct hull_err err = { 0 };
	char d[DIGEST_STR_LEN + 1], cfg[DIGEST_STR_LEN + 1], man[DIGEST_STR_LEN + 1];
	struct image_list l = { 0 };
	struct image_info info = { 0 };
	char *buf = NULL;
	size_t len = 0;
	int fd;
	char *mjson;
	const char *cjson = "{\"created\":\"2024-01-02T03:04:05Z\",\"rootfs\":{\"type\":\"layers\","
			    "\"diff_ids\":[]}}";

	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(image_store_open(tmpl, &s, &err), 0);
	assert_int_equal(image_store_lock(s, true, &err), 0);
	/* a stream that does not match its expected digest is refused and leaves nothing */
	fd = memfd_create("b", 0);
	assert_int_equal(write(fd, "data", 4), 4);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	digest_buf("other", 5, d);
	assert_int_equal(store_blob_put_fd(s, fd, d, NULL, NULL, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "digest mismatch"));
	assert_false(store_blob_exists(s, d));
	(void)close(fd);
	/* buffers are content-addressed */
	assert_int_equal(store_blob_put_buf(s, cjson, strlen(cjson), cfg, &err), 0);
	assert_true(store_blob_exists(s, cfg));
	assert_int_equal(store_blob_read(s, cfg, 1 << 20, &buf, &len, &err), 0);
	assert_int_equal(len, strlen(cjson));
	free(buf);
	assert_int_equal(store_blob_read(s, cfg, 4, &buf, &len, &err), -EFBIG);
	mjson = NULL;
	{
		char tmp[512];

		(void)snprintf(tmp, sizeof(tmp), "{\"schemaVersion\":2,\"config\":{\"digest\":\"%s\","
			       "\"size\":%zu},\"layers\":[]}", cfg, strlen(cjson));
		mjson = strdup(tmp);
	}
	assert_int_equal(store_blob_put_buf(s, mjson, strlen(mjson), man, &err), 0);
	free(mjson);
	/* the index: record, tag, look up by name and id prefix, remove */
	assert_int_equal(image_record(s, "localhost/a:1", man, &err), 0);
	assert_int_equal(image_tag(s, "a:1", "b", &err), 0);
	assert_int_equal(image_list(s, &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1].name, "localhost/b:latest");
	assert_string_equal(l.v[0].config, cfg);
	assert_string_equal(l.v[0].created, "2024-01-02T03:04:05Z");
	image_list_free(&l);
	{
		char prefix[16];

		(void)snprintf(prefix, sizeof(prefix), "%.10s", cfg + 7);
		assert_int_equal(image_lookup(s, prefix, &info, &err), 0);
		assert_string_equal(info.manifest, man);
		image_info_clear(&info);
	}
	assert_int_equal(image_lookup(s, "c", &info, &err), -ENOENT);
	assert_string_equal(err.msg, "no such image: c");
	{
		char removed[DIGEST_STR_LEN + 1];

		assert_int_equal(image_remove(s, "b", removed, &err), 0);
		assert_string_equal(removed, "");
		assert_int_equal(image_remove(s, "a:1", removed, &err), 0);
		assert_string_equal(removed, cfg);
	}
	{
		struct image_gc_stats st;

		assert_int_equal(image_gc(s, NULL, &st, &err), 0);
		assert_int_equal(st.blobs, 2);
		assert_false(store_blob_exists(s, cfg));
	}
	image_store_free(s);
	assert_int_equal(rm_rf_at(AT_FDCWD, tmpl), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_ref_normalize),
		cmocka_unit_test(test_store_blobs_and_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
