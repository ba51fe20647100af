/*
 * Unit tests for src/container/ns.c's joins used by exec: ns_differing() and
 * ns_join_process(), with a pidfd and through the /proc/<pid>/ns fallback (root only: a
 * child in new uts and ipc namespaces is joined from another child); the results of create's
 * ns_*_enter_for_children().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container/ns.h"

/* A child in new uts and ipc namespaces with hostname "hull-ns-test", waiting on a pipe. */
static pid_t ns_child(int *ret_wr)
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
		if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) < 0 ||
		    sethostname("hull-ns-test", 12) < 0)
			_exit(1);
		(void)close(ready[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(0);
	}
	(void)close(go[0]);
	(void)close(ready[1]);
	assert_true(read(ready[0], &c, 1) >= 0); /* EOF once it has unshared */
	(void)close(ready[0]);
	*ret_wr = go[1];
	return pid;
}

/* In a forked process: join target's namespaces through fd, report its hostname's match. */
static int join_and_check(int fd, pid_t target, int flags)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct hull_err err = { 0 };
		char name[64] = "";

		if (ns_join_process(fd, target, flags, &err) < 0)
			_exit(10);
		if (gethostname(name, sizeof(name)) < 0 || strcmp(name, "hull-ns-test") != 0)
			_exit(11);
		/* ipc was not asked for: still ours */
		_exit(ns_differing(getppid()) & CLONE_NEWIPC ? 12 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void test_differing_and_joins(void **state)
{
	int wr, pidfd, nullfd, flags;
	pid_t child;

	if (geteuid() != 0)
		skip();
	child = ns_child(&wr);
	flags = ns_differing(child);
	assert_true(flags >= 0);
	assert_int_equal(flags & (CLONE_NEWUTS | CLONE_NEWIPC), CLONE_NEWUTS | CLONE_NEWIPC);
	assert_int_equal(flags & (CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUSER), 0);
	assert_int_equal(ns_differing(getpid()), 0);
	/* a pidfd: one setns() */
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	assert_true(pidfd >= 0);
	assert_int_equal(join_and_check(pidfd, child, CLONE_NEWUTS), 0);
	/* not a pidfd (what a kernel before 5.8 says of one): /proc/<pid>/ns/uts */
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(nullfd >= 0);
	assert_int_equal(join_and_check(nullfd, child, CLONE_NEWUTS), 0);
	(void)close(nullfd);
	(void)close(wr);
	assert_int_equal(waitpid(child, NULL, 0), child);
	/* the target is gone: a clear error, not a join */
	{
		struct hull_err err = { 0 };

		assert_true(ns_join_process(pidfd, child, CLONE_NEWUTS, &err) < 0);
		assert_true(err.msg[0] != '\0');
	}
	(void)close(pidfd);
}

/* In this (forked) process: setns(2) and unshare(2) fail with EPERM (x86-64 only). */
static void deny_ns_syscalls(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(f), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(90);
}

/*
 * ns_pid_enter_for_children() and ns_time_enter_for_children(): 0 and no fd when config.json
 * asks for nothing; a negative errno and no fd on failure, EPERM (-1) included: the value
 * that once also meant "nothing to do".
 */
static void test_enter_for_children_results(void **state)
{
	struct oci_spec s = { 0 };
	struct hull_err err = { 0 };
	int saved = 7, status, r;
	pid_t pid;

	(void)state;
	assert_int_equal(ns_pid_enter_for_children(&s, &saved, &err), 0);
	assert_int_equal(saved, -1);
	saved = 7;
	assert_int_equal(ns_time_enter_for_children(&s, &saved, &err), 0);
	assert_int_equal(saved, -1);
	s.ns[OCI_NS_PID].present = true;
	s.ns[OCI_NS_PID].path = (char *)"/nonexistent/ns/pid";
	saved = 7;
	assert_int_equal(ns_pid_enter_for_children(&s, &saved, &err), -ENOENT);
	assert_int_equal(saved, -1);
	assert_non_null(strstr(err.msg, "/nonexistent/ns/pid"));
	if (geteuid() != 0 || access("/proc/self/ns/time", F_OK) < 0)
		return;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		deny_ns_syscalls();
		s.ns[OCI_NS_PID].path = (char *)"/proc/self/ns/pid";
		hull_err_clear(&err);
		r = ns_pid_enter_for_children(&s, &saved, &err);
		if (r != -EPERM || saved != -1 || err.code != EPERM) {
			fprintf(stderr, "pid: %d %d %s\n", r, saved, err.msg);
			_exit(1);
		}
		s.ns[OCI_NS_PID].present = false;
		s.ns[OCI_NS_TIME].present = true;
		hull_err_clear(&err);
		if (ns_time_enter_for_children(&s, &saved, &err) != -EPERM || saved != -1 ||
		    !strstr(err.msg, "new time namespace"))
			_exit(2);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differing_and_joins),
		cmocka_unit_test(test_enter_for_children_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
