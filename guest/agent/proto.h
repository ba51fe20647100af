#pragma once
/*
 * The wire protocol between hull (src/engine/vm-agent.c) and its guest agent (guest/agent/,
 * PID 1 in a `hull run --vm` guest). A pure header: the static agent and the host share it.
 * docs/vm-agent.md describes the sessions; this file is the byte layout.
 *
 * Transport: AF_VSOCK stream, the agent listens on port HULL_AGENT_PORT; each host connection
 * is one session.
 *
 * Frame: struct hull_agent_hdr (8 bytes, little-endian) + len bytes of payload.
 *   len   <= HULL_AGENT_MAX_PAYLOAD: both sides drop the connection on a larger one, an
 *            unknown type, nonzero flags, or a payload whose shape does not match its type.
 *   type  enum hull_agent_type
 *   flags 0 (reserved; a receiver refuses other values so they can mean something later)
 *
 * A session:
 *   agent -> HELLO {u32 version, u32 state}          first frame, always
 *   host  -> RUN or EXEC {struct hull_agent_proc_wire + gids + strings}
 *            or SIGNAL {u32 sig} alone: signal the RUN process; the agent answers ACK and
 *            closes (vm_agent_signal)
 *   host  -> STDIN data (empty frames are ignored), STDIN_EOF, WINSIZE, SIGNAL, any order
 *   agent -> STDOUT / STDERR data (with a tty, all output is STDOUT), STDIN_ACK {u32 n}
 *            as the process takes its stdin (the host keeps HULL_AGENT_STDIN_WINDOW bytes
 *            at most unacknowledged)
 *   agent -> EXIT {i32 code}: last frame; code is the exit status, or 128+signal (docker).
 *            The agent answers a RUN or EXEC it cannot start (bad payload, a RUN while one
 *            lives, setuid failing) with ERROR {message, no NUL} and closes. A command that
 *            does not exist is not an ERROR: the process's stderr says "exec X: no such file
 *            or directory" and EXIT is 127 (126: found but not executable), as docker.
 *
 * RUN powers the guest off when its process ends (after EXIT was sent, or dropped when the
 * host went away: the process keeps running without a host, its output is discarded).
 * One RUN per boot; EXEC runs more processes next to it (docker exec), before or after RUN.
 *
 * RUN/EXEC payload, all integers little-endian:
 *   struct hull_agent_proc_wire
 *   n_gids x u32                  supplementary groups (setgroups)
 *   n_args NUL-terminated strings argv (n_args >= 1; argv[0] is looked up in the guest's PATH)
 *   n_env  NUL-terminated strings environment, "K=V"
 *   4 NUL-terminated strings      cwd ("" means "/"), hostname, /etc/hosts, /etc/resolv.conf
 *                                 (the last three applied only with their HULL_AGENT_PROC_ bit)
 *   and nothing after the last string.
 */
#include <stdint.h>

#define HULL_AGENT_PORT 1024u
#define HULL_AGENT_VERSION 1u
#define HULL_AGENT_MAX_PAYLOAD 65536u
#define HULL_AGENT_MAX_ARGS 1024u
#define HULL_AGENT_MAX_ENV 1024u
#define HULL_AGENT_MAX_GIDS 256u
#define HULL_AGENT_HOSTNAME_MAX 64u /* HOST_NAME_MAX */
/*
 * STDIN flow control: the host keeps at most this many STDIN bytes unacknowledged (sent, no
 * STDIN_ACK yet). The agent can then always read the session, so a SIGNAL or WINSIZE behind
 * stdin data reaches a process that does not read its stdin.
 */
#define HULL_AGENT_STDIN_WINDOW (1u << 20)

enum hull_agent_type {
	HULL_AGENT_HELLO = 1,     /* agent: u32 version, u32 state (enum hull_agent_state) */
	HULL_AGENT_RUN = 2,       /* host: the container's process */
	HULL_AGENT_EXEC = 3,      /* host: one more process */
	HULL_AGENT_STDIN = 4,     /* host: data for the process's stdin */
	HULL_AGENT_STDIN_EOF = 5, /* host: empty; closes the process's stdin */
	HULL_AGENT_WINSIZE = 6,   /* host: u16 rows, u16 cols (tty only; ignored otherwise) */
	HULL_AGENT_SIGNAL = 7,    /* host: u32 signal number, 1..64 */
	HULL_AGENT_STDOUT = 8,    /* agent: data */
	HULL_AGENT_STDERR = 9,    /* agent: data */
	HULL_AGENT_EXIT = 10,     /* agent: i32 exit code, last frame */
	HULL_AGENT_ERROR = 11,    /* agent: a message (not NUL-terminated); the agent closes */
	HULL_AGENT_ACK = 12,      /* agent: i32 0 or -errno, the answer to a lone SIGNAL */
	HULL_AGENT_STDIN_ACK = 13, /* agent: u32 STDIN bytes the process took (or were dropped) */
	HULL_AGENT_NETCONF = 14,  /* host: the guest's NICs (below), before RUN; ACK or ERROR */
	/*
	 * host: a session's only frame, before RUN: mount virtio-fs tag TAG on TARGET in the
	 * container's root. u32 flags (HULL_AGENT_MOUNT_RO), then TAG and TARGET, each
	 * NUL-terminated, nothing after. Answered by ACK {i32 0 or -errno}; the agent closes.
	 */
	HULL_AGENT_MOUNT = 15,
	/* host: u64 seconds, u32 nanoseconds: the host's CLOCK_REALTIME, which the agent sets
	 * (fast18: a guest restored from a warm snapshot wakes with the snapshot's time) */
	HULL_AGENT_CLOCK = 16,
	/* host: empty, a session's only frame: the guest's processes (guest18, `hull top`) */
	HULL_AGENT_TOP = 17,
	/* agent: the answer to TOP (below); the agent closes after it */
	HULL_AGENT_TOP_REPLY = 18,
	/*
	 * host: HULL_AGENT_ENTROPY_MIN..MAX random bytes (the host's getrandom), before RUN to a
	 * guest restored from the warm snapshot (cloud18): the agent adds them to the kernel's
	 * pool (RNDADDENTROPY, credited) and reseeds its CRNG (RNDRESEEDCRNG), so clones of one
	 * snapshot part random state before the process runs, with or without VMGENID. No
	 * answer; a guest that cannot take them gets ERROR and the session closes.
	 */
	HULL_AGENT_ENTROPY = 19,
	HULL_AGENT_TYPE_COUNT
};

enum hull_agent_state {
	HULL_AGENT_STATE_IDLE = 0,    /* no RUN yet: RUN accepted */
	HULL_AGENT_STATE_RUNNING = 1, /* the RUN process lives: EXEC or SIGNAL only */
	HULL_AGENT_STATE_EXITED = 2,  /* the RUN process ended, the guest is powering off */
};

/* flags of struct hull_agent_proc_wire */
#define HULL_AGENT_PROC_TTY 0x1u      /* a pty: stdin/stdout/stderr on it, WINSIZE applies */
#define HULL_AGENT_PROC_HOSTNAME 0x2u /* sethostname(hostname) (RUN only) */
#define HULL_AGENT_PROC_HOSTS 0x4u    /* write /etc/hosts (RUN only) */
#define HULL_AGENT_PROC_RESOLV 0x8u   /* write /etc/resolv.conf (RUN only) */
#define HULL_AGENT_PROC_ALL 0xfu

/* ENTROPY: the payload's bounds, and what the engine sends (a ChaCha20 key's worth, twice) */
#define HULL_AGENT_ENTROPY_MIN 16u
#define HULL_AGENT_ENTROPY_MAX 256u
#define HULL_AGENT_ENTROPY_SEND 64u

/* MOUNT: flags, and the bounds of its strings (virtio-fs tags are 36 bytes at most) */
#define HULL_AGENT_MOUNT_RO 0x1u
#define HULL_AGENT_MOUNT_TAG_MAX 36u
#define HULL_AGENT_MOUNT_PATH_MAX 4096u

struct hull_agent_hdr {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct hull_agent_hdr) == 8, "agent frame header");

struct hull_agent_proc_wire {
	uint32_t uid;
	uint32_t gid;
	uint32_t flags; /* HULL_AGENT_PROC_* */
	uint16_t rows;  /* initial window size with a tty; 0: leave the default */
	uint16_t cols;
	uint16_t n_args;
	uint16_t n_env;
	uint16_t n_gids;
	uint16_t reserved; /* 0 */
} __attribute__((packed));
_Static_assert(sizeof(struct hull_agent_proc_wire) == 24, "agent proc header");

/*
 * NETCONF payload (docs/vm-agent.md "Network"): u16 n_nics (1..HULL_AGENT_MAX_NICS), u16 0,
 * then n_nics x struct hull_agent_nic_wire. The agent finds each interface by its MAC, sets
 * the MTU and the addresses, brings it (and lo) up and adds the default routes. Addresses are
 * in network byte order; a prefix of 0 means no address of that family. It answers ACK {i32 0}
 * (the session stays open for RUN) or ERROR and closes. Only in the idle state (before RUN).
 */
#define HULL_AGENT_MAX_NICS 8u

/*
 * warmnet18: the MAC of the NIC a warm snapshot is taken with (docs/engine.md "Fast start").
 * A NETCONF entry whose MAC no interface has goes to the interface with this one, whose MAC
 * the agent first sets to the entry's (a restored clone's driver keeps the snapshot's).
 */
#define HULL_AGENT_WARM_MAC { 0x02, 0x68, 0x75, 0x6c, 0x6c, 0x77 }
#define HULL_AGENT_WARM_MAC_STR "02:68:75:6c:6c:77"

struct hull_agent_nic_wire {
	uint8_t mac[6];
	uint8_t prefix4;  /* 0..32; 0: no IPv4 address */
	uint8_t prefix6;  /* 0..128; 0: no IPv6 address */
	uint32_t mtu;     /* little-endian; 0: the driver's, else 68..65535 */
	uint8_t addr4[4];
	uint8_t gw4[4];   /* 0.0.0.0: no default route */
	uint8_t addr6[16];
	uint8_t gw6[16];  /* ::: no default route */
} __attribute__((packed));
_Static_assert(sizeof(struct hull_agent_nic_wire) == 52, "agent NIC entry");

/*
 * TOP_REPLY payload (`hull top` on a VM container): u32 n (<= HULL_AGENT_TOP_MAX), u32 flags
 * (HULL_AGENT_TOP_TRUNCATED: more processes than fit), then n entries, each a struct
 * hull_agent_top_wire followed by cmd_len bytes of command line (arguments separated by
 * spaces, no NUL, cmd_len <= HULL_AGENT_TOP_CMD_MAX), nothing after the last. The agent lists
 * the processes that descend from it (PID 1: the container's processes, not the kernel's
 * threads nor itself), read from the guest's /proc. The host trusts none of it
 * (src/engine/vm-top.c checks every count and length against the payload).
 */
#define HULL_AGENT_TOP_MAX 1024u
#define HULL_AGENT_TOP_CMD_MAX 512u
#define HULL_AGENT_TOP_TRUNCATED 0x1u

struct hull_agent_top_wire {
	uint32_t pid, ppid, uid; /* little-endian, as all integers */
	uint32_t cmd_len;
	uint64_t cpu_ms;         /* utime + stime */
	uint64_t rss_bytes;
} __attribute__((packed));
_Static_assert(sizeof(struct hull_agent_top_wire) == 32, "agent TOP entry");

/* Byte-wise little-endian access: payloads come unaligned out of a receive buffer. */
static inline uint16_t hull_agent_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t hull_agent_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t hull_agent_get64(const uint8_t *p)
{
	return (uint64_t)hull_agent_get32(p) | (uint64_t)hull_agent_get32(p + 4) << 32;
}

static inline void hull_agent_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void hull_agent_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void hull_agent_put64(uint8_t *p, uint64_t v)
{
	hull_agent_put32(p, (uint32_t)v);
	hull_agent_put32(p + 4, (uint32_t)(v >> 32));
}

static inline void hull_agent_hdr_put(uint8_t out[8], uint16_t type, uint32_t len)
{
	hull_agent_put32(out, len);
	hull_agent_put16(out + 4, type);
	hull_agent_put16(out + 6, 0);
}

/*
 * Check a received header (8 raw bytes): 0 and the payload length in *ret_len / type in
 * *ret_type when the frame may follow, -1 when the connection must be dropped (a length over
 * the limit, an unknown type, reserved flags). Shape checks per type come after the payload.
 */
static inline int hull_agent_hdr_get(const uint8_t in[8], uint16_t *ret_type, uint32_t *ret_len)
{
	uint32_t len = hull_agent_get32(in);
	uint16_t type = hull_agent_get16(in + 4);

	if (len > HULL_AGENT_MAX_PAYLOAD || type == 0 || type >= HULL_AGENT_TYPE_COUNT ||
	    hull_agent_get16(in + 6) != 0)
		return -1;
	*ret_type = type;
	*ret_len = len;
	return 0;
}

/* Which side may send a type: 1 the host, 0 the agent. */
static inline int hull_agent_from_host(uint16_t type)
{
	return type == HULL_AGENT_RUN || type == HULL_AGENT_EXEC || type == HULL_AGENT_STDIN ||
	       type == HULL_AGENT_STDIN_EOF || type == HULL_AGENT_WINSIZE ||
	       type == HULL_AGENT_SIGNAL || type == HULL_AGENT_NETCONF ||
	       type == HULL_AGENT_MOUNT || type == HULL_AGENT_CLOCK || type == HULL_AGENT_TOP ||
	       type == HULL_AGENT_ENTROPY;
}

/* Does a payload of len bytes fit type's shape (fixed sizes; RUN/EXEC at least a header)? */
static inline int hull_agent_shape_ok(uint16_t type, uint32_t len)
{
	switch (type) {
	case HULL_AGENT_HELLO:
		return len == 8;
	case HULL_AGENT_STDIN_EOF:
		return len == 0;
	case HULL_AGENT_WINSIZE:
	case HULL_AGENT_SIGNAL:
	case HULL_AGENT_EXIT:
	case HULL_AGENT_ACK:
	case HULL_AGENT_STDIN_ACK:
		return len == 4;
	case HULL_AGENT_RUN:
	case HULL_AGENT_EXEC:
		return len >= sizeof(struct hull_agent_proc_wire);
	case HULL_AGENT_NETCONF:
		return len >= 4 && (len - 4) % sizeof(struct hull_agent_nic_wire) == 0 &&
		       (len - 4) / sizeof(struct hull_agent_nic_wire) >= 1 &&
		       (len - 4) / sizeof(struct hull_agent_nic_wire) <= HULL_AGENT_MAX_NICS;
	case HULL_AGENT_MOUNT:
		return len >= 4 + 2 + 2 && len <= 4 + HULL_AGENT_MOUNT_TAG_MAX + 1 +
						      HULL_AGENT_MOUNT_PATH_MAX;
	case HULL_AGENT_CLOCK:
		return len == 12;
	case HULL_AGENT_TOP:
		return len == 0;
	case HULL_AGENT_ENTROPY:
		return len >= HULL_AGENT_ENTROPY_MIN && len <= HULL_AGENT_ENTROPY_MAX;
	case HULL_AGENT_TOP_REPLY:
		return len >= 8;
	default:
		return 1;
	}
}
