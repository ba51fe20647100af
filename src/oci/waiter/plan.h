#pragma once
/*
 * What the container init (and exec) hands to hull-oci-wait for the last steps before the user's
 * program (docs/runtime.md "seccomp"): a memfd holding this header, then n_insns classic BPF
 * instructions (struct sock_filter, 8 bytes each), then msg_len bytes of the listener
 * message. Shared by init.c and the freestanding waiter.c: plain C types only.
 */
#define WAITER_PLAN_MAGIC 0x6e616c70U /* "plan" */
#define WAITER_PLAN_MAX_INSNS 4096     /* BPF_MAXINSNS */
#define WAITER_PLAN_MAX_MSG (256 * 1024)

struct waiter_plan {
	unsigned int magic;
	unsigned int seccomp_flags; /* SECCOMP_FILTER_FLAG_* */
	unsigned int n_insns;       /* 0: no filter */
	int listener_fd;            /* -1, or a connected socket for the notify fd + msg */
	unsigned int msg_len;
	/* Capabilities kept only so that the filter can be loaded without no_new_privs: the
	 * waiter lowers them from ambient (unless configured there) and resets inheritable to
	 * the configured set before loading; they do not survive the final execve. */
	unsigned int keep[2];
	unsigned int ambient[2];
	unsigned int inheritable[2];
	/* exec only (zero for the init): WAITER_PLAN_* below. */
	unsigned int flags;
	int notify_fd; /* with WAITER_PLAN_NOTIFY_FD: a filter already installed left this fd */
	unsigned long long nproc[2]; /* with WAITER_PLAN_NPROC: RLIMIT_NPROC soft, hard */
};

#define WAITER_PLAN_SETSID 1u    /* setsid() first */
#define WAITER_PLAN_CTTY 2u      /* then make fd 0 (a pty slave) the controlling terminal */
#define WAITER_PLAN_NOTIFY_FD 4u /* send notify_fd, not a new filter's, to the listener */
#define WAITER_PLAN_NPROC 8u     /* set RLIMIT_NPROC after the fork it would have limited */

/*
 * exec mode (oci/exec-child.c): argv [WAITER_EXEC_NAME, sync fd, plan fd, notify fd or -1,
 * wait "1"/"0", program path, program argv...]. The waiter, still in the caller's pid
 * namespace, makes itself non-dumpable and forks (CLONE_PARENT) the process into the
 * container's pid namespace; the parent sends {WAITER_SYNC_READY, 4, pid} on the sync socket
 * and exits. The child, with wait "1" (the plan needs its pid), waits for any message there
 * (the runtime has written the plan); it reads the plan (a notify fd given is that of a
 * filter the runtime's child installed early: WAITER_PLAN_NOTIFY_FD), applies it and execs.
 * A failure is {WAITER_SYNC_ERR, 8, step, errno} on the sync socket, exit 127. These are
 * container/sync.h's message layout and types (checked in exec.c).
 */
#define WAITER_EXEC_NAME "hull-oci-exec"
#define WAITER_SYNC_READY 3u
#define WAITER_SYNC_ERR 4u

enum waiter_step {
	WAITER_STEP_CLONE = 1,
	WAITER_STEP_PLAN,
	WAITER_STEP_SETSID,
	WAITER_STEP_CTTY,
	WAITER_STEP_CAPS,
	WAITER_STEP_SECCOMP,
	WAITER_STEP_LISTENER,
	WAITER_STEP_EXEC,
	WAITER_STEP_RLIMIT,
};

struct waiter_report {
	unsigned int type; /* WAITER_SYNC_ERR */
	unsigned int len;  /* 8 */
	int step;          /* enum waiter_step */
	int err;           /* errno */
};
