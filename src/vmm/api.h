#pragma once
/*
 * The control socket (--api-sock): a Unix stream socket taking one JSON request per line,
 * {"op":"status"|"pause"|"resume"|"power-off"}, and answering one JSON line,
 * {"ok":true,"state":"running"|"paused"|...} or {"ok":false,"error":"..."}.
 */
#include "common/error.h"

struct vm;
struct api_server;

int api_server_create(struct vm *vm, const char *path, struct api_server **ret,
		      struct hull_err *err);
/* Closes the socket and removes its path. Accepts NULL. */
void api_server_free(struct api_server *a);
