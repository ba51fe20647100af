/* Unit tests for src/oci/hooks.c and src/oci/state.c: hooks get the state on stdin, their
 * args and env, a timeout; state documents and /proc parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fd.h"
#include "common/json.h"
#include "oci/hooks.h"
#include "oci/state.h"

static char tmpdir[] = "/tmp/hull-test-hooks.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char out[256];

	(void)snprintf(out, sizeof(out), "%s/out", tmpdir);
	(void)unlink(out);
	return rmdir(tmpdir);
}

static void test_hook_gets_state_args_env(void **state)
{
	char out[256], script[512];
	char *args[] = { (char *)"/bin/sh", (char *)"-c", NULL, NULL };
	char *env[] = { (char *)"HOOKVAR=hv", (char *)"PATH=/bin:/usr/bin", NULL };
	struct oci_hook h = { .path = (char *)"/bin/sh", .args = args, .env = env, .timeout = 5 };
	struct hull_err err = { 0 };
	char *buf = NULL;
	size_t len = 0;

	(void)snprintf(out, sizeof(out), "%s/out", tmpdir);
	(void)snprintf(script, sizeof(script), "cat > %s; echo \" $HOOKVAR $0\" >> %s", out, out);
	args[2] = script;
	assert_int_equal(oci_hooks_run(&h, 1, OCI_HOOK_PRESTART, "{\"id\":\"x\"}", &err), 0);
	assert_int_equal(fd_read_file_at(AT_FDCWD, out, 4096, &buf, &len), 0);
	assert_string_equal(buf, "{\"id\":\"x\"} hv /bin/sh\n");
	free(buf);
}

static void test_hook_failure_names_it(void **state)
{
	char *args[] = { (char *)"sh", (char *)"-c", (char *)"exit 3", NULL };
	struct oci_hook h[2] = {
		{ .path = (char *)"/bin/true" },
		{ .path = (char *)"/bin/sh", .args = args },
	};
	struct hull_err err = { 0 };

	assert_int_equal(oci_hooks_run(h, 2, OCI_HOOK_CREATE_RUNTIME, "{}", &err), -ECHILD);
	assert_string_equal(err.msg, "createRuntime hook #1 (/bin/sh): exited with status 3");
	hull_err_clear(&err);
	h[0].path = (char *)"/no/such/hook";
	assert_int_equal(oci_hooks_run(h, 1, OCI_HOOK_POSTSTOP, "{}", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "poststop hook #0 (/no/such/hook)"));
}

static void test_hook_timeout(void **state)
{
	char *args[] = { (char *)"sh", (char *)"-c", (char *)"exec sleep 30", NULL };
	struct oci_hook h = { .path = (char *)"/bin/sh", .args = args, .timeout = 1 };
	struct hull_err err = { 0 };

	assert_int_equal(oci_hooks_run(&h, 1, OCI_HOOK_PRESTART, "{}", &err), -ETIMEDOUT);
	assert_string_equal(err.msg, "prestart hook #0 (/bin/sh): timed out after 1 s");
}

static void test_hook_ignoring_stdin(void **state)
{
	/* A hook that never reads a large state must not make us die of SIGPIPE or hang. */
	char *big = malloc(1 << 20);
	struct oci_hook h = { .path = (char *)"/bin/true" };
	struct hull_err err = { 0 };

	memset(big, 'x', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	assert_int_equal(oci_hooks_run(&h, 1, OCI_HOOK_POSTSTART, big, &err), 0);
	free(big);
}

static void test_state_json_and_proc_stat(void **state)
{
	struct state_rec rec = {
		.oci_version = (char *)"1.1.0", .id = (char *)"c1", .bundle = (char *)"/b",
		.rootfs = (char *)"/b/rootfs", .created = (char *)"2024-01-01T00:00:00Z",
		.pid = getpid(), .annotations = json_pack("{s:s}", "a", "b"),
	};
	json_t *o = state_to_json(&rec, OCI_STATUS_RUNNING);
	unsigned long long start = 0;
	bool zombie = true;

	assert_string_equal(json_string_value(json_object_get(o, "status")), "running");
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), getpid());
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "annotations"),
							      "a")),
			    "b");
	json_decref(o);
	o = state_to_json(&rec, OCI_STATUS_STOPPED);
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 0);
	json_decref(o);
	json_decref(rec.annotations);

	assert_int_equal(proc_stat_read(getpid(), &start, &zombie), 0);
	assert_true(start > 0);
	assert_false(zombie);
	assert_int_equal(proc_stat_read(0x7ffffff0, &start, &zombie), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_gets_state_args_env),
		cmocka_unit_test(test_hook_failure_names_it),
		cmocka_unit_test(test_hook_timeout),
		cmocka_unit_test(test_hook_ignoring_stdin),
		cmocka_unit_test(test_state_json_and_proc_stat),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
