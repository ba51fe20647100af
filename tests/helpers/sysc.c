/*
 * tests/helpers/sysc.c: makes one raw system call and prints what it returned, for the
 * seccomp tests of the engine (tests/integration/engine/test_engine_security.py).
 *   sysc NR [ARG...]   ARGs as strtoull base 0 ("0x20000"); at most 6
 * Prints "ok" or "errno N" and exits 0, so that the test reads the errno a filter gave.
 * For clone() (fork-like flags only), the child exits at once and the parent reaps it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long a[6] = { 0 };
	long nr, r;

	if (argc < 2 || argc > 8) {
		fprintf(stderr, "usage: sysc NR [ARG...]\n");
		return 2;
	}
	nr = strtol(argv[1], NULL, 0);
	for (int i = 2; i < argc; i++)
		a[i - 2] = strtoull(argv[i], NULL, 0);
	r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (r < 0) {
		printf("errno %d\n", errno);
		return 0;
	}
	if (nr == SYS_clone && r == 0)
		_exit(0);
	if (nr == SYS_clone)
		(void)waitpid((pid_t)r, NULL, __WALL);
	printf("ok\n");
	return 0;
}
