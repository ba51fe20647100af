#pragma once
/*
 * The frontend ("master") side of the vhost-user protocol (QEMU's docs/interop/vhost-user.rst)
 * over a connected unix stream socket: hull-vmm hands a backend process (virtiofsd) guest
 * RAM as memfd regions and each ring's addresses, kick and call eventfds; the backend then
 * serves the rings itself.
 *
 * Requests are synchronous and made from the thread that holds the device's lock. Nothing
 * the backend sends is trusted: a reply must carry the request's id, the reply flag and
 * exactly the payload size of that request, else the call fails with -EPROTO; a closed
 * socket is -ECONNRESET; a backend that does not answer within VHOST_USER_TIMEOUT_S is
 * -ETIMEDOUT. After any such failure the connection is marked broken and every later request
 * fails at once (the device then reports DEVICE_NEEDS_RESET).
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "vmm/memory.h"
#include "vmm/virtio/queue.h"

#define VHOST_USER_TIMEOUT_S 10
#define VHOST_USER_MAX_REGIONS 8

/* Requests (front-end to back-end) */
enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
};

#define VHOST_USER_VERSION 0x1U
#define VHOST_USER_FLAG_REPLY (1U << 2)
#define VHOST_USER_FLAG_NEED_REPLY (1U << 3)
#define VHOST_USER_F_PROTOCOL_FEATURES (1ULL << 30)
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_VRING_NOFD (1ULL << 8)

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes after the header */
} __attribute__((packed));

struct vhost_user_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

struct vhost_user_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region r[VHOST_USER_MAX_REGIONS];
};

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc, used, avail, log;
};

struct vhost_user {
	int sock;                   /* connected; -1: none */
	bool broken;                /* a request failed: no more are sent */
	uint64_t features;          /* the backend's GET_FEATURES */
	uint64_t protocol_features; /* what both sides speak (SET_PROTOCOL_FEATURES) */
	uint64_t queue_num;         /* GET_QUEUE_NUM with MQ, else 0 */
};

/* Connect to the backend's socket at path: a stream fd (CLOEXEC, timeouts set) or -errno. */
int vhost_user_connect(const char *path);

/*
 * Take over sock (connected) and learn the backend: GET_FEATURES, GET/SET_PROTOCOL_FEATURES
 * (REPLY_ACK and MQ of what it offers), GET_QUEUE_NUM, SET_OWNER. u owns sock from here on,
 * on failure too. 0, or -errno with err naming the step.
 */
int vhost_user_setup(struct vhost_user *u, int sock, struct hull_err *err);
void vhost_user_close(struct vhost_user *u);

/* Requests whose payload is one u64 (SET_FEATURES); acked when REPLY_ACK was agreed. */
int vhost_user_set_u64(struct vhost_user *u, uint32_t req, uint64_t val);
/* SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ENABLE: a ring's index and a number. */
int vhost_user_set_state(struct vhost_user *u, uint32_t req, unsigned idx, unsigned num);
/* GET_VRING_BASE: the backend stops ring idx and says where it was (*ret_base). */
int vhost_user_get_base(struct vhost_user *u, unsigned idx, unsigned *ret_base);
int vhost_user_set_addr(struct vhost_user *u, const struct vhost_user_vring_addr *a);
/* SET_VRING_KICK / SET_VRING_CALL: fd < 0 sends the no-fd flag (polling / no interrupt). */
int vhost_user_set_fd(struct vhost_user *u, uint32_t req, unsigned idx, int fd);
/*
 * SET_MEM_TABLE for m: every region must be backed by a file the backend can map (m->fd);
 * the virtio-mem region is anonymous and refused (-EINVAL).
 */
int vhost_user_set_mem(struct vhost_user *u, const struct guest_mem *m);
/* The table itself (pure, for tests): regions and their fds; returns how many, or -EINVAL. */
int vhost_user_mem_table(const struct guest_mem *m, struct vhost_user_mem *t, int *fds);

/* Send one message (tests use it as the backend too). 0 or -errno. */
int vhost_user_send(int sock, const struct vhost_user_hdr *h, const void *payload,
		    const int *fds, unsigned nfds);
