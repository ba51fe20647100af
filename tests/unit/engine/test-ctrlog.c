/* The container log's records (ctr_log_chunk) and the relay of a container's pipes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/ctrlog.h"

/* The log so far, with each record's time replaced by "T" */
static char *log_text(int fd)
{
	static char out[1 << 16];
	char buf[1 << 16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	size_t o = 0;

	assert_true(n >= 0);
	buf[n] = '\0';
	for (char *l = buf, *nl; *l; l = nl + 1) {
		char *sp = strchr(l, ' ');

		nl = strchr(l, '\n');
		assert_non_null(nl);
		assert_non_null(sp);
		/* 2026-11-24T21:51:00.222802343Z */
		assert_int_equal(sp - l, 30);
		assert_int_equal(l[10], 'T');
		assert_int_equal(sp[-1], 'Z');
		o += (size_t)snprintf(out + o, sizeof(out) - o, "T%.*s\n", (int)(nl - sp), sp);
	}
	out[o] = '\0';
	return out;
}

static int memlog(void)
{
	int fd = memfd_create("ctr.log", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void test_chunk_records(void **state)
{
	int fd = memlog();

	ctr_log_chunk(fd, "stdout", "one\ntwo\n", 8);
	ctr_log_chunk(fd, "stderr", "part", 4);
	ctr_log_chunk(fd, "stdout", "", 0);
	ctr_log_chunk(fd, "stdout", "\n\nx", 3);
	ctr_log_chunk(-1, "stdout", "ignored\n", 8);
	assert_string_equal(log_text(fd), "T stdout F one\n"
					  "T stdout F two\n"
					  "T stderr P part\n"
					  "T stdout F \n"
					  "T stdout F \n"
					  "T stdout P x\n");
	(void)close(fd);
}

static void test_relay_until_eof(void **state)
{
	int fd = memlog(), out[2], err[2];

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	assert_int_equal(write(out[1], "a\nb", 3), 3);
	assert_int_equal(write(err[1], "e\n", 2), 2);
	(void)close(out[1]);
	(void)close(err[1]);
	ctr_log_relay(fd, out[0], err[0], false);
	{
		const char *t = log_text(fd);

		assert_non_null(strstr(t, "T stdout F a\nT stdout P b\n"));
		assert_non_null(strstr(t, "T stderr F e\n"));
	}
	/* both read ends were closed by the relay */
	assert_int_equal(fcntl(out[0], F_GETFD), -1);
	assert_int_equal(fcntl(err[0], F_GETFD), -1);
	(void)close(fd);
}

/* Our stdout's reader went away: the container's pipe is closed, its writer gets EPIPE. */
static void test_relay_closes_when_our_reader_goes(void **state)
{
	int fd = memlog(), out[2], ours[2], saved = dup(1);

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(ours), 0);
	(void)signal(SIGPIPE, SIG_IGN);
	assert_int_equal(dup2(ours[1], 1), 1);
	(void)close(ours[1]);
	(void)close(ours[0]); /* nobody reads our stdout */
	assert_int_equal(write(out[1], "x\n", 2), 2);
	ctr_log_relay(fd, out[0], -1, true);
	assert_int_equal(dup2(saved, 1), 1);
	(void)close(saved);
	assert_int_equal(write(out[1], "y\n", 2), -1);
	assert_int_equal(errno, EPIPE);
	(void)close(out[1]);
	/* what was read is still logged */
	assert_string_equal(log_text(fd), "T stdout F x\n");
	(void)close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_records),
		cmocka_unit_test(test_relay_until_eof),
		cmocka_unit_test(test_relay_closes_when_our_reader_goes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
