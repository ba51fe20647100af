/* rm_tree_at: whole trees, deeper than the descriptor limit, symlinks not followed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rmtree.h"

static char base[] = "/tmp/hull-rmtree-XXXXXX";

/* depth levels of "d", each with a file, a fifo and a symlink to outside */
static void make_deep(int top, int depth, const char *outside)
{
	int fd = dup(top);

	for (int i = 0; i < depth; i++) {
		int next;

		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		close(openat(fd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
		assert_int_equal(mkfifoat(fd, "p", 0600), 0);
		assert_int_equal(symlinkat(outside, fd, "out"), 0);
		if (i % 7 == 0) /* a read-only directory: root removes what is in it anyway */
			assert_int_equal(mkdirat(fd, "ro", 0500), 0);
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	close(fd);
}

static void test_deeper_than_the_fd_limit(void **state)
{
	struct rlimit old, low;
	int top;

	(void)state;
	assert_non_null(mkdtemp(base));
	top = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(top >= 0);
	assert_int_equal(mkdirat(top, "outside", 0755), 0);
	close(openat(top, "outside/keep", O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	assert_int_equal(mkdirat(top, "tree", 0755), 0);
	{
		int t = openat(top, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char out[64];

		(void)snprintf(out, sizeof(out), "%s/outside", base);
		make_deep(t, 600, out);
		close(t);
	}
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = (struct rlimit){ 64, old.rlim_max }; /* the soft limit only: no CAP_SYS_RESOURCE */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(rm_tree_at(top, "tree"), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(faccessat(top, "tree", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(faccessat(top, "outside/keep", F_OK, 0), 0);
	/* missing is not an error; a file or a symlink is removed itself */
	assert_int_equal(rm_tree_at(top, "tree"), 0);
	assert_int_equal(symlinkat("outside", top, "link"), 0);
	assert_int_equal(rm_tree_at(top, "link"), 0);
	assert_int_equal(faccessat(top, "outside/keep", F_OK, 0), 0);
	assert_int_equal(rm_tree_at(AT_FDCWD, base), 0);
	assert_int_equal(access(base, F_OK), -1);
	close(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deeper_than_the_fd_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
