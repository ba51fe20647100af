#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/path.h"

static void check_norm(const char *in, const char *want)
{
	char *got = path_normalize(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_normalize(void **state)
{
	check_norm("/", "/");
	check_norm("/a//b/./c/", "/a/b/c");
	check_norm("/../../etc", "/etc");
	check_norm("/a/b/../../..", "/");
	check_norm("a/../..", "..");
	check_norm("./", ".");
	check_norm("a/./b/..", "a");
}

static void test_join(void **state)
{
	char *p = path_join("/run/hull/", "/ctr");

	assert_string_equal(p, "/run/hull/ctr");
	free(p);
	assert_true(path_is_absolute("/x"));
	assert_false(path_is_absolute("x"));
	assert_false(path_is_absolute(NULL));
}

/* A rootfs whose symlinks point out of it: every resolution must stay inside. */
static void test_in_root_never_escapes(void **state)
{
	char tmpl[] = "/tmp/hull-test-path-XXXXXX";
	char *root = mkdtemp(tmpl);
	char buf[512];
	int rootfd, fd;
	struct stat st;

	assert_non_null(root);
	rootfd = open(root, O_PATH | O_DIRECTORY);
	assert_true(rootfd >= 0);
	assert_int_equal(symlinkat("/etc", rootfd, "abs"), 0);
	assert_int_equal(symlinkat("../../../../etc", rootfd, "rel"), 0);

	/* "abs/passwd" would be the host's /etc/passwd if followed naively */
	fd = path_open_in_root(rootfd, "abs/passwd", O_RDONLY, 0, 0);
	assert_int_equal(fd, -ENOENT);
	fd = path_open_in_root(rootfd, "rel/passwd", O_RDONLY, 0, 0);
	assert_int_equal(fd, -ENOENT);
	fd = path_open_in_root(rootfd, "/../../etc/passwd", O_RDONLY, 0, 0);
	assert_int_equal(fd, -ENOENT);

	/* mkdirs through the escaping symlink creates the directory inside the root */
	fd = path_mkdirs_in_root(rootfd, "abs/hull-made-this/x", 0755);
	assert_true(fd >= 0);
	close(fd);
	(void)snprintf(buf, sizeof(buf), "%s/etc/hull-made-this/x", root);
	assert_int_equal(stat(buf, &st), 0);
	assert_int_not_equal(stat("/etc/hull-made-this", &st), 0);

	(void)snprintf(buf, sizeof(buf), "rm -rf '%s'", root);
	assert_int_equal(system(buf), 0);
	close(rootfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_in_root_never_escapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
