#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "common/proccgroup.h"

static void test_v1_and_v2(void **state)
{
	struct proc_cgroup cg;
	const struct proc_cgroup_line *l;

	assert_int_equal(proc_cgroup_parse("12:cpu,cpuacct:/a/b\n"
					   "3:name=systemd:/user.slice\n"
					   "2:memory:/x:y\n"
					   "0::/init.scope\n",
					   &cg),
			 0);
	assert_int_equal(cg.n, 4);
	assert_non_null(l = proc_cgroup_find(&cg, "cpuacct"));
	assert_int_equal(l->id, 12);
	assert_string_equal(l->path, "/a/b");
	assert_null(proc_cgroup_find(&cg, "cpuac"));
	assert_null(proc_cgroup_find(&cg, "pids"));
	assert_string_equal(proc_cgroup_find(&cg, "name=systemd")->path, "/user.slice");
	assert_string_equal(proc_cgroup_find(&cg, "memory")->path, "/x:y");
	assert_non_null(l = proc_cgroup_find(&cg, ""));
	assert_int_equal(l->id, 0);
	assert_string_equal(l->path, "/init.scope");
	proc_cgroup_free(&cg);
	assert_int_equal(proc_cgroup_parse("", &cg), 0);
	assert_int_equal(cg.n, 0);
	proc_cgroup_free(&cg);
}

static void test_bad(void **state)
{
	static const char *const bad[] = {
		"0:/x\n", "x::/\n", ":cpu:/\n", "1::/\n", "0:cpu:/\n", "1:cpu:x\n", "-1:cpu:/\n",
		"12:cpu:/\ngarbage\n",
	};
	struct proc_cgroup cg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (proc_cgroup_parse(bad[i], &cg) != -EINVAL)
			fail_msg("\"%s\" was taken", bad[i]);
}

/* random files of v1 lines and one v2 line: every line comes back as written */
static void test_random(void **state)
{
	static const char *const ctls[] = { "cpu", "cpuacct", "memory", "pids", "name=systemd",
					    "blkio", "devices" };
	srand(14);
	for (int i = 0; i < 2000; i++) {
		char text[4096] = "", want[8][64];
		int n = 1 + rand() % 7, ids[8];
		struct proc_cgroup cg;

		for (int k = 0; k < n; k++) {
			ids[k] = k == n - 1 ? 0 : 1 + rand() % 15;
			(void)snprintf(want[k], sizeof(want[k]), "/p%d:%d/q", rand(), k);
			(void)snprintf(text + strlen(text), sizeof(text) - strlen(text), "%d:%s:%s\n",
				       ids[k], ids[k] ? ctls[k] : "", want[k]);
		}
		assert_int_equal(proc_cgroup_parse(text, &cg), 0);
		assert_int_equal(cg.n, n);
		for (int k = 0; k < n; k++) {
			const struct proc_cgroup_line *l = proc_cgroup_find(&cg, ids[k] ? ctls[k] : "");

			assert_non_null(l);
			assert_string_equal(l->path, want[k]);
			assert_int_equal(l->id, ids[k]);
		}
		proc_cgroup_free(&cg);
	}
}

static void test_read_self(void **state)
{
	struct proc_cgroup cg;

	assert_int_equal(proc_cgroup_read(0, &cg), 0);
	assert_true(cg.n >= 1);
	proc_cgroup_free(&cg);
	assert_int_equal(proc_cgroup_read(getpid(), &cg), 0);
	proc_cgroup_free(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_and_v2),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_read_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
