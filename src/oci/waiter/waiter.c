/*
 * hull-oci-wait: what a created container runs until `start` (docs/runtime.md, "The exec
 * fifo and /proc/self/exe"). A few hundred bytes of freestanding x86-64 code that the
 * container init copies into a sealed memfd and execs, so that while the container waits its
 * /proc/<pid>/exe is this sealed copy, never the hull-oci binary on the host
 * (CVE-2019-5736), without copying the whole runtime as runc does.
 *
 * See below for its arguments.
 */
#include <asm/unistd.h>

#include "plan.h"

/*
 * argv: [name, fifo fd, plan fd or -1, program path, program argv...]; envp: the program's
 * environment. It blocks until the exec fifo becomes readable, reads the byte `start`
 * wrote, applies the plan (plan.h: the seccomp filter, as late as possible) and execs the
 * program. With name WAITER_EXEC_NAME it is exec's last step instead (plan.h, "exec mode").
 * No libc: built -nostdlib -static.
 */

static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

#define sys3(n, a, b, c) sys6(n, a, b, c, 0, 0, 0)

static void __attribute__((noreturn)) die(const char *msg, long len, int code)
{
	(void)sys3(__NR_write, 2, (long)msg, len);
	for (;;)
		(void)sys3(__NR_exit_group, code, 0, 0);
}

#define DIE(msg, code) die(msg, sizeof(msg) - 1, code)

/*
 * A failure: in exec mode (rfd >= 0) reported to the runtime over the sync socket, which
 * names it; for the init, a line on stderr. r is the syscall's -errno.
 */
static void __attribute__((noreturn)) fail(long rfd, int step, long r, const char *msg,
					   long len)
{
	struct waiter_report m = { WAITER_SYNC_ERR, 8, step, (int)-r };

	if (rfd < 0)
		die(msg, len, 127);
	(void)sys6(__NR_sendto, rfd, (long)&m, sizeof(m), 0x4000 /* MSG_NOSIGNAL */, 0, 0);
	for (;;)
		(void)sys3(__NR_exit_group, 127, 0, 0);
}

#define FAIL(rfd, step, r, msg) fail(rfd, step, r, msg, sizeof(msg) - 1)

struct wait_pollfd {
	int fd;
	short events;
	short revents;
};

/* The plan: header, BPF, message, in anonymous memory (mapped by read_plan): no .bss, so
 * that the program keeps its single read-execute segment. */
union waiter_plan_buf {
	struct waiter_plan h;
	unsigned char bytes[sizeof(struct waiter_plan) + WAITER_PLAN_MAX_INSNS * 8 +
			    WAITER_PLAN_MAX_MSG];
};
/* Each function below takes the mapped buffer as planp: no writable global either. */
#define plan (*planp)

static long parse_fd(const char *s)
{
	long v = 0;

	if (*s == '-')
		return -1;
	for (; *s; s++)
		v = v * 10 + (*s - '0');
	return v;
}

static union waiter_plan_buf *read_plan(long fd, long rfd)
{
	union waiter_plan_buf *planp;
	unsigned long off = 0;
	long r;

	r = sys6(__NR_mmap, 0, sizeof(plan), 3 /* PROT_READ|WRITE */,
		 0x22 /* MAP_PRIVATE|ANONYMOUS */, -1, 0);
	if (r < 0 && r > -4096)
		FAIL(rfd, WAITER_STEP_PLAN, r, "hull-oci: no memory for the waiter plan\n");
	planp = (union waiter_plan_buf *)r;
	do {
		r = sys3(__NR_read, fd, (long)(plan.bytes + off), (long)(sizeof(plan) - off));
		if (r > 0)
			off += (unsigned long)r;
	} while ((r > 0 || r == -4) && off < sizeof(plan));
	(void)sys3(__NR_close, fd, 0, 0);
	if (r < 0 || off < sizeof(plan.h) || plan.h.magic != WAITER_PLAN_MAGIC ||
	    plan.h.n_insns > WAITER_PLAN_MAX_INSNS || plan.h.msg_len > WAITER_PLAN_MAX_MSG ||
	    off < sizeof(plan.h) + plan.h.n_insns * 8UL + plan.h.msg_len)
		FAIL(rfd, WAITER_STEP_PLAN, r < 0 ? r : -22 /* EINVAL */,
		     "hull-oci: bad waiter plan\n");
	return planp;
}

struct cap_header {
	unsigned int version;
	int pid;
};

struct cap_data {
	unsigned int effective, permitted, inheritable;
};

/* Give up the capabilities kept for loading the filter (plan.h), in ambient and inheritable. */
static void drop_kept_caps(const union waiter_plan_buf *planp, long rfd)
{
	struct cap_header hdr = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
	struct cap_data d[2];

	for (int i = 0; i < 64; i++)
		if (((plan.h.keep[i / 32] & ~plan.h.ambient[i / 32]) >> (i % 32)) & 1)
			(void)sys6(__NR_prctl, 47 /* PR_CAP_AMBIENT */, 3 /* _LOWER */, i, 0, 0, 0);
	long r = sys3(__NR_capget, (long)&hdr, (long)d, 0);

	if (r < 0)
		FAIL(rfd, WAITER_STEP_CAPS, r, "hull-oci: capget failed\n");
	d[0].inheritable = plan.h.inheritable[0];
	d[1].inheritable = plan.h.inheritable[1];
	if ((r = sys3(__NR_capset, (long)&hdr, (long)d, 0)) < 0)
		FAIL(rfd, WAITER_STEP_CAPS, r, "hull-oci: capset failed\n");
}

struct w_iovec {
	void *base;
	unsigned long len;
};

struct w_msghdr {
	void *name;
	int namelen;
	struct w_iovec *iov;
	unsigned long iovlen;
	void *control;
	unsigned long controllen;
	int flags;
};

/* Send the notify fd with the container process state to the listener (SCM_RIGHTS). */
static void send_listener(union waiter_plan_buf *planp, long nfd, long rfd)
{
	struct w_iovec iov = { plan.bytes + sizeof(plan.h) + plan.h.n_insns * 8UL,
			       plan.h.msg_len };
	/* struct cmsghdr { size_t len; int level; int type; } then the int, 8-aligned. */
	unsigned long cbuf[3] = { 20, 1 /* SOL_SOCKET */ | (1UL /* SCM_RIGHTS */ << 32),
				  (unsigned long)(unsigned int)nfd };
	struct w_msghdr m = { 0, 0, &iov, 1, cbuf, sizeof(cbuf), 0 };
	unsigned long sent = 0;
	long r;

	r = sys3(__NR_sendmsg, plan.h.listener_fd, (long)&m, 0x4000 /* MSG_NOSIGNAL */);
	if (r < 0)
		FAIL(rfd, WAITER_STEP_LISTENER, r,
		     "hull-oci: send the seccomp notify fd to the listener failed\n");
	/* A short first write: the rest of the message without the fd. */
	for (sent = (unsigned long)r; sent < plan.h.msg_len; sent += (unsigned long)r) {
		r = sys3(__NR_write, plan.h.listener_fd, (long)((char *)iov.base + sent),
			 (long)(plan.h.msg_len - sent));
		if (r <= 0)
			FAIL(rfd, WAITER_STEP_LISTENER, r < 0 ? r : -32 /* EPIPE */,
			     "hull-oci: send the seccomp state to the listener failed\n");
	}
	(void)sys3(__NR_close, nfd, 0, 0);
	(void)sys3(__NR_close, plan.h.listener_fd, 0, 0);
}

static void apply_plan(union waiter_plan_buf *planp, long rfd)
{
	struct {
		unsigned short len;
		void *filter;
	} prog = { (unsigned short)plan.h.n_insns, plan.bytes + sizeof(plan.h) };
	long r;

	if (plan.h.keep[0] | plan.h.keep[1])
		drop_kept_caps(planp, rfd);
	if (plan.h.n_insns) {
		r = sys3(__NR_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, plan.h.seccomp_flags,
			 (long)&prog);
		if (r < 0)
			FAIL(rfd, WAITER_STEP_SECCOMP, r,
			     "hull-oci: config.json: linux.seccomp: loading the filter failed\n");
	} else if (plan.h.flags & WAITER_PLAN_NOTIFY_FD) {
		r = plan.h.notify_fd;
	} else {
		return;
	}
	/* From here on every syscall goes through the filter: only sendmsg/write/close (with a
	 * listener) and the execve below remain. */
	if (plan.h.listener_fd >= 0 && r > 0)
		send_listener(planp, r, rfd);
}

static int is_exec_mode(const char *name)
{
	const char *want = WAITER_EXEC_NAME;

	while (*name && *name == *want)
		name++, want++;
	return *name == *want;
}

/*
 * exec (plan.h, "exec mode"). We run in the container's namespaces and root but still in
 * the caller's pid namespace, which the container cannot see; the child we fork is the first
 * process of this exec that it can, and it is born non-dumpable, with this sealed copy as
 * its exe, the container's root and cwd and no fd of the host's.
 */
static void __attribute__((noreturn)) exec_main(char **argv, char **envp)
{
	long sync_fd = parse_fd(argv[1]), plan_fd = parse_fd(argv[2]);
	long notify_fd = parse_fd(argv[3]);
	union waiter_plan_buf *planp;
	struct {
		unsigned int type, len;
		int pid;
	} ready = { WAITER_SYNC_READY, 4, 0 };
	char go[16];
	long r;

	(void)sys6(__NR_prctl, 4 /* PR_SET_DUMPABLE */, 0, 0, 0, 0, 0);
	/* The runtime's child, not ours: it reaps it and signals it by pid. */
	r = sys6(__NR_clone, 0x8000 /* CLONE_PARENT */ | 17 /* SIGCHLD */, 0, 0, 0, 0, 0);
	if (r < 0)
		FAIL(sync_fd, WAITER_STEP_CLONE, r, "");
	if (r > 0) {
		ready.pid = (int)r;
		(void)sys6(__NR_sendto, sync_fd, (long)&ready, sizeof(ready), 0x4000, 0, 0);
		for (;;)
			(void)sys3(__NR_exit_group, 0, 0, 0);
	}
	/* "1": the plan needs our pid; wait for the message saying it is written. */
	if (argv[4][0] == '1') {
		do
			r = sys3(__NR_read, sync_fd, (long)go, sizeof(go));
		while (r == -4 /* EINTR */);
		if (r <= 0)
			DIE("", 1); /* the runtime gave up on us */
	}
	/* EOF there tells the runtime that the program runs. */
	(void)sys3(__NR_fcntl, sync_fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
	planp = read_plan(plan_fd, sync_fd);
	if (notify_fd >= 0) {
		plan.h.flags |= WAITER_PLAN_NOTIFY_FD;
		plan.h.notify_fd = (int)notify_fd;
	}
	if ((plan.h.flags & WAITER_PLAN_SETSID) && (r = sys3(__NR_setsid, 0, 0, 0)) < 0)
		FAIL(sync_fd, WAITER_STEP_SETSID, r, "");
	if ((plan.h.flags & WAITER_PLAN_CTTY) &&
	    (r = sys3(__NR_ioctl, 0, 0x540E /* TIOCSCTTY */, 0)) < 0)
		FAIL(sync_fd, WAITER_STEP_CTTY, r, "");
	if ((plan.h.flags & WAITER_PLAN_NPROC) &&
	    (r = sys6(__NR_prlimit64, 0, 6 /* RLIMIT_NPROC */, (long)plan.h.nproc, 0, 0, 0)) < 0)
		FAIL(sync_fd, WAITER_STEP_RLIMIT, r, "");
	apply_plan(planp, sync_fd);
	r = sys3(__NR_execve, (long)argv[5], (long)&argv[6], (long)envp);
	FAIL(sync_fd, WAITER_STEP_EXEC, r, "");
}

struct w_iovec_c {
	const void *base;
	unsigned long len;
};

static unsigned long str_len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

/* Go's (so runc's) wording of the errors an execve(2) can give; "" for a rare one. */
static const char *exec_strerror(long e)
{
	switch (e) {
	case 2: return "no such file or directory"; /* ENOENT */
	case 8: return "exec format error";         /* ENOEXEC */
	case 13: return "permission denied";        /* EACCES */
	case 20: return "not a directory";          /* ENOTDIR */
	case 21: return "is a directory";           /* EISDIR */
	case 7: return "argument list too long";    /* E2BIG */
	case 12: return "cannot allocate memory";   /* ENOMEM */
	case 26: return "text file busy";           /* ETXTBSY */
	case 36: return "file name too long";       /* ENAMETOOLONG */
	case 40: return "too many levels of symbolic links"; /* ELOOP */
	case 1: return "operation not permitted";   /* EPERM */
	case 5: return "input/output error";        /* EIO */
	default: return "exec failed";
	}
}

/*
 * The execve of path failed with -r: say why in runc's words ("exec /s/run.sh: no such
 * file or directory", one write) and exit as docker does: 127 for a missing file (or
 * interpreter), 126 for one that cannot be executed.
 */
static void __attribute__((noreturn)) exec_failed(const char *path, long r)
{
	const char *why = exec_strerror(-r);
	struct w_iovec_c iov[5] = {
		{ "exec ", 5 }, { path, str_len(path) }, { ": ", 2 }, { why, str_len(why) },
		{ "\n", 1 },
	};

	(void)sys3(__NR_writev, 2, (long)iov, 5);
	for (;;)
		(void)sys3(__NR_exit_group, r == -2 ? 127 : 126, 0, 0);
}

void waiter_main(long *sp) __attribute__((noreturn, used));
void waiter_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	struct wait_pollfd p = { .fd = 0, .events = 1 /* POLLIN */ };
	long plan_fd;
	char c;
	long r;

	if (argc < 5 || (is_exec_mode(argv[0]) && argc < 7))
		DIE("hull-oci-wait: bad arguments\n", 127);
	if (is_exec_mode(argv[0]))
		exec_main(argv, envp);
	p.fd = (int)parse_fd(argv[1]);
	plan_fd = parse_fd(argv[2]);
	do
		r = sys3(__NR_poll, (long)&p, 1, -1);
	while (r == -4 /* EINTR */);
	if (sys3(__NR_read, p.fd, (long)&c, 1) != 1)
		DIE("", 1); /* the fifo closed without a start: give up quietly */
	/* Close-on-exec rather than close: `start` waits for the fifo's last reader to go,
	 * which is then the moment the program replaces us (or this process dies, e.g. of a
	 * seccomp kill on execve: `start` returns then too). */
	(void)sys3(__NR_fcntl, p.fd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
	if (plan_fd >= 0) {
		apply_plan(read_plan(plan_fd, -1), -1);
	}
	r = sys3(__NR_execve, (long)argv[3], (long)&argv[4], (long)envp);
	exec_failed(argv[3], r);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call waiter_main\n"
	"	hlt\n");
