/* -v, --mount and --tmpfs parsing (src/engine/volspec.c): docker's forms, and seeded random
 * strings that are either accepted or refused with a message naming the flag. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/path.h"
#include "engine/volspec.h"

static void test_v_forms(void **state)
{
	struct vol_spec v;
	struct hull_err err = { 0 };

	(void)state;
	assert_int_equal(vol_parse_v("data:/d:ro,Z,rshared", &v, &err), 0);
	assert_int_equal(v.type, VOL_VOLUME);
	assert_string_equal(v.src, "data");
	assert_true(v.ro);
	assert_string_equal(v.prop, "rshared");
	vol_spec_clear(&v);
	assert_int_equal(vol_parse_v("/anon", &v, &err), 0);
	assert_null(v.src);
	vol_spec_clear(&v);
	assert_int_equal(vol_parse_v("./rel:/x", &v, &err), 0);
	assert_int_equal(v.type, VOL_BIND);
	vol_spec_clear(&v);
	assert_int_equal(vol_parse_v("a:/", &v, &err), -EINVAL);
	vol_spec_clear(&v);
	assert_int_equal(vol_parse_v("/a:/b:xx", &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "-v /a:/b:xx"));
	vol_spec_clear(&v);
}

static void test_mount_keys(void **state)
{
	struct vol_spec v;
	struct hull_err err = { 0 };

	(void)state;
	assert_int_equal(vol_parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700", &v,
					 &err), 0);
	assert_int_equal(v.tmpfs_size, 1 << 20);
	assert_int_equal(v.tmpfs_mode, 0700);
	vol_spec_clear(&v);
	assert_int_equal(vol_parse_mount("src=v,target=/x,ro=false,volume-nocopy", &v, &err), 0);
	assert_int_equal(v.type, VOL_VOLUME);
	assert_false(v.ro);
	assert_true(v.nocopy);
	vol_spec_clear(&v);
	assert_int_equal(vol_parse_mount("type=tmpfs,dst=/t,bind-propagation=rshared", &v, &err),
			 -EINVAL);
	vol_spec_clear(&v);
}

/* Every destination leaves the parser in path_normalize()'s form: an inherited "/data/" and
 * an image's "/data" are then one mount point for every comparison. */
static void test_dst_normalised(void **state)
{
	static const char *const cases[][2] = {
		{ "/data/", "/data" }, { "//a/./b//", "/a/b" }, { "/a/b/../c", "/a/c" },
	};
	struct vol_spec v;
	struct hull_err err = { 0 };
	char arg[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vol_parse_v(cases[i][0], &v, &err), 0);
		assert_string_equal(v.dst, cases[i][1]);
		vol_spec_clear(&v);
		(void)snprintf(arg, sizeof(arg), "type=volume,dst=%s", cases[i][0]);
		assert_int_equal(vol_parse_mount(arg, &v, &err), 0);
		assert_string_equal(v.dst, cases[i][1]);
		vol_spec_clear(&v);
		assert_int_equal(vol_parse_tmpfs(cases[i][0], &v, &err), 0);
		assert_string_equal(v.dst, cases[i][1]);
		vol_spec_clear(&v);
	}
	/* a path that is "/" once normalised is still refused */
	assert_int_equal(vol_parse_v("v:/x/..", &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cannot be '/'"));
	vol_spec_clear(&v);
}

static void test_random_strings(void **state)
{
	static const char alphabet[] = "abt=,:/.-01 rsvmZ";
	char s[40];

	(void)state;
	srand(1515);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)rand() % (sizeof(s) - 1);
		struct vol_spec v;
		struct hull_err err = { 0 };
		int r;

		for (size_t k = 0; k < n; k++)
			s[k] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		s[n] = '\0';
		r = vol_parse_mount(s, &v, &err);
		assert_true(r == 0 || (r == -EINVAL && strstr(err.msg, "--mount")));
		if (r == 0)
			assert_true(v.dst && v.dst[0] == '/' && strcmp(v.dst, "/") != 0);
		vol_spec_clear(&v);
		r = vol_parse_v(s, &v, &err);
		assert_true(r == 0 || (r == -EINVAL && strstr(err.msg, "-v")));
		if (r == 0) {
			char *norm = path_normalize(v.dst);

			assert_string_equal(v.dst, norm);
			free(norm);
		}
		vol_spec_clear(&v);
		r = vol_parse_tmpfs(s, &v, &err);
		assert_true(r == 0 || (r == -EINVAL && strstr(err.msg, "--tmpfs")));
		vol_spec_clear(&v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v_forms),
		cmocka_unit_test(test_mount_keys),
		cmocka_unit_test(test_dst_normalised),
		cmocka_unit_test(test_random_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
