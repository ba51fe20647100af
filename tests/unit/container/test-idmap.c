/*
 * Unit tests for src/container/idmap.c: the mapping checks, crun's default mapping, and the
 * newuidmap/newgidmap fallback (root only: run against a child in a new user namespace; the
 * fallback's success case as `nobody` in a private mount namespace with its own /etc).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fd.h"
#include "container/idmap.h"


static void test_check_ok(void **state)
{
	struct oci_idmap m[] = { { 0, 100000, 1000 }, { 1000, 300000, 10 }, { 2000, 0, 1 } };
	struct hull_err err = { 0 };

	assert_int_equal(idmap_check(m, 3, "uidMappings", &err), 0);
}

static void test_check_overlaps(void **state)
{
	struct oci_idmap in[] = { { 0, 100000, 1000 }, { 500, 300000, 10 } };
	struct oci_idmap out[] = { { 0, 100000, 1000 }, { 5000, 100999, 10 } };
	struct hull_err err = { 0 };

	assert_int_equal(idmap_check(in, 2, "uidMappings", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "linux.uidMappings[1]: container ids 500-509 overlap"));
	assert_int_equal(idmap_check(out, 2, "gidMappings", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "linux.gidMappings[1]: host ids"));
}

static void test_check_limits(void **state)
{
	struct oci_idmap over[] = { { 4294967295U, 0, 2 } };
	struct oci_idmap zero[] = { { 0, 0, 0 } };
	struct oci_idmap *many = calloc(OCI_MAX_IDMAPS + 1, sizeof(*many));
	struct hull_err err = { 0 };

	assert_int_equal(idmap_check(over, 1, "uidMappings", &err), -ERANGE);
	assert_non_null(strstr(err.msg, "uidMappings[0]: the range overflows"));
	assert_int_equal(idmap_check(zero, 1, "uidMappings", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "uidMappings[0].size"));
	for (uint32_t i = 0; i <= OCI_MAX_IDMAPS; i++)
		many[i] = (struct oci_idmap){ i, i, 1 };
	assert_int_equal(idmap_check(many, OCI_MAX_IDMAPS, "uidMappings", &err), 0);
	assert_int_equal(idmap_check(many, OCI_MAX_IDMAPS + 1, "uidMappings", &err), -E2BIG);
	free(many);
}

static void test_format(void **state)
{
	struct oci_idmap m[] = { { 0, 100000, 65536 }, { 4294967294U, 1, 1 } };
	char *s = idmap_format(m, 2);

	assert_string_equal(s, "0 100000 65536\n4294967294 1 1\n");
	free(s);
}

static void test_default_without_subids(void **state)
{
	struct oci_idmap *m = NULL;

	assert_int_equal(idmap_default(5, 1000, "alice", "/nonexistent/subuid", &m), 1);
	assert_int_equal(m[0].container_id, 0);
	assert_int_equal(m[0].host_id, 1000);
	assert_int_equal(m[0].size, 1);
	free(m);
	assert_int_equal(idmap_default(0, 0, NULL, "/nonexistent/subuid", &m), 1);
	free(m);
}

static void test_default_with_subids(void **state)
{
	char path[] = "/tmp/hull-idmap-XXXXXX";
	const char *text = "alicex:1:2\nbad line\nalice:100000:65536\nalice:7:7\n";
	struct oci_idmap *m = NULL;
	struct hull_err err = { 0 };
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(fd_write_all(fd, text, strlen(text)), 0);
	(void)close(fd);
	/* container uid 5 -> the caller; 0-4 and 6.. from the subordinate range */
	assert_int_equal(idmap_default(5, 1000, "alice", path, &m), 3);
	assert_memory_equal(&m[0], &((struct oci_idmap){ 0, 100000, 5 }), sizeof(*m));
	assert_memory_equal(&m[1], &((struct oci_idmap){ 5, 1000, 1 }), sizeof(*m));
	assert_memory_equal(&m[2], &((struct oci_idmap){ 6, 100005, 65531 }), sizeof(*m));
	assert_int_equal(idmap_check(m, 3, "uidMappings", &err), 0);
	free(m);
	/* container root -> the caller, 1.. from the range */
	assert_int_equal(idmap_default(0, 1000, "alice", path, &m), 2);
	assert_memory_equal(&m[0], &((struct oci_idmap){ 0, 1000, 1 }), sizeof(*m));
	assert_memory_equal(&m[1], &((struct oci_idmap){ 1, 100000, 65536 }), sizeof(*m));
	free(m);
	(void)unlink(path);
}

/* A child in a new user namespace, waiting for us to close the pipe. */
static pid_t userns_child(int *ret_wr)
{
	int go[2], ready[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)close(go[1]);
		(void)close(ready[0]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		(void)close(ready[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	(void)close(go[0]);
	(void)close(ready[1]);
	/* EOF once it has unshared */
	assert_true(read(ready[0], &c, 1) >= 0);
	(void)close(ready[0]);
	*ret_wr = go[1];
	return pid;
}

static void end_child(pid_t pid, int wr)
{
	(void)close(wr);
	(void)waitpid(pid, NULL, 0);
}

static bool can_run_helpers(void)
{
	return geteuid() == 0 && access(IDMAP_NEWUIDMAP, X_OK) == 0;
}

static void test_helper_refusal_is_reported(void **state)
{
	struct oci_idmap foreign[] = { { 0, 3000000, 10 } };
	struct hull_err err = { 0 };
	int wr;
	pid_t pid;

	if (!can_run_helpers())
		skip();
	pid = userns_child(&wr);
	assert_true(idmap_write_helper(IDMAP_NEWUIDMAP, pid, foreign, 1, "uidMappings", &err) <
		    0);
	assert_non_null(strstr(err.msg, "config.json: linux.uidMappings: "));
	assert_non_null(strstr(err.msg, "newuidmap refused the mapping"));
	end_child(pid, wr);
}

static void test_missing_helper(void **state)
{
	struct oci_idmap m[] = { { 0, 0, 1 } };
	struct hull_err err = { 0 };

	assert_int_equal(idmap_write_helper("/nonexistent/newuidmap", 1, m, 1, "uidMappings",
					    &err),
			 -ENOENT);
	assert_non_null(strstr(err.msg, "uidmap"));
}

static int copy_file(const char *from, const char *to)
{
	char *buf = NULL;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, from, 1 << 20, &buf, &len);

	if (r == 0)
		r = fd_write_file_atomic_at(AT_FDCWD, to, buf, len, 0644);
	free(buf);
	return r;
}

/*
 * As `nobody` (no privilege), with /etc/subuid granting it 200000-200009 in a private /etc:
 * the direct write is refused (EPERM) and newuidmap does it.
 */
static int fallback_as_nobody(const char *etc)
{
	struct oci_idmap m[] = { { 0, 200000, 10 } };
	struct hull_err err = { 0 };
	char path[64], *map = NULL;
	int wr, r;
	pid_t pid;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(etc, "/etc", NULL, MS_BIND, NULL) < 0)
		return 10;
	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0)
		return 11;
	/* The uid switch made us non-dumpable: /proc/<pid> of our children would be root's. */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	pid = userns_child(&wr);
	r = idmap_write(pid, "uid_map", IDMAP_NEWUIDMAP, m, 1, "uidMappings", &err);
	if (r < 0) {
		(void)fprintf(stderr, "# %s\n", err.msg);
		end_child(pid, wr);
		return 12;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	r = fd_read_file_at(AT_FDCWD, path, 4096, &map, NULL) < 0 || !strstr(map, "200000") ? 13
												: 0;
	free(map);
	end_child(pid, wr);
	return r;
}

static void test_write_falls_back_to_helper(void **state)
{
	char etc[] = "/tmp/hull-idmap-etc-XXXXXX";
	const char *files[] = { "passwd", "group", "nsswitch.conf", "login.defs" };
	char from[64], to[128];
	int status;
	pid_t pid;

	if (!can_run_helpers())
		skip();
	assert_non_null(mkdtemp(etc));
	assert_int_equal(chmod(etc, 0755), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(void)snprintf(from, sizeof(from), "/etc/%s", files[i]);
		(void)snprintf(to, sizeof(to), "%s/%s", etc, files[i]);
		if (access(from, R_OK) == 0)
			assert_int_equal(copy_file(from, to), 0);
	}
	(void)snprintf(to, sizeof(to), "%s/subuid", etc);
	assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, to, "nobody:200000:10\n", 17, 0644),
			 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_as_nobody(etc));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(void)snprintf(to, sizeof(to), "%s/%s", etc, files[i]);
		(void)unlink(to);
	}
	(void)snprintf(to, sizeof(to), "%s/subuid", etc);
	(void)unlink(to);
	(void)rmdir(etc);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_ok),
		cmocka_unit_test(test_check_overlaps),
		cmocka_unit_test(test_check_limits),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_default_without_subids),
		cmocka_unit_test(test_default_with_subids),
		cmocka_unit_test(test_helper_refusal_is_reported),
		cmocka_unit_test(test_missing_helper),
		cmocka_unit_test(test_write_falls_back_to_helper),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
