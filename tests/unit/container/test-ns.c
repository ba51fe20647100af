/*
 * Unit tests for src/container/ns.c's joins used by exec: ns_differing() and
 * ns_join_process(), with a pidfd and through the /proc/<pid>/ns fallback (root only: a
 * child in new uts and ipc namespaces is joined from another child).
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
#include <string.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differing_and_joins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
