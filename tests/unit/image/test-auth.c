/* auth.json: store, look up (docker's key forms), remove; malformed files name themselves. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "image/auth.h"

static char dir[] = "/tmp/hull-auth-test-XXXXXX";

static char *path(const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);

	sprintf(p, "%s/%s", dir, name); /* NOLINT: test code */
	return p;
}

static void write_file(const char *p, const char *s)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void test_store_lookup_remove(void **state)
{
	char *file = path("sub/dir/auth.json");
	char *files[] = { file, NULL };
	char *u = NULL, *pw = NULL;
	struct hull_err err = { 0 };
	struct stat st;
	bool found;

	(void)state;
	assert_int_equal(auth_lookup(files, "reg:5000", &u, &pw, &err), 0);
	assert_null(u);
	assert_int_equal(auth_store(file, "reg:5000", "alice", "pa:ss w", &err), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(auth_store(file, "other", "bob", "x", &err), 0);
	assert_int_equal(auth_lookup(files, "reg:5000", &u, &pw, &err), 0);
	assert_string_equal(u, "alice");
	assert_string_equal(pw, "pa:ss w");
	free(u);
	free(pw);
	assert_int_equal(auth_remove(file, "reg:5000", &found, &err), 0);
	assert_true(found);
	assert_int_equal(auth_remove(file, "reg:5000", &found, &err), 0);
	assert_false(found);
	assert_int_equal(auth_lookup(files, "reg:5000", &u, &pw, &err), 0);
	assert_null(u);
	assert_int_equal(auth_lookup(files, "other", &u, &pw, &err), 0);
	assert_string_equal(u, "bob");
	free(u);
	free(pw);
	free(file);
}

static void test_docker_keys_and_bad_files(void **state)
{
	char *file = path("config.json");
	char *files[] = { file, NULL };
	char *u = NULL, *pw = NULL;
	struct hull_err err = { 0 };

	(void)state;
	/* "alice:pw" and "u:" */
	write_file(file, "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"YWxpY2U6cHc=\"},"
		   "\"http://h:1/v2/\": {\"auth\": \"dTo=\"}}}");
	assert_int_equal(auth_lookup(files, "docker.io", &u, &pw, &err), 0);
	assert_string_equal(u, "alice");
	assert_string_equal(pw, "pw");
	free(u);
	free(pw);
	assert_int_equal(auth_lookup(files, "h:1", &u, &pw, &err), 0);
	assert_string_equal(u, "u");
	assert_string_equal(pw, "");
	free(u);
	free(pw);
	write_file(file, "{\"auths\": {\"h\": {\"auth\": \"!!!!\"}}}");
	assert_int_equal(auth_lookup(files, "h", &u, &pw, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not base64"));
	assert_non_null(strstr(err.msg, file));
	write_file(file, "{\"auths\": {\"h\": {\"auth\": \"bm9jb2xvbg==\"}}}"); /* "nocolon" */
	assert_int_equal(auth_lookup(files, "h", &u, &pw, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "user:password"));
	write_file(file, "[1,");
	assert_true(auth_lookup(files, "h", &u, &pw, &err) < 0);
	assert_non_null(strstr(err.msg, file));
	free(file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_lookup_remove),
		cmocka_unit_test(test_docker_keys_and_bad_files),
	};
	int r;

	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0) /* NOLINT: test code */
			r = 1;
	}
	return r;
}
