#pragma once
/*
 * The host side of hull's guest agent (guest/agent/, PID 1 in a `hull run --vm` guest):
 * connect over vsock, hand it the process to run, relay stdio, signals and window sizes, and
 * collect the exit code. The wire format is guest/agent/proto.h; docs/vm-agent.md tells the
 * sessions. The engine's VM backend and `hull vm agent` use it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define VM_AGENT_PORT 1024u

struct vm_agent_proc {
	char *const *args;  /* NULL-terminated, at least one */
	char *const *env;   /* K=V, NULL-terminated; NULL: empty */
	const char *cwd;    /* NULL: "/" */
	uint32_t uid, gid;
	const uint32_t *gids; /* supplementary groups; n_gids of them */
	size_t n_gids;
	const char *hostname;            /* NULL: leave the guest's (RUN only) */
	const char *etc_hosts, *resolv;  /* whole file contents; NULL: leave (RUN only) */
	bool tty;                        /* a pty in the guest: one output stream (stdout) */
	uint16_t rows, cols;             /* the pty's first window size; 0: the default */
};

/* What the agent said in its HELLO. */
struct vm_agent_hello {
	uint32_t version;
	uint32_t state; /* 0 idle (RUN accepted), 1 the RUN process lives, 2 it ended */
};

/*
 * Connect to the agent of guest cid (AF_VSOCK, port VM_AGENT_PORT), retrying until timeout_ms
 * passed for the guest to boot; returns 0 once HELLO arrived, with the connected socket in
 * *ret_fd (the caller closes it) and the HELLO in *ret_hello (may be NULL).
 * Errors: -ETIMEDOUT (the agent never answered), -EPROTO (not hull's agent), with err set.
 */
int vm_agent_connect(uint32_t cid, int timeout_ms, int *ret_fd, struct vm_agent_hello *ret_hello,
		     struct hull_err *err);

/* The same on a unix stream socket (an agent started with --unix PATH: tests, no VM). */
int vm_agent_connect_unix(const char *path, int timeout_ms, int *ret_fd,
			  struct vm_agent_hello *ret_hello, struct hull_err *err);

/*
 * One whole frame from the agent (payload: room for HULL_AGENT_MAX_PAYLOAD): its type and
 * length after the header's checks (proto.h), or -EPROTO / -errno / -ETIMEDOUT.
 */
int vm_agent_read_frame(int fd, int timeout_ms, uint16_t *ret_type, uint8_t *payload,
			uint32_t *ret_len, struct hull_err *err);

/* Read the HELLO on an already connected stream fd (what vm_agent_connect does last). */
int vm_agent_hello(int fd, int timeout_ms, struct vm_agent_hello *ret_hello, struct hull_err *err);

/*
 * Send RUN (exec false) or EXEC for p on fd (after HELLO), then relay until the agent's EXIT:
 * stdio[0] -> the process's stdin (its EOF too; -1: EOF at once), the process's stdout ->
 * stdio[1], stderr -> stdio[2] (-1: discarded; with a tty everything arrives on stdio[1]).
 * ctl_fd (-1: none) is a pipe's read end the caller feeds with vm_agent_ctl_winsize() and
 * vm_agent_ctl_signal() (from a signal handler too: one write(2) each) to forward a window
 * size or a signal. The fds may be blocking or not; fd is left as it was found.
 * The caller ignores SIGPIPE (a closed stdout makes the output a sink, not a death).
 * Returns the exit code (>= 0: the status, or 128+signal), or -errno with err set: -EPROTO
 * for a broken or refused session (the agent's ERROR text in err), -ECONNRESET when the
 * connection ended before EXIT (the guest died), -EINVAL for a p the protocol cannot carry.
 */
int vm_agent_session(int fd, bool exec, const struct vm_agent_proc *p, const int stdio[3],
		     int ctl_fd, struct hull_err *err);

/* Queue a window size / a signal for the session reading ctl_fd. Async-signal-safe; -errno. */
int vm_agent_ctl_winsize(int ctl_wfd, uint16_t rows, uint16_t cols);
int vm_agent_ctl_signal(int ctl_wfd, int sig);

/* CLOCK: the host's wall clock to the agent, which sets it (before RUN, on a connection
 * after HELLO; a guest restored from a snapshot has the snapshot's time). */
int vm_agent_clock(int fd, struct hull_err *err);

/*
 * ENTROPY (cloud18): HULL_AGENT_ENTROPY_SEND bytes of the host's getrandom to the agent, which
 * credits them to the guest kernel's pool and reseeds its CRNG (before RUN, on a connection
 * after HELLO): clones of one warm snapshot part random state with or without VMGENID.
 */
int vm_agent_entropy(int fd, struct hull_err *err);
/* Its frame for the n bytes rnd in out (cap bytes): the frame's length, or -EINVAL when n is
 * out of the protocol's bounds or out too small. */
int vm_agent_entropy_encode(const uint8_t *rnd, size_t n, uint8_t *out, size_t cap);

/*
 * Signal the RUN process of guest cid through a connection of its own (docker kill/stop).
 * Returns 0, or -ESRCH when no RUN process lives, or another -errno; err set on failure.
 */
int vm_agent_signal(uint32_t cid, int sig, int timeout_ms, struct hull_err *err);
/*
 * MOUNT in a session of its own, before RUN: the guest mounts virtio-fs tag on target
 * (inside the container's root, made when missing; read-only with ro). 0, or -errno with err
 * naming the target and the guest's errno.
 */
int vm_agent_mount(uint32_t cid, const char *tag, const char *target, bool ro, int timeout_ms,
		   struct hull_err *err);

/*
 * Send NETCONF (payload as proto.h lays it out, engine/vm-net.h encodes it) on fd after
 * HELLO and before RUN, and read the agent's answer: 0 on ACK, -EPROTO with the agent's ERROR
 * text in err, or another -errno.
 */
int vm_agent_netconf(int fd, const uint8_t *payload, uint32_t len, int timeout_ms,
		     struct hull_err *err);

/*
 * Encode p as a RUN/EXEC payload into buf (cap bytes); returns the length or -EINVAL (too
 * many args/env/gids, too long, a hostname over 64 bytes). Exposed for the unit tests.
 */
int vm_agent_proc_encode(const struct vm_agent_proc *p, uint8_t *buf, size_t cap);

/*
 * The agent binary to pack as the guest's /init, found from the running hull: beside it, the
 * build tree's guest/agent/hull-agent (hull in src/cli/), or the installed libexec/hull/ or
 * lib/hull/hull-agent (hull in bin/). Returns 0 with the path in buf, or -ENOENT.
 */
int vm_agent_binary(char *buf, size_t size);
