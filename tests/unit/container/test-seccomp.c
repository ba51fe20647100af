/*
 * Unit tests for src/container/seccomp.c: parse errors name the field, and the built filter
 * behaves as the profile says, checked by installing it in a forked child (under
 * no_new_privs: no privilege needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/seccomp.h"

/* The model parses linux.seccomp, the container code builds the filter from it. */
static int cached(json_t *j, int dfd, struct seccomp_filter *f, struct hull_err *err)
{
	struct oci_seccomp *sec = NULL;
	int r;

	*f = (struct seccomp_filter){ 0 };
	if ((r = spec_seccomp_parse(j, "config.json: linux.seccomp", &sec, err)) < 0)
		return r;
	r = seccomp_filter_build_cached(sec, "config.json: linux.seccomp", dfd, f, err);
	spec_seccomp_free(sec);
	return r;
}

static int build(const char *json, struct seccomp_filter *f, struct hull_err *err)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je);
	int r;

	assert_non_null(j);
	r = cached(j, -1, f, err);
	json_decref(j);
	return r;
}

static void expect_error(const char *json, const char *msg)
{
	struct seccomp_filter f;
	struct hull_err err = { 0 };

	assert_true(build(json, &f, &err) < 0);
	assert_string_equal(err.msg, msg);
	assert_null(f.insns);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
		     "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"mkdir\"],"
		     "\"action\":\"SCMP_ACT_FOO\"}]}",
		     "config.json: linux.seccomp.syscalls[1].action: unknown action "
		     "\"SCMP_ACT_FOO\"");
	expect_error("{\"defaultAction\":\"KILL\"}",
		     "config.json: linux.seccomp.defaultAction: unknown action \"KILL\"");
	expect_error("{\"syscalls\":[]}",
		     "config.json: linux.seccomp.defaultAction: required field is missing");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86\","
		     "\"SCMP_ARCH_PDP11\"]}",
		     "config.json: linux.seccomp.architectures[1]: unknown architecture "
		     "\"SCMP_ARCH_PDP11\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_X\"]}",
		     "config.json: linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_X\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
		     "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,"
		     "\"op\":\"SCMP_CMP_APPROX\"}]}]}",
		     "config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator "
		     "\"SCMP_CMP_APPROX\"");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
		     "\"action\":\"SCMP_ACT_KILL\",\"errnoRet\":3}]}",
		     "config.json: linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL takes no "
		     "errnoRet");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
		     "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
		     "config.json: linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listener");
	expect_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[7]}",
		     "config.json: linux.seccomp.syscalls[0]: expected an object, got integer");
}

/* Fork, install f under no_new_privs, run fn; the child's wait status. */
static int in_child(const struct seccomp_filter *f, int (*fn)(void))
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    seccomp_filter_install(f, NULL) < 0)
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int do_getppid(void)
{
	long r = syscall(SYS_getppid);

	return r < 0 ? errno : 0;
}

/* kill(0, sig) for 0 and SIGURG (ignored by default): errno or 0, encoded in two nibbles */
static int do_kills(void)
{
	int a = syscall(SYS_kill, 0, 0) < 0 ? errno : 0;
	int b = syscall(SYS_kill, 0, SIGURG) < 0 ? errno : 0;
	int c = syscall(SYS_kill, 0, SIGWINCH) < 0 ? errno : 0;

	return (a ? 1 : 0) | (b ? 2 : 0) | (c ? 4 : 0);
}

static void run_profile(const char *json, int (*fn)(void), int want_status)
{
	struct seccomp_filter f;
	struct hull_err err = { 0 };
	int st;

	assert_int_equal(build(json, &f, &err), 0);
	assert_non_null(f.insns);
	st = in_child(&f, fn);
	seccomp_filter_clear(&f);
	assert_int_equal(st, want_status);
}

#define EXITED(n) ((n) << 8)

static void test_actions(void **state)
{
	(void)state;
	/* errnoRet, default EPERM */
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"getppid\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":33}]}",
		    do_getppid, EXITED(33));
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"getppid\",\"no_such_call\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
		    do_getppid, EXITED(EPERM));
	/* default ERRNO with defaultErrnoRet; exit_group allowed, and what the sanitizer
	 * runtimes may call on the way out */
	run_profile("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":42,"
		    "\"syscalls\":[{\"names\":[\"exit_group\",\"exit\",\"mmap\",\"munmap\","
		    "\"mprotect\",\"madvise\",\"write\",\"rt_sigaction\",\"rt_sigprocmask\","
		    "\"sigaltstack\",\"futex\",\"getpid\",\"gettid\",\"tgkill\",\"brk\","
		    "\"prctl\",\"sched_yield\",\"openat\",\"read\",\"close\"],"
		    "\"action\":\"SCMP_ACT_ALLOW\"}]}",
		    do_getppid, EXITED(42));
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"getppid\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
		    do_getppid, SIGSYS);
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"getppid\"],\"action\":\"SCMP_ACT_LOG\"}]}",
		    do_getppid, EXITED(0));
	/* TRACE without a tracer: ENOSYS */
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
		    "[\"getppid\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":5}]}",
		    do_getppid, EXITED(ENOSYS));
}

static void test_args(void **state)
{
	(void)state;
	/* same index twice: separate rules, either matches (OR) */
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
		    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
		    "{\"index\":1,\"value\":23,\"op\":\"SCMP_CMP_EQ\"},"
		    "{\"index\":1,\"value\":28,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		    do_kills, EXITED(2 | 4));
	/* different indices: AND (pid 0 and sig >= 20: SIGURG 23 and SIGWINCH 28) */
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
		    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
		    "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
		    "{\"index\":1,\"value\":20,\"op\":\"SCMP_CMP_GE\"}]}]}",
		    do_kills, EXITED(2 | 4));
	/* masked: sig & 0x4 == 0x4 → 28 (0b11100) refused, 23 (0b10111) too, 0 not */
	run_profile("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"kill\"],"
		    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":["
		    "{\"index\":1,\"value\":8,\"valueTwo\":8,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
		    do_kills, EXITED(4));
}

static void test_flags_and_listener(void **state)
{
	struct seccomp_filter f;
	struct hull_err err = { 0 };
	char *msg;

	(void)state;
	assert_int_equal(build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":["
			       "\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\"],"
			       "\"listenerPath\":\"/run/agent.sock\",\"listenerMetadata\":\"m\","
			       "\"syscalls\":[{\"names\":[\"mkdir\"],"
			       "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
			       &f, &err),
			 0);
	assert_true(f.notify);
	/* TSYNC dropped (it needs TSYNC_ESRCH with a listener), NEW_LISTENER added */
	assert_int_equal(f.flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_NEW_LISTENER);
	assert_string_equal(f.listener_path, "/run/agent.sock");
	msg = seccomp_listener_message(&f, "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\","
					   "\"status\":\"creating\",\"pid\":42,\"bundle\":\"/b\"}");
	assert_string_equal(msg, "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":42,"
				 "\"metadata\":\"m\",\"state\":{\"ociVersion\":\"1.0.2\","
				 "\"id\":\"c1\",\"status\":\"creating\",\"pid\":42,"
				 "\"bundle\":\"/b\"}}");
	free(msg);
	seccomp_filter_clear(&f);
}

static void test_cache(void **state)
{
	static const char prof[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":"
				   "\"/x.sock\",\"syscalls\":[{\"names\":[\"mkdir\"],"
				   "\"action\":\"SCMP_ACT_NOTIFY\"}]}";
	char dir[] = "/tmp/hull-scmp-XXXXXX";
	json_t *j = json_loads(prof, 0, NULL);
	struct seccomp_filter a, b;
	struct hull_err err = { 0 };
	int dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(cached(j, dfd, &a, &err), 0); /* miss */
	assert_int_equal(cached(j, dfd, &b, &err), 0); /* hit */
	assert_int_equal(a.n_insns, b.n_insns);
	assert_memory_equal(a.insns, b.insns, a.n_insns * sizeof(*a.insns));
	assert_true(b.notify);
	assert_int_equal(b.flags, a.flags);
	assert_string_equal(b.listener_path, "/x.sock");
	seccomp_filter_clear(&a);
	seccomp_filter_clear(&b);
	/* a bad profile is an error even though another profile is cached */
	json_object_set_new(j, "defaultAction", json_string("nope"));
	assert_true(cached(j, dfd, &a, &err) < 0);
	json_decref(j);
	close(dfd);
	{
		DIR *d = opendir(dir);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		assert_int_equal(rmdir(dir), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_flags_and_listener),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
