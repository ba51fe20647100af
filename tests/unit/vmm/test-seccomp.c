/*
 * The VMM's seccomp tables (src/vmm/seccomp.c): each thread kind's filter loads at levels 1
 * and 2, lets the thread do what its kind does, and kills the process on a syscall outside
 * its table. Each case runs in a forked child (a filter cannot be taken off).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/seccomp.h"
#include "vmm/vmm.h"

enum probe {
	PROBE_ALLOWED,    /* a pipe write, a clock read, an anonymous mapping */
	PROBE_OPEN,       /* openat: no kind may open files */
	PROBE_EXEC_MAP,   /* mmap with PROT_EXEC: no new code (level 2) */
	PROBE_BAD_IOCTL,  /* an ioctl request outside the tables (level 2) */
	PROBE_SOCKET,     /* socket: none after the build */
	PROBE_TAP_OPEN,   /* openat with the tap's flags (--hotplug's main thread) */
	PROBE_DGRAM_UNIX, /* if_nametoindex's socket (--hotplug's main thread) */
};

static bool with_hotplug; /* the children's vm_config.hotplug */

/* The child's status after it installs kind's filter at level and runs probe. */
static int run_child(enum vmm_thread_kind kind, unsigned level, enum probe probe)
{
	struct vm_config cfg;
	int st = 0, fds[2];
	pid_t pid;

	vm_config_init(&cfg);
	cfg.seccomp_level = level;
	cfg.hotplug = with_hotplug;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts;
		void *p;

		if (vmm_seccomp_install(&cfg, kind) < 0)
			_exit(2);
		switch (probe) {
		case PROBE_ALLOWED:
			(void)clock_gettime(CLOCK_MONOTONIC, &ts);
			p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				 0);
			if (p == MAP_FAILED || write(fds[1], "x", 1) != 1)
				_exit(3);
			break;
		case PROBE_OPEN:
			(void)syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
			break;
		case PROBE_EXEC_MAP:
			(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			break;
		case PROBE_BAD_IOCTL:
			(void)ioctl(fds[0], TIOCSTI, "x");
			break;
		case PROBE_SOCKET:
			(void)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
			break;
		case PROBE_TAP_OPEN:
			(void)syscall(SYS_openat, AT_FDCWD, "/dev/null",
				      O_RDWR | O_NONBLOCK | O_CLOEXEC);
			break;
		case PROBE_DGRAM_UNIX:
			(void)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			break;
		}
		_exit(0);
	}
	(void)close(fds[0]);
	(void)close(fds[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void assert_killed(int st)
{
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/*
 * Under AddressSanitizer the sanitizer's runtime makes syscalls of its own (its allocator and
 * interceptors) that no VMM table lists, so a filtered child may die of SIGSYS doing only
 * allowed work: there only the refusals are checked (the CI's -Werror build checks both).
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static void assert_exit0(int st)
{
	if (SANITIZED)
		return;
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_every_kind_every_level(void **state)
{
	(void)state;
	for (unsigned k = 0; k < VMM_THREAD_KIND_COUNT; k++)
		for (unsigned level = 1; level <= 2; level++) {
			int open_st = run_child((enum vmm_thread_kind)k, level, PROBE_OPEN);

			assert_exit0(run_child((enum vmm_thread_kind)k, level, PROBE_ALLOWED));
			assert_killed(run_child((enum vmm_thread_kind)k, level, PROBE_SOCKET));
			/* the main thread may create a snapshot's files (openat with O_CREAT|O_EXCL,
			 * the flags checked at level 2 only): opening "/" is refused at level 2 */
			if (k == VMM_THREAD_MAIN && level == 1)
				assert_exit0(open_st);
			else
				assert_killed(open_st);
		}
}

static void test_arguments_checked_at_level_2(void **state)
{
	(void)state;
	for (unsigned k = 0; k < VMM_THREAD_KIND_COUNT; k++) {
		assert_killed(run_child((enum vmm_thread_kind)k, 2, PROBE_EXEC_MAP));
		assert_killed(run_child((enum vmm_thread_kind)k, 2, PROBE_BAD_IOCTL));
		/* level 1: the syscall numbers only */
		assert_exit0(run_child((enum vmm_thread_kind)k, 1, PROBE_EXEC_MAP));
	}
}

/* --hotplug: the main thread's additions (hotplug_rules), and nothing more or elsewhere */
static void test_hotplug_additions(void **state)
{
	(void)state;
	assert_killed(run_child(VMM_THREAD_MAIN, 2, PROBE_TAP_OPEN));
	assert_killed(run_child(VMM_THREAD_MAIN, 2, PROBE_DGRAM_UNIX));
	with_hotplug = true;
	assert_exit0(run_child(VMM_THREAD_MAIN, 2, PROBE_ALLOWED));
	assert_exit0(run_child(VMM_THREAD_MAIN, 2, PROBE_TAP_OPEN));
	assert_exit0(run_child(VMM_THREAD_MAIN, 2, PROBE_DGRAM_UNIX));
	assert_killed(run_child(VMM_THREAD_MAIN, 2, PROBE_SOCKET));
	assert_killed(run_child(VMM_THREAD_MAIN, 2, PROBE_OPEN));
	assert_killed(run_child(VMM_THREAD_VCPU, 2, PROBE_DGRAM_UNIX));
	assert_killed(run_child(VMM_THREAD_IO, 2, PROBE_TAP_OPEN));
	assert_killed(run_child(VMM_THREAD_VCPU, 1, PROBE_DGRAM_UNIX));
	with_hotplug = false;
}

static void test_level_0_filters_nothing(void **state)
{
	(void)state;
	assert_exit0(run_child(VMM_THREAD_MAIN, 0, PROBE_OPEN));
	assert_exit0(run_child(VMM_THREAD_VCPU, 0, PROBE_SOCKET));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_every_level),
		cmocka_unit_test(test_arguments_checked_at_level_2),
		cmocka_unit_test(test_level_0_filters_nothing),
		cmocka_unit_test(test_hotplug_additions),
	};

	/* seccomp without CAP_SYS_ADMIN needs it; the VMM sets it in vmm_run */
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
