#pragma once
/*
 * The control socket (--api-sock): HTTP/1.1 with JSON bodies in Firecracker's shape (GET /,
 * PUT /actions, PATCH /vm, GET /machine-config, GET /metrics...: api-routes.c, docs/vmm.md),
 * and, on a connection whose first byte is '{', the first API's JSON lines
 * ({"op":"status"|"pause"|"resume"|"shutdown"|"power-off"} answered by one JSON line).
 *
 * Bounds: API_MAX_CLIENTS connections (a new one beyond them replaces the longest-idle one,
 * or is answered 503 when none is idle); a request must arrive within API_REQUEST_TIMEOUT_S of
 * its first byte (else 408 and close) and a reply be taken as fast; an idle connection is
 * closed after API_IDLE_TIMEOUT_S.
 */
#include <stdint.h>

#include "common/error.h"

#define API_MAX_CLIENTS 32
#define API_REQUEST_TIMEOUT_S 10ULL
#define API_IDLE_TIMEOUT_S 60ULL

struct vm;
struct api_server;

/* Bind and listen on path (vm_prepare: before KVM); served by vm->loop. 0 or -errno, err set. */
int api_server_create(struct vm *vm, const char *path, struct api_server **ret,
		      struct hull_err *err);
/* Closes the connections and the socket and removes its path. Accepts NULL. */
void api_server_free(struct api_server *a);
/* The server's counters for GET /metrics: put(ctx, name, value) each. Event loop thread. */
void api_server_metrics(struct api_server *s, void (*put)(void *ctx, const char *name,
							   uint64_t value), void *ctx);

/*
 * The descriptor the client of the JSON line being served sent with it (SCM_RIGHTS), now
 * the caller's; -1 when none. Event loop thread.
 */
int api_take_fd(struct api_server *s);
