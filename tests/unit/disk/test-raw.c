/* Unit tests for the block interface over the raw back end. */
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

#include "disk/disk.h"

static char *tmp_path(void)
{
	char *p = strdup("/tmp/hull-test-raw-XXXXXX");
	int fd = mkstemp(p);

	assert_true(fd >= 0);
	close(fd);
	unlink(p);
	return p;
}

static void test_raw_create_rw(void **state)
{
	char *path = tmp_path();
	struct disk_create_opts o = { .format = DISK_FORMAT_RAW, .size = 1 << 20 };
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	uint8_t buf[8192], back[8192];
	struct iovec iov[2];

	assert_int_equal(disk_create(path, &o, &err), 0);
	/* it must not exist yet */
	assert_int_equal(disk_create(path, &o, &err), -EEXIST);
	assert_int_equal(disk_open(path, DISK_FORMAT_AUTO, 0, &d, &err), 0);
	assert_int_equal(disk_get_format(d), DISK_FORMAT_RAW);
	assert_int_equal(disk_size(d), 1 << 20);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7);
	assert_int_equal(disk_write(d, 4000, buf, sizeof(buf)), 0);
	memset(back, 0xff, sizeof(back));
	iov[0] = (struct iovec){ .iov_base = back, .iov_len = 100 };
	iov[1] = (struct iovec){ .iov_base = back + 100, .iov_len = sizeof(back) - 100 };
	assert_int_equal(disk_readv(d, 4000, iov, 2), 0);
	assert_memory_equal(buf, back, sizeof(buf));
	/* out of range */
	assert_int_equal(disk_read(d, (1 << 20) - 10, back, 11), -EINVAL);
	assert_int_equal(disk_read(d, UINT64_MAX - 2, back, 11), -EINVAL);
	/* zeroes and discard */
	assert_int_equal(disk_write_zeroes(d, 4096, 4096, 0), 0);
	assert_int_equal(disk_read(d, 4096, back, 4096), 0);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(back[i], 0);
	assert_int_equal(disk_discard(d, 0, 1 << 20), 0);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);

	/* read-only */
	assert_int_equal(disk_open(path, DISK_FORMAT_RAW, DISK_OPEN_RDONLY, &d, &err), 0);
	assert_true(disk_is_read_only(d));
	assert_int_equal(disk_write(d, 0, buf, 1), -EROFS);
	disk_close(d);
	unlink(path);
	free(path);
}

static void test_open_missing(void **state)
{
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	enum disk_format f;

	assert_int_equal(disk_open("/nonexistent/x.img", DISK_FORMAT_AUTO, 0, &d, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent/x.img"));
	assert_int_equal(disk_format_parse("qcow2", &f), 0);
	assert_int_equal(f, DISK_FORMAT_QCOW2);
	assert_int_equal(disk_format_parse("vmdk", &f), -EINVAL);
	disk_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_create_rw),
		cmocka_unit_test(test_open_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
