/*
 * Unit tests for the cgroup layer's pure parts: linux.resources validation, the v1/v2 write
 * plans (runc's conversions), cpuset checks, the state record, and update's all-or-nothing
 * write with restore, against a fake cgroup directory of plain files (no privileges needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "container/cgroup-internal.h"

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	assert_non_null(v);
	return v;
}

static int parse(const char *text, struct oci_resources *r, struct hull_err *err)
{
	json_t *v = js(text);
	int rc = spec_resources_parse(v, "config.json: linux.resources", r, err);

	json_decref(v);
	return rc;
}

static void test_parse_valid(void **state)
{
	struct oci_resources r;
	struct hull_err err = { 0 };

	assert_int_equal(parse("{\"memory\":{\"limit\":1048576,\"swap\":-1,\"swappiness\":5},"
			       "\"cpu\":{\"shares\":512,\"quota\":-1,\"period\":100000,\"cpus\":\"0\"},"
			       "\"pids\":{\"limit\":0}}",
			       &r, &err),
			 0);
	assert_true(r.has_mem_limit);
	assert_int_equal(r.mem_limit, 1048576);
	assert_true(r.has_mem_swap);
	assert_int_equal(r.mem_swap, -1);
	assert_int_equal(r.swappiness, 5);
	assert_int_equal(r.cpu_shares, 512);
	assert_int_equal(r.cpu_quota, -1);
	assert_string_equal(r.cpus, "0");
	assert_true(r.has_pids);
	assert_int_equal(r.pids_limit, -1); /* 0 means unlimited */
	spec_resources_clear(&r);
}

static void expect_bad(const char *text, const char *field)
{
	struct oci_resources r;
	struct hull_err err = { 0 };

	assert_true(parse(text, &r, &err) < 0);
	if (!strstr(err.msg, field))
		fail_msg("\"%s\" does not name %s", err.msg, field);
}

static void test_parse_invalid(void **state)
{
	expect_bad("{\"memory\":{\"limit\":-2}}", "linux.resources.memory.limit");
	expect_bad("{\"memory\":{\"limit\":100,\"swap\":50}}", "linux.resources.memory.swap");
	expect_bad("{\"memory\":{\"swappiness\":101}}", "memory.swappiness");
	expect_bad("{\"cpu\":{\"shares\":1}}", "linux.resources.cpu.shares");
	expect_bad("{\"cpu\":{\"period\":10}}", "linux.resources.cpu.period");
	expect_bad("{\"cpu\":{\"quota\":10}}", "linux.resources.cpu.quota");
	expect_bad("{\"cpu\":{\"cpus\":7}}", "linux.resources.cpu.cpus");
	expect_bad("{\"pids\":{\"limit\":-9}}", "linux.resources.pids.limit");
	expect_bad("{\"blockIO\":{\"weight\":5}}", "linux.resources.blockIO.weight");
	expect_bad("{\"hugepageLimits\":[{\"pageSize\":\"2M/../x\",\"limit\":1}]}",
		   "hugepageLimits[0].pageSize");
	expect_bad("{\"unified\":{\"../x\":\"1\"}}", "linux.resources.unified");
	expect_bad("{\"unified\":{\"cgroup.procs\":\"1\"}}", "unified.cgroup.procs");
	expect_bad("{\"unified\":{\"pids.max\":5}}", "unified.pids.max");
	expect_bad("{\"memory\":[]}", "linux.resources.memory");
}

/* A block device that is not there is the host's question, asked where the value is
 * written (cg_check_blkio_devices), not by the model. */
static void test_blkio_device_is_a_host_check(void **state)
{
	struct oci_resources r;
	struct hull_err err = { 0 };

	assert_int_equal(parse("{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":4000,"
			       "\"minor\":4000,\"rate\":1}]}}", &r, &err), 0);
	assert_true(cg_check_blkio_devices(&r, "config.json: linux.resources", &err) < 0);
	assert_non_null(strstr(err.msg, "linux.resources.blockIO.throttleReadBpsDevice[0]"));
	spec_resources_clear(&r);
}

static void test_cpuset_check(void **state)
{
	struct hull_err err = { 0 };

	assert_int_equal(cg_check_cpuset("0-3", "f", "1,3", &err), 0);
	assert_int_equal(cg_check_cpuset("0-3", "f", "0-3", &err), 0);
	assert_true(cg_check_cpuset("0-1", "cpu.cpus", "0-2", &err) < 0);
	assert_non_null(strstr(err.msg, "cpu.cpus"));
	assert_true(cg_check_cpuset("0-3", "f", "3-1", &err) < 0);
	assert_true(cg_check_cpuset("0-3", "f", "x", &err) < 0);
	assert_true(cg_check_cpuset("0-3", "f", "1,", &err) < 0);
	assert_true(cg_check_cpuset("0-3", "f", "99999", &err) < 0);
	/* Unknown host list: left to the kernel. */
	assert_int_equal(cg_check_cpuset(NULL, "f", "5", &err), 0);
}

/* A fake cgroup directory: tmp/<leaf> with the named files (empty); returns the leaf path. */
static char *fake_cgroup(char *tmpl, const char *const *files)
{
	char *leaf;

	assert_non_null(mkdtemp(tmpl));
	leaf = xasprintf("%s/leaf", tmpl);
	assert_int_equal(mkdir(leaf, 0755), 0);
	for (size_t i = 0; files[i]; i++) {
		char *p = xasprintf("%s/%s", leaf, files[i]);
		int fd = open(p, O_CREAT | O_WRONLY, 0644);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "old\n", 4), 4);
		close(fd);
		free(p);
	}
	return leaf;
}

static char *slurp(const char *dir, const char *file)
{
	char buf[256];

	assert_int_equal(cg_read(dir, file, buf, sizeof(buf)), 0);
	return xstrdup(buf);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void test_v2_plan_conversions(void **state)
{
	static const char *const files[] = { "memory.max", "memory.swap.max", "memory.low",
					     "cpu.weight", "cpu.max", "pids.max", NULL };
	char tmpl[] = "/tmp/hull-cgtest.XXXXXX";
	struct cgroup_paths p = { .v2 = true };
	struct hull_err err = { 0 };
	struct oci_resources r;
	struct cg_plan plan = { 0 };
	char *got;

	p.dirs[CG_UNIFIED] = fake_cgroup(tmpl, files);
	assert_int_equal(parse("{\"memory\":{\"limit\":1000,\"swap\":3000,\"reservation\":500},"
			       "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":100000},"
			       "\"pids\":{\"limit\":-1}}",
			       &r, &err),
			 0);
	assert_int_equal(cgv2_plan(&p, &r, "w", &plan, &err), 0);
	for (size_t i = 0; i < plan.n; i++)
		assert_int_equal(cg_write_str(p.dirs[CG_UNIFIED], plan.w[i].file, plan.w[i].value), 0);
	got = slurp(p.dirs[CG_UNIFIED], "memory.swap.max");
	assert_string_equal(got, "2000"); /* v1's memory+swap minus memory */
	free(got);
	got = slurp(p.dirs[CG_UNIFIED], "cpu.weight");
	assert_string_equal(got, "39"); /* 1 + (1024 - 2) * 9999 / 262142 */
	free(got);
	got = slurp(p.dirs[CG_UNIFIED], "cpu.max");
	assert_string_equal(got, "50000 100000");
	free(got);
	got = slurp(p.dirs[CG_UNIFIED], "pids.max");
	assert_string_equal(got, "max");
	free(got);
	cg_plan_clear(&plan);
	spec_resources_clear(&r);

	/* Realtime limits and net_cls have no v2 files: an error naming the field. */
	assert_int_equal(parse("{\"cpu\":{\"realtimeRuntime\":100}}", &r, &err), 0);
	assert_true(cgv2_plan(&p, &r, "w", &plan, &err) < 0);
	assert_non_null(strstr(err.msg, "cpu.realtimeRuntime"));
	cg_plan_clear(&plan);
	spec_resources_clear(&r);
	/* A unified key without its file. */
	assert_int_equal(parse("{\"unified\":{\"io.nosuch\":\"1\"}}", &r, &err), 0);
	assert_true(cgv2_plan(&p, &r, "w", &plan, &err) < 0);
	assert_non_null(strstr(err.msg, "unified.io.nosuch"));
	cg_plan_clear(&plan);
	spec_resources_clear(&r);
	rm_rf(tmpl);
	cgroup_paths_clear(&p);
}

static void test_v1_plan_unified_refused(void **state)
{
	struct cgroup_paths p = { 0 };
	struct hull_err err = { 0 };
	struct oci_resources r;
	struct cg_plan plan = { 0 };

	assert_int_equal(parse("{\"unified\":{\"pids.max\":\"5\"}}", &r, &err), 0);
	assert_true(cgv1_plan(&p, &r, "config.json: linux.resources", &plan, &err) < 0);
	assert_non_null(strstr(err.msg, "linux.resources.unified"));
	spec_resources_clear(&r);
	/* A controller that is not mounted. */
	assert_int_equal(parse("{\"pids\":{\"limit\":5}}", &r, &err), 0);
	assert_true(cgv1_plan(&p, &r, "config.json: linux.resources", &plan, &err) < 0);
	assert_non_null(strstr(err.msg, "pids"));
	cg_plan_clear(&plan);
	spec_resources_clear(&r);
}

static void test_v1_plan_memory_and_devices(void **state)
{
	static const char *const files[] = { "memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
					     "memory.oom_control", NULL };
	char tmpl[] = "/tmp/hull-cgtest.XXXXXX";
	struct cgroup_paths p = { 0 };
	struct hull_err err = { 0 };
	struct oci_resources r;
	struct cg_plan plan = { 0 };
	json_t *v;
	size_t n_allow = 0;

	p.dirs[CG_MEMORY] = fake_cgroup(tmpl, files);
	p.dirs[CG_DEVICES] = xstrdup(p.dirs[CG_MEMORY]);
	v = js("{\"memory\":{\"limit\":-1,\"disableOOMKiller\":true},"
	       "\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
	       "{\"allow\":true,\"type\":\"b\",\"major\":8,\"access\":\"r\"}]}");
	assert_int_equal(spec_resources_parse(v, "config.json: linux.resources", &r, &err), 0);
	json_decref(v);
	assert_int_equal(cgv1_plan(&p, &r, "w", &plan, &err), 0);
	/* Unlimited memory means unlimited memory+swap too (runc). */
	assert_string_equal(plan.w[0].file, "memory.limit_in_bytes");
	assert_string_equal(plan.w[0].value, "-1");
	assert_string_equal(plan.w[1].file, "memory.memsw.limit_in_bytes");
	assert_string_equal(plan.w[1].value, "-1");
	assert_string_equal(plan.w[2].file, "memory.oom_control");
	/* deny-all first, then the config's rules (cgroup_create appends runc's defaults). */
	assert_string_equal(plan.w[3].file, "devices.deny");
	assert_string_equal(plan.w[3].value, "a");
	assert_string_equal(plan.w[4].file, "devices.deny");
	assert_string_equal(plan.w[4].value, "a *:* rwm");
	assert_string_equal(plan.w[5].file, "devices.allow");
	assert_string_equal(plan.w[5].value, "b 8:* r");
	for (size_t i = 6; i < plan.n; i++)
		n_allow += strcmp(plan.w[i].file, "devices.allow") == 0;
	assert_int_equal(n_allow, 0); /* the model holds only the config's rules */
	cg_plan_clear(&plan);
	spec_resources_clear(&r);
	rm_rf(tmpl);
	cgroup_paths_clear(&p);
}

static int update(const struct cgroup_paths *p, json_t *res, struct hull_err *err)
{
	struct oci_resources r;
	int rc = spec_resources_parse(res, "r.json: resources", &r, err);

	if (rc == 0)
		rc = cgroup_update(p, &r, "r.json: resources", err);
	spec_resources_clear(&r);
	return rc;
}

static void test_update_restores_on_failure(void **state)
{
	static const char *const files[] = { "memory.max", "pids.max", NULL };
	char tmpl[] = "/tmp/hull-cgtest.XXXXXX";
	struct cgroup_paths p = { .v2 = true };
	struct hull_err err = { 0 };
	json_t *res;
	char *path, *got;

	p.dirs[CG_UNIFIED] = fake_cgroup(tmpl, files);
	/* cpu.max as a directory: its write fails (EISDIR) after memory.max was written. */
	path = xasprintf("%s/cpu.max", p.dirs[CG_UNIFIED]);
	assert_int_equal(mkdir(path, 0755), 0);
	free(path);
	res = js("{\"memory\":{\"limit\":4096},\"cpu\":{\"quota\":20000},\"pids\":{\"limit\":3}}");
	assert_true(update(&p, res, &err) < 0);
	assert_non_null(strstr(err.msg, "r.json: resources.cpu.quota"));
	got = slurp(p.dirs[CG_UNIFIED], "memory.max");
	assert_string_equal(got, "old");
	free(got);
	got = slurp(p.dirs[CG_UNIFIED], "pids.max");
	assert_string_equal(got, "old");
	free(got);
	json_decref(res);
	/* Without the failing field everything is written. */
	res = js("{\"memory\":{\"limit\":4096},\"pids\":{\"limit\":3}}");
	assert_int_equal(update(&p, res, &err), 0);
	got = slurp(p.dirs[CG_UNIFIED], "memory.max");
	assert_string_equal(got, "4096");
	free(got);
	json_decref(res);
	rm_rf(tmpl);
	cgroup_paths_clear(&p);
}

static void test_paths_json_roundtrip(void **state)
{
	struct cgroup_paths p = { 0 }, q;
	struct hull_err err = { 0 };
	json_t *o, *bad;

	p.dirs[CG_MEMORY] = xstrdup("/sys/fs/cgroup/memory/x");
	p.dirs[CG_SYSTEMD] = xstrdup("/sys/fs/cgroup/systemd/x");
	p.dirs[CG_UNIFIED] = xstrdup("/sys/fs/cgroup/unified/x");
	o = cgroup_paths_to_json(&p);
	assert_int_equal(cgroup_paths_from_json(o, &q, &err), 0);
	assert_false(q.v2);
	assert_string_equal(q.dirs[CG_MEMORY], p.dirs[CG_MEMORY]);
	assert_string_equal(q.dirs[CG_SYSTEMD], p.dirs[CG_SYSTEMD]);
	assert_string_equal(q.dirs[CG_UNIFIED], p.dirs[CG_UNIFIED]);
	assert_null(q.dirs[CG_PIDS]);
	cgroup_paths_clear(&q);
	json_decref(o);
	bad = js("{\"v2\":false,\"paths\":{\"memory\":\"relative\"}}");
	assert_true(cgroup_paths_from_json(bad, &q, &err) < 0);
	json_decref(bad);
	bad = js("{\"v2\":false,\"paths\":{\"nosuch\":\"/x\"}}");
	assert_true(cgroup_paths_from_json(bad, &q, &err) < 0);
	json_decref(bad);
	cgroup_paths_clear(&p);
}

static void test_resolve(void **state)
{
	struct cgroup_paths p;
	struct hull_err err = { 0 };

	if (access("/sys/fs/cgroup", F_OK) < 0)
		skip();
	assert_int_equal(cgroup_paths_resolve("/a/../b", "id", &p, &err), 0);
	for (int c = 0; c < CG_COUNT; c++)
		if (p.dirs[c])
			assert_non_null(strstr(p.dirs[c], "/b"));
	cgroup_paths_clear(&p);
	/* ".." cannot climb above a hierarchy's root: it ends at the root, which is refused. */
	assert_true(cgroup_paths_resolve("/../..", "id", &p, &err) < 0);
	assert_non_null(strstr(err.msg, "linux.cgroupsPath"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_blkio_device_is_a_host_check),
		cmocka_unit_test(test_cpuset_check),
		cmocka_unit_test(test_v2_plan_conversions),
		cmocka_unit_test(test_v1_plan_unified_refused),
		cmocka_unit_test(test_v1_plan_memory_and_devices),
		cmocka_unit_test(test_update_restores_on_failure),
		cmocka_unit_test(test_paths_json_roundtrip),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
