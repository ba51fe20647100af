/*
 * hull-oci-wait: what a created container runs until `start` (docs/runtime.md, "The exec
 * fifo and /proc/self/exe"). A few hundred bytes of freestanding x86-64 code that the
 * container init copies into a sealed memfd and execs, so that while the container waits its
 * /proc/<pid>/exe is this sealed copy, never the hull-oci binary on the host
 * (CVE-2019-5736), without copying the whole runtime as runc does.
 *
 * argv: [name, fifo fd, program path, program argv...]; envp: the program's environment.
 * It blocks until the exec fifo becomes readable, reads the byte `start` wrote, closes the
 * fifo and execs the program. No libc: built -nostdlib -static.
 */
#include <asm/unistd.h>

static long sys3(long n, long a, long b, long c)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return r;
}

static void __attribute__((noreturn)) die(const char *msg, long len, int code)
{
	(void)sys3(__NR_write, 2, (long)msg, len);
	for (;;)
		(void)sys3(__NR_exit_group, code, 0, 0);
}

#define DIE(msg, code) die(msg, sizeof(msg) - 1, code)

struct wait_pollfd {
	int fd;
	short events;
	short revents;
};

void waiter_main(long *sp) __attribute__((noreturn, used));
void waiter_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	struct wait_pollfd p = { .fd = 0, .events = 1 /* POLLIN */ };
	char c;
	long r;

	if (argc < 4)
		DIE("hull-oci-wait: bad arguments\n", 127);
	for (const char *s = argv[1]; *s; s++)
		p.fd = p.fd * 10 + (*s - '0');
	do
		r = sys3(__NR_poll, (long)&p, 1, -1);
	while (r == -4 /* EINTR */);
	if (sys3(__NR_read, p.fd, (long)&c, 1) != 1)
		DIE("", 1); /* the fifo closed without a start: give up quietly */
	/* Close-on-exec rather than close: `start` waits for the fifo's last reader to go,
	 * which is then the moment the program replaces us. */
	(void)sys3(__NR_fcntl, p.fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
	(void)sys3(__NR_execve, (long)argv[2], (long)&argv[3], (long)envp);
	DIE("hull-oci: exec of the container process failed\n", 127);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call waiter_main\n"
	"	hlt\n");
