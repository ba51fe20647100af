#pragma once
/*
 * The control API's endpoints (api-routes.c): one table of routes in Firecracker's shape,
 * each calling into vm.c. A new endpoint is one entry in the table and one handler:
 *
 *   { HTTP_PATCH, "/balloon", false, true, api_balloon_patch },
 *
 * The handler gets the parsed JSON body (an object; the table says whether one is required)
 * and the ID of "/drives/ID"-style paths, and returns 0 with its reply, or -errno with err
 * set: the server answers Firecracker's {"fault_message": err.msg} with 404 for ENOENT, 501
 * for ENOSYS/EOPNOTSUPP, 500 for EIO, 400 for anything else (a bad field, a value out of
 * range, a resize the host cannot give). Handlers run on the event loop thread: they must
 * not block on the guest (vm_pause waits only for the vCPUs to leave KVM_RUN).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "vmm/http.h"

struct vm;

#define API_MAX_ID 64U

struct api_call {
	struct vm *vm;
	const char *id;	  /* the ID after the route's prefix (1-64 of [A-Za-z0-9_.-]), or NULL */
	json_t *body;	  /* the request's JSON object, or NULL when it had no body */
};

/* 0 with *ret_reply set (NULL: 204 No Content), or -errno with err set. */
typedef int (*api_handler_fn)(const struct api_call *call, json_t **ret_reply,
			      struct hull_err *err);

struct api_route {
	enum http_method method;
	const char *path;  /* the path; with has_id, the prefix before the ID ("/drives/") */
	bool has_id;
	bool needs_body;   /* a JSON object body is required (else 400) */
	api_handler_fn fn; /* NULL: not implemented yet (501) */
};

/* What the server sends back for one request. */
struct api_reply {
	int status;
	char *body;	  /* heap JSON text, or NULL (204) */
	const char *allow; /* for 405: the "Allow:" methods of the path */
};

/* Route one complete HTTP request and fill rep (body owned by the caller). */
void api_route_request(struct vm *vm, const struct http_request *req, struct api_reply *rep);
/* The reply to a JSON-lines request (`{"op":"status"}`...), heap text without the newline. */
char *api_lines_request(struct vm *vm, const char *line, size_t len);
/* The route table, for tests. */
const struct api_route *api_route_table(size_t *n);
/* Firecracker's error body, {"fault_message": msg}, heap text. */
char *api_fault_body(const char *msg);
