#pragma once
/*
 * What the container init hands to hull-oci-wait for the last steps before the user's
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
};
