/*
 * Unit tests for QEMU-compatible image locking (src/disk/disk-lock.c): the exact bytes a
 * reader, a writer and a -U reader lock (what QEMU 7.2's file-posix locks, as /proc/locks
 * shows for qemu-io), and which pairs of users exclude each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/disk-internal.h"

static char path[] = "/tmp/hull-test-lock-XXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return unlink(path);
}

enum user { READER, WRITER, SHARING_READER };

static int open_as(enum user u, int *ret_fd)
{
	struct hull_err err = { 0 };
	unsigned perm, shared;
	int fd = open(path, O_RDWR | O_CLOEXEC), r;

	assert_true(fd >= 0);
	disk_lock_perms(u == WRITER, u == SHARING_READER, &perm, &shared);
	r = disk_lock_fd(fd, path, perm, shared, &err);
	if (r < 0) {
		assert_int_equal(r, -EBUSY);
		assert_non_null(strstr(err.msg, path));
		assert_non_null(strstr(err.msg, "lock"));
		close(fd);
		fd = -1;
	}
	*ret_fd = fd;
	return r;
}

/* Bytes 0..299 that another open file description holds a lock on, as a bit string. */
static void locked_bytes(char *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	for (int b = 0; b < 300; b++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = b,
				    .l_len = 1 };

		assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
		if (fl.l_type != F_UNLCK) {
			assert_int_equal(fl.l_type, F_RDLCK);
			out += sprintf(out, "%d ", b);
		}
	}
	*out = 0;
	close(fd);
}

static void test_lock_bytes(void **state)
{
	/* qemu-io 7.2: read-write 100 101 103 201 203; -r 100 201 203; -r -U 100 */
	static const char *const want[] = {
		[READER] = "100 201 203 ",
		[WRITER] = "100 101 103 201 203 ",
		[SHARING_READER] = "100 ",
	};
	char got[1200];
	int fd;

	(void)state;
	for (int u = READER; u <= SHARING_READER; u++) {
		assert_int_equal(open_as((enum user)u, &fd), 0);
		locked_bytes(got);
		assert_string_equal(got, want[u]);
		close(fd);
		locked_bytes(got);
		assert_string_equal(got, "");
	}
}

static void test_lock_conflicts(void **state)
{
	/* ok[first][second]: may the second user open while the first has the file */
	static const bool ok[3][3] = {
		[READER] = { [READER] = true, [SHARING_READER] = true },
		[WRITER] = { [SHARING_READER] = true },
		[SHARING_READER] = { true, true, true },
	};
	int a, b;

	(void)state;
	for (int first = READER; first <= SHARING_READER; first++) {
		for (int second = READER; second <= SHARING_READER; second++) {
			assert_int_equal(open_as((enum user)first, &a), 0);
			assert_int_equal(open_as((enum user)second, &b),
					 ok[first][second] ? 0 : -EBUSY);
			if (b >= 0)
				close(b);
			close(a);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_bytes),
		cmocka_unit_test(test_lock_conflicts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
