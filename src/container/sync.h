#pragma once
/*
 * The parent <-> container-init sync channel: an AF_UNIX SOCK_SEQPACKET socketpair, so every
 * message arrives whole. An error travels as a whole struct hull_err (fixed size: the child
 * never needs the heap to report one).
 */
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

enum sync_type {
	SYNC_GO = 1,  /* parent -> child: carry on (payload: the state JSON, may be empty) */
	SYNC_HOOKS,   /* child -> parent: mounts are done; run prestart/createRuntime hooks */
	SYNC_READY,   /* child -> parent: set-up complete, now waiting for start */
	SYNC_ERR,     /* child -> parent: payload is a struct hull_err */
	SYNC_TYPE_COUNT,
};

#define SYNC_PAYLOAD_MAX 65536

/* Send a message; payload may be NULL. Returns 0 or -errno. */
int sync_send(int fd, enum sync_type type, const void *payload, size_t len);

/*
 * Receive one message. On success *ret_type is set and, if ret_payload is not NULL, the
 * payload (NUL-terminated, heap) goes to *ret_payload. Returns the payload length, -EPIPE
 * at end of stream, or -errno.
 */
int sync_recv(int fd, enum sync_type *ret_type, char **ret_payload);

/* Child side: report err and stop. Never returns. */
void sync_fail(int fd, const struct hull_err *err) __attribute__((noreturn));
