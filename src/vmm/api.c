#include "vmm/api.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "vmm/loop.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

#define API_MAX_CLIENTS 8
#define API_MAX_REQUEST 4096

struct api_client {
	struct api_server *srv;
	int fd;
	char buf[API_MAX_REQUEST];
	size_t len;
};

struct api_server {
	struct vm *vm;
	int fd;
	char *path;
	struct api_client *clients[API_MAX_CLIENTS];
};

static void api_client_close(struct api_client *c)
{
	struct api_server *s = c->srv;

	for (size_t i = 0; i < API_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	(void)evloop_del(s->vm->loop, c->fd);
	(void)close(c->fd);
	free(c);
}

static json_t *api_status(struct vm *vm)
{
	bool paused;

	pthread_mutex_lock(&vm->lock);
	paused = vm->paused;
	pthread_mutex_unlock(&vm->lock);
	return json_pack("{s:b, s:s, s:i, s:I}", "ok", 1,
			 "state", atomic_load(&vm->stop) ? vmm_stop_name((enum vm_stop)atomic_load(&vm->stop))
							 : paused ? "paused"
							 : vm->shutdown_requested ? "shutting-down" : "running",
			 "cpus", (int)vm->ncpus, "memory", (json_int_t)vm->mem.size);
}

/* {"op":"snapshot","dir":PATH,"resume":true|false} (snapshot.h); resume defaults to true. */
static json_t *api_snapshot(struct vm *vm, json_t *req)
{
	struct hull_err err = { 0 };
	const char *dir = NULL;
	bool resume = true;

	if (hjson_get_str(req, "dir", "request", true, &dir, &err) < 0 ||
	    hjson_get_bool(req, "resume", "request", false, &resume, &err) < 0 ||
	    vm_snapshot(vm, dir, resume, &err) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	return api_status(vm);
}

/* Handle one request line; returns the reply (owned by the caller). */
static json_t *api_handle(struct vm *vm, const char *line, size_t len)
{
	struct hull_err err = { 0 };
	json_t *req = NULL, *reply = NULL;
	const char *op = NULL;

	if (hjson_load_buf(line, len, "request", &req, &err) < 0 ||
	    hjson_get_str(req, "op", "request", true, &op, &err) < 0) {
		json_decref(req);
		return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
	}
	if (strcmp(op, "status") == 0) {
		reply = api_status(vm);
	} else if (strcmp(op, "pause") == 0) {
		vm_pause(vm);
		reply = api_status(vm);
	} else if (strcmp(op, "resume") == 0) {
		vm_resume(vm);
		reply = api_status(vm);
	} else if (strcmp(op, "snapshot") == 0) {
		reply = api_snapshot(vm, req);
	} else if (strcmp(op, "power-off") == 0) {
		vm_resume(vm);
		vm_request_stop(vm, VM_STOP_POWEROFF, "power-off through the API");
		reply = json_pack("{s:b, s:s}", "ok", 1, "state", "power-off");
	} else if (strcmp(op, "shutdown") == 0) {
		/* Graceful: the guest is asked (Ctrl-Alt-Del) and has until the deadline. */
		if (vm_request_shutdown(vm) < 0)
			reply = json_pack("{s:b, s:s}", "ok", 0, "error",
					  "cannot arm the shutdown timer");
		else
			reply = json_pack("{s:b, s:s}", "ok", 1, "state", "shutting-down");
	} else {
		char msg[128];

		(void)snprintf(msg, sizeof(msg),
			       "request.op: unknown operation '%.40s' (status, pause, resume, snapshot, shutdown, power-off)",
			       op);
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", msg);
	}
	json_decref(req);
	return reply;
}

static void api_on_client(void *opaque, int fd, uint32_t events)
{
	struct api_client *c = opaque;
	ssize_t n = read(fd, c->buf + c->len, sizeof(c->buf) - c->len);
	char *nl;

	if (n <= 0) {
		api_client_close(c);
		return;
	}
	c->len += (size_t)n;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t line = (size_t)(nl - c->buf);
		json_t *reply = api_handle(c->srv->vm, c->buf, line);
		cleanup_free char *out = hjson_dump(reply, JSON_COMPACT);
		cleanup_free char *msg = xasprintf("%s\n", out);

		json_decref(reply);
		(void)fd_write_all(fd, msg, strlen(msg));
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
	}
	if (c->len == sizeof(c->buf)) {
		static const char too_long[] = "{\"ok\":false,\"error\":\"request longer than 4096 bytes\"}\n";

		(void)fd_write_all(fd, too_long, sizeof(too_long) - 1);
		api_client_close(c);
	}
}

static void api_on_accept(void *opaque, int fd, uint32_t events)
{
	struct api_server *s = opaque;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	struct api_client *c;
	size_t i;

	if (cfd < 0)
		return;
	for (i = 0; i < API_MAX_CLIENTS && s->clients[i]; i++)
		;
	if (i == API_MAX_CLIENTS) {
		(void)close(cfd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->fd = cfd;
	if (evloop_add(s->vm->loop, cfd, EPOLLIN, api_on_client, c) < 0) {
		(void)close(cfd);
		free(c);
		return;
	}
	s->clients[i] = c;
}

int api_server_create(struct vm *vm, const char *path, struct api_server **ret,
		      struct hull_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	struct api_server *s;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return hull_err_setx(err, ENAMETOOLONG, "--api-sock %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return hull_err_set(err, errno, "--api-sock: socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hull_err_set(err, errno, "--api-sock %s", path);
	if (listen(fd, 4) < 0) {
		r = errno;
		(void)unlink(path);
		return hull_err_set(err, r, "--api-sock %s: listen", path);
	}
	s = xcalloc(1, sizeof(*s));
	s->vm = vm;
	s->path = xstrdup(path);
	s->fd = steal_fd(&fd);
	r = evloop_add(vm->loop, s->fd, EPOLLIN, api_on_accept, s);
	if (r < 0) {
		api_server_free(s);
		return hull_err_set(err, -r, "--api-sock: event loop");
	}
	*ret = s;
	return 0;
}

void api_server_free(struct api_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < API_MAX_CLIENTS; i++)
		if (s->clients[i]) {
			(void)close(s->clients[i]->fd);
			free(s->clients[i]);
		}
	if (s->fd >= 0) {
		(void)close(s->fd);
		(void)unlink(s->path);
	}
	free(s->path);
	free(s);
}
