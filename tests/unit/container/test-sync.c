/* Unit tests for src/container/sync.c and the pure parts of process.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "container/process.h"
#include "container/sync.h"

static void test_roundtrip(void **state)
{
	int sv[2];
	enum sync_type t;
	char *payload = NULL;
	struct hull_err err = { 0 }, *got;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(sync_send(sv[0], SYNC_GO, "{\"a\":1}", 7), 0);
	assert_int_equal(sync_recv(sv[1], &t, &payload), 7);
	assert_int_equal(t, SYNC_GO);
	assert_string_equal(payload, "{\"a\":1}");
	free(payload);

	assert_int_equal(sync_send(sv[1], SYNC_READY, NULL, 0), 0);
	assert_int_equal(sync_recv(sv[0], &t, NULL), 0);
	assert_int_equal(t, SYNC_READY);

	hull_err_setx(&err, EPERM, "config.json: process.rlimits[0]: no");
	assert_int_equal(sync_send(sv[1], SYNC_ERR, &err, sizeof(err)), 0);
	assert_int_equal(sync_recv(sv[0], &t, &payload), (int)sizeof(err));
	assert_int_equal(t, SYNC_ERR);
	got = (struct hull_err *)payload;
	assert_int_equal(got->code, EPERM);
	assert_string_equal(got->msg, "config.json: process.rlimits[0]: no");
	free(payload);

	assert_int_equal(sync_send(sv[0], SYNC_GO, NULL, SYNC_PAYLOAD_MAX + 1), -E2BIG);
	close(sv[0]);
	assert_int_equal(sync_recv(sv[1], &t, NULL), -EPIPE);
	close(sv[1]);
}

static void test_bad_message(void **state)
{
	int sv[2];
	enum sync_type t;
	uint32_t junk[2] = { 99, 0 };

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(send(sv[0], junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	assert_int_equal(sync_recv(sv[1], &t, NULL), -EBADMSG);
	assert_int_equal(send(sv[0], junk, 3, 0), 3);
	assert_int_equal(sync_recv(sv[1], &t, NULL), -EBADMSG);
	close(sv[0]);
	close(sv[1]);
}

static void test_find_exec(void **state)
{
	char *args[] = { (char *)"sh", NULL };
	char *env[] = { (char *)"PATHX=1", (char *)"PATH=/nonexistent:/bin", NULL };
	struct oci_process p = { .args = args, .env = env };
	struct hull_err err = { 0 };
	char *path = NULL;

	assert_string_equal(process_getenv(&p, "PATH"), "/nonexistent:/bin");
	assert_null(process_getenv(&p, "PAT"));
	assert_int_equal(process_find_exec(&p, &path, &err), 0);
	assert_string_equal(path, "/bin/sh");
	free(path);
	args[0] = (char *)"no-such-program-hull";
	assert_int_equal(process_find_exec(&p, &path, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "executable file not found in $PATH"));
	args[0] = (char *)"/no/such";
	assert_true(process_find_exec(&p, &path, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_message),
		cmocka_unit_test(test_find_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
