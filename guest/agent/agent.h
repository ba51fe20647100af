#pragma once
/*
 * hull's guest agent: PID 1 of a `hull run --vm` guest (docs/vm-agent.md). boot.c sets the
 * guest up, spawn.c starts a process as RUN/EXEC asks, agent.c serves the vsock sessions.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "wire.h"

/* MOUNT (mounts.c): a virtio-fs tag on a target inside the root; 0 or -errno. */
int agent_mount(const uint8_t *pl, uint32_t len);
/* Its payload's flags, tag and target (pointers into pl): 0 or -EINVAL. */
int agent_mount_parse(const uint8_t *pl, uint32_t len, uint32_t *ret_flags,
		      const char **ret_tag, const char **ret_target);
/*
 * The directory target (absolute, no ".." component) inside root (a directory fd), each
 * missing component made on the way, resolved with RESOLVE_IN_ROOT: an O_PATH fd or -errno.
 */
int agent_mount_target(int root, const char *target);
/*
 * ENTROPY (entropy.c): the struct rand_pool_info for RNDADDENTROPY built from a payload of
 * len bytes in out (cap bytes): its size, or 0 when len is out of bounds or out too small.
 */
size_t agent_entropy_pool(const uint8_t *pl, uint32_t len, void *out, size_t cap);
/* The payload credited to the kernel's pool and its CRNG reseeded: 0 or -errno. */
int agent_entropy(const uint8_t *pl, uint32_t len);
/* One line on the console (the agent's stderr): "hull-agent: ...". */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Mount, load modules, move into hull.root=. 0, or -errno (logged) when the guest is unusable. */
int agent_boot(void);

/* A started process's host handles, as agent.c tracks them. */
struct agent_child {
	pid_t pid;
	int in_fd;  /* its stdin: a pipe's write end, or the pty master (a dup) */
	int out_fd; /* its stdout, or the pty master */
	int err_fd; /* its stderr; -1 with a tty */
};

/*
 * Start r (RUN applies hostname, /etc/hosts and /etc/resolv.conf first). Returns 0 with the
 * handles in *ret (non-blocking, close-on-exec), or -1 with why in msg: then nothing runs.
 * A command that cannot be executed is a started process that prints why and exits 126/127.
 */
int agent_spawn(const struct agent_req *r, bool run, struct agent_child *ret, char *msg,
		size_t size);

/* Tests (hull-agent --unix): RUN's hostname, /etc/hosts and resolv.conf are not applied. */
void agent_spawn_test_mode(void);

/* With a tty: the window size (ioctl on the master). */
void agent_winsize(int master, unsigned rows, unsigned cols);

/* TOP (top.c): the TOP_REPLY payload for the agent's descendants into out; its length. */
size_t agent_top(uint8_t *out, size_t size);
