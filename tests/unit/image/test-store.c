/* rm_rf_at / rm_rf_at_freed / store_du_at: deep trees, hard links, what is released. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "image/store.h"

static char base[64];
static int base_fd = -1;

static int setup(void **state)
{
	strcpy(base, "/tmp/hull-test-store-XXXXXX");
	assert_non_null(mkdtemp(base));
	base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(base_fd >= 0);
	return 0;
}

static int teardown(void **state)
{
	(void)close(base_fd);
	(void)rmdir(base);
	return 0;
}

static void write_file(int dfd, const char *name, size_t len)
{
	static char buf[8192];
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	for (size_t done = 0; done < len; done += sizeof(buf))
		assert_true(write(fd, buf, len - done < sizeof(buf) ? len - done : sizeof(buf)) > 0);
	(void)close(fd);
}

/*
 * A tree deeper than the open-file limit (and than PATH_MAX) is measured and removed whole:
 * the old recursions held one fd per level and stopped with EMFILE, leaving the tree behind.
 */
static void test_deeper_than_rlimit_nofile(void **state)
{
	enum { DEPTH = 3000 };
	struct rlimit old, low = { 48, 48 };
	int cur = fcntl(base_fd, F_DUPFD_CLOEXEC, 3);
	uint64_t freed = 0, used = 0;

	assert_int_equal(mkdirat(cur, "top", 0755), 0);
	for (int i = 0; i < DEPTH; i++) {
		int next = openat(cur, i ? "d" : "top", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(next >= 0);
		(void)close(cur);
		cur = next;
		assert_int_equal(mkdirat(cur, "d", 0755), 0);
		if (i % 100 == 0)
			write_file(cur, "f", 100);
	}
	(void)close(cur);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	/* du walks it whole too (the old recursion stopped counting at EMFILE) */
	assert_int_equal(store_du_at(base_fd, "top", &used), 0);
	assert_int_equal(rm_rf_at_freed(base_fd, "top", &freed), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(faccessat(base_fd, "top", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_true(freed > (uint64_t)DEPTH * 512);
	assert_int_equal(freed, used);
}

/* What rm_rf_at_freed counts is what du counts: blocks, a hard-linked inode once. */
static void test_freed_matches_du(void **state)
{
	int d;
	uint64_t before = 0, freed = 0, dirblocks;
	struct stat st;

	assert_int_equal(mkdirat(base_fd, "t", 0755), 0);
	d = openat(base_fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d >= 0);
	assert_int_equal(mkdirat(d, "sub", 0755), 0);
	write_file(d, "a", 100000);
	write_file(d, "sub/b", 3);
	assert_int_equal(linkat(d, "a", d, "sub/a-link", 0), 0);
	assert_int_equal(symlinkat("a", d, "l"), 0);
	(void)close(d);
	assert_int_equal(store_du_at(base_fd, "t", &before), 0);
	assert_int_equal(fstatat(base_fd, "t", &st, 0), 0);
	dirblocks = (uint64_t)st.st_blocks * 512;
	assert_true(before >= 100000 + dirblocks);
	assert_int_equal(rm_rf_at_freed(base_fd, "t", &freed), 0);
	assert_int_equal(freed, before);
	/* absent: nothing to do, no error */
	assert_int_equal(rm_rf_at(base_fd, "t"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deeper_than_rlimit_nofile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freed_matches_du, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
