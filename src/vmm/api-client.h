#pragma once
/*
 * A client of the control API (api.h), for `hull vm status|pause|resume|shutdown|power-off
 * |metrics --api-sock PATH`: one HTTP/1.1 request on a new connection, the reply read whole.
 */
#include <stddef.h>

#include "common/error.h"

/* Replies longer than this are refused (the server's largest, GET /metrics, is far smaller). */
#define API_CLIENT_MAX_REPLY (1U << 20)
#define API_CLIENT_TIMEOUT_S 60

/*
 * Send method path with body (JSON text, or NULL) to the socket at sock_path; wait at most
 * API_CLIENT_TIMEOUT_S for the reply. Returns 0 with *ret_status the HTTP status and *ret_body
 * the body (heap, NUL-terminated, "" when empty), or -errno with err naming the socket
 * (cannot connect, a reply that is not HTTP, too long, a timeout).
 */
int api_client_request(const char *sock_path, const char *method, const char *path,
		       const char *body, int *ret_status, char **ret_body, struct hull_err *err);
