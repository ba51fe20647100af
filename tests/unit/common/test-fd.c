#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/fd.h"

static void test_atomic_write_and_read(void **state)
{
	char tmpl[] = "/tmp/hull-test-fd-XXXXXX";
	char *dir = mkdtemp(tmpl);
	int dfd = open(dir, O_PATH | O_DIRECTORY);
	char *buf = NULL;
	size_t len = 0;

	assert_true(dfd >= 0);
	assert_int_equal(fd_write_file_atomic_at(dfd, "state.json", "{\"a\":1}", 7, 0600), 0);
	assert_int_equal(fd_read_file_at(dfd, "state.json", 100, &buf, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "{\"a\":1}");
	free(buf);
	/* the size limit is enforced */
	assert_int_equal(fd_read_file_at(dfd, "state.json", 3, &buf, &len), -EFBIG);
	assert_int_equal(fd_read_file_at(dfd, "missing", 3, &buf, &len), -ENOENT);
	/* no temporary file is left behind */
	assert_int_equal(faccessat(dfd, "state.json.tmp", F_OK, 0), -1);
	assert_int_equal(unlinkat(dfd, "state.json", 0), 0);
	assert_int_equal(unlinkat(AT_FDCWD, dir, AT_REMOVEDIR), 0);
	close(dfd);
}

/* A link planted at the temporary name must not be written through. */
static void test_atomic_write_never_follows_planted_links(void **state)
{
	char tmpl[] = "/tmp/hull-test-fd-XXXXXX";
	char *dir = mkdtemp(tmpl);
	int dfd = open(dir, O_PATH | O_DIRECTORY);
	char victim[600], tmpname[64], *buf = NULL;
	size_t len = 0;
	int vfd;

	assert_true(dfd >= 0);
	(void)snprintf(victim, sizeof(victim), "%s/victim", dir);
	vfd = open(victim, O_WRONLY | O_CREAT, 0600);
	assert_true(vfd >= 0);
	assert_int_equal(write(vfd, "precious", 8), 8);
	close(vfd);
	(void)snprintf(tmpname, sizeof(tmpname), "state.json.tmp.%d", (int)getpid());

	assert_int_equal(symlinkat(victim, dfd, tmpname), 0);
	assert_int_equal(fd_write_file_atomic_at(dfd, "state.json", "new", 3, 0600), 0);
	assert_int_equal(linkat(AT_FDCWD, victim, dfd, tmpname, 0), 0);
	assert_int_equal(fd_write_file_atomic_at(dfd, "state.json", "new2", 4, 0600), 0);

	assert_int_equal(fd_read_file_at(AT_FDCWD, victim, 100, &buf, &len), 0);
	assert_string_equal(buf, "precious");
	free(buf);
	assert_int_equal(fd_read_file_at(dfd, "state.json", 100, &buf, &len), 0);
	assert_string_equal(buf, "new2");
	free(buf);
	assert_int_equal(unlinkat(dfd, "state.json", 0), 0);
	assert_int_equal(unlinkat(dfd, "victim", 0), 0);
	assert_int_equal(unlinkat(AT_FDCWD, dir, AT_REMOVEDIR), 0);
	close(dfd);
}

static void test_cloexec_from(void **state)
{
	int fd = open("/dev/null", O_RDONLY);

	assert_true(fd > 2);
	assert_int_equal(fd_cloexec_from(3), 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_false(fcntl(0, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_write_and_read),
		cmocka_unit_test(test_atomic_write_never_follows_planted_links),
		cmocka_unit_test(test_cloexec_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
