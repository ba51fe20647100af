/*
 * The control socket (api.h): connections, framing and the bounds that keep a hostile client
 * from hurting the VM or the other clients. The endpoints are in api-routes.c.
 *
 * The API has its own epoll set, watched as one fd by the VM's event loop: its connections do
 * not use the loop's watch slots, and a burst of them is served in batches like any other
 * event. Every socket is non-blocking; each connection reads only while it has no reply
 * waiting to be sent (a client that pipelines requests and never reads holds one reply, not
 * an unbounded queue) and keeps at most one request's bytes (HTTP_MAX_HEAD + HTTP_MAX_BODY).
 */
#include "vmm/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "vmm/api-routes.h"
#include "vmm/http.h"
#include "vmm/loop.h"
#include "vmm/vm.h"

#define API_BACKLOG 64
#define API_LINE_MAX 4096U	/* a JSON-lines request */
#define API_IN_MAX (HTTP_MAX_HEAD + HTTP_MAX_BODY)
#define API_IN_MIN 4096U	/* the first buffer; freed again when a connection is idle */
#define API_BATCH 32
#define NS_PER_S 1000000000ULL

enum api_proto {
	API_PROTO_UNKNOWN, /* nothing read yet: the first byte decides */
	API_PROTO_HTTP,
	API_PROTO_LINES,   /* the first API: one JSON object per line, first byte '{' */
	API_PROTO_COUNT,
};

struct api_client {
	struct api_server *srv;
	int fd;
	enum api_proto proto;
	bool closing; /* close once the reply is sent */
	bool dead;    /* closed: freed at the end of the current batch of events */
	uint32_t events;
	char *in;
	size_t in_len, in_cap;
	char *out; /* the reply being sent, or NULL */
	size_t out_len, out_off;
	struct http_parser hp;
	bool served;  /* answered a request: when idle, it may be closed to make room */
	uint64_t started_ns; /* when the request being read began (its first byte; accept) */
	uint64_t active_ns;  /* the last byte read or written */
	struct api_client *next_dead;
};

struct api_server {
	struct vm *vm;
	int fd;	  /* listening socket */
	int epfd; /* the listener, the clients and the timer */
	int tfd;  /* timerfd: a tick per second while there are clients, for the timeouts */
	char *path;
	struct api_client *clients[API_MAX_CLIENTS];
	unsigned n_clients;
	struct api_client *dead;
	uint64_t request_timeout_ns, idle_timeout_ns;
	int passed_fd; /* a descriptor a client sent (SCM_RIGHTS) for its next line: -1 none */
	/* For GET /metrics (event loop thread only). */
	uint64_t n_accepted, n_rejected, n_evicted, n_timeouts, n_requests, n_lines, n_errors;
};

/* Distinct epoll tags for the listener and the timer (clients are tagged by pointer). */
static char tag_listener, tag_timer;

static void timer_arm(struct api_server *s, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_sec = its.it_interval.tv_sec = 1;
	(void)timerfd_settime(s->tfd, 0, &its, NULL);
}

static void client_close(struct api_client *c)
{
	struct api_server *s = c->srv;

	if (c->dead)
		return;
	for (size_t i = 0; i < API_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	(void)epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	(void)close(c->fd);
	c->dead = true;
	c->next_dead = s->dead;
	s->dead = c;
	if (--s->n_clients == 0)
		timer_arm(s, false);
}

static void client_free(struct api_client *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

static void reap_dead(struct api_server *s)
{
	while (s->dead) {
		struct api_client *c = s->dead;

		s->dead = c->next_dead;
		client_free(c);
	}
}

static void client_watch(struct api_client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		client_close(c);
		return;
	}
	c->events = events;
}

/* Send what the socket takes of the pending reply; -errno when the connection is gone. */
static int client_flush(struct api_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		c->out_off += (size_t)n;
		c->active_ns = vm_now_ns();
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

static void client_reply(struct api_client *c, char *data, size_t len)
{
	c->out = data;
	c->out_len = len;
	c->out_off = 0;
}

static void client_reply_http(struct api_client *c, int status, const char *body,
			      const char *allow)
{
	cleanup_free char *extra = allow ? xasprintf("Allow: %s\r\n", allow) : NULL;
	size_t len;
	char *out = http_response(status, body, extra, c->closing, &len);

	if (status >= 400)
		c->srv->n_errors++;
	client_reply(c, out, len);
}

/* Drop the first n bytes of the input (a request served). */
static void client_consume(struct api_client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->started_ns = c->in_len ? vm_now_ns() : 0;
	if (!c->in_len && c->in_cap > API_IN_MIN) {
		free(c->in); /* an idle connection keeps no big buffer */
		c->in = NULL;
		c->in_cap = 0;
	}
}

static bool client_serve_http(struct api_client *c)
{
	struct http_request req;
	struct api_reply rep;
	int r = http_parse(&c->hp, c->in, c->in_len, &req);

	if (r == 0)
		return false;
	if (r < 0) {
		cleanup_free char *body = api_fault_body(c->hp.error);

		c->closing = true; /* the framing is lost: nothing after it can be trusted */
		client_reply_http(c, c->hp.status, body, NULL);
		return true;
	}
	c->srv->n_requests++;
	api_route_request(c->srv->vm, &req, &rep);
	c->closing = !req.keep_alive;
	client_reply_http(c, rep.status, rep.body, rep.allow);
	free(rep.body);
	client_consume(c, (size_t)r);
	http_parser_reset(&c->hp);
	c->served = true;
	return true;
}

static bool client_serve_line(struct api_client *c)
{
	char *nl = memchr(c->in, '\n', c->in_len);
	char *reply;

	if (!nl) {
		if (c->in_len < API_LINE_MAX)
			return false;
		c->closing = true;
		c->srv->n_errors++;
		reply = xasprintf("{\"ok\":false,\"error\":\"request longer than %u bytes\"}\n",
				  API_LINE_MAX);
		client_reply(c, reply, strlen(reply));
		return true;
	}
	c->srv->n_lines++;
	{
		cleanup_free char *json = api_lines_request(c->srv->vm, c->in, (size_t)(nl - c->in));
		int fd = api_take_fd(c->srv); /* one its request did not take */

		if (fd >= 0)
			(void)close(fd);
		reply = xasprintf("%s\n", json);
	}
	client_reply(c, reply, strlen(reply));
	client_consume(c, (size_t)(nl - c->in) + 1);
	c->served = true;
	return true;
}

/* Serve the buffered requests one at a time, each reply sent before the next is read. */
static void client_run(struct api_client *c)
{
	for (;;) {
		if (c->out) {
			if (client_flush(c) < 0) {
				client_close(c);
				return;
			}
			if (c->out) {
				client_watch(c, EPOLLOUT);
				return;
			}
		}
		if (c->closing) {
			client_close(c);
			return;
		}
		if (!c->in_len)
			break;
		if (c->proto == API_PROTO_UNKNOWN)
			c->proto = c->in[0] == '{' ? API_PROTO_LINES : API_PROTO_HTTP;
		if (!(c->proto == API_PROTO_LINES ? client_serve_line(c) : client_serve_http(c)))
			break;
	}
	client_watch(c, EPOLLIN);
}

/*
 * recv, and a descriptor sent along with a JSON line (`hull vm migrate` hands over its
 * connection to the destination so: the VMM never makes a socket) kept for the next request
 * in passed_fd; an earlier one never taken is closed.
 */
static ssize_t client_recv(struct api_client *c)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { c->in + c->in_len, c->in_cap - c->in_len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (c->proto == API_PROTO_HTTP)
		return recv(c->fd, iov.iov_base, iov.iov_len, MSG_DONTWAIT);
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof(u.buf);
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	for (cm = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int fd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
		if (c->srv->passed_fd >= 0)
			(void)close(c->srv->passed_fd);
		c->srv->passed_fd = fd;
	}
	return n;
}

int api_take_fd(struct api_server *s)
{
	int fd = s ? s->passed_fd : -1;

	if (s)
		s->passed_fd = -1;
	return fd;
}

/* Read what arrived; false when the connection closed (EOF or an error). */
static bool client_read(struct api_client *c)
{
	size_t max = c->proto == API_PROTO_LINES ? API_LINE_MAX : API_IN_MAX;
	ssize_t n;

	if (c->in_len == c->in_cap) {
		if (c->in_cap >= max)
			return false; /* cannot happen: the parsers refuse before the buffer fills */
		c->in_cap = c->in_cap ? c->in_cap * 2 : API_IN_MIN;
		if (c->in_cap > max)
			c->in_cap = max;
		c->in = xrealloc(c->in, c->in_cap);
	}
	n = client_recv(c);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	c->active_ns = vm_now_ns();
	if (!c->in_len)
		c->started_ns = c->active_ns;
	c->in_len += (size_t)n;
	return true;
}

static void client_on_event(struct api_client *c, uint32_t events)
{
	if (events & EPOLLERR) {
		client_close(c);
		return;
	}
	if ((c->events & EPOLLIN) && (events & (EPOLLIN | EPOLLHUP)) && !client_read(c)) {
		client_close(c);
		return;
	}
	client_run(c);
}

/* The idle connection least recently used, to make room for a new one; NULL: none. */
static struct api_client *idle_victim(struct api_server *s)
{
	struct api_client *v = NULL;

	for (size_t i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_client *c = s->clients[i];

		if (c && c->served && !c->in_len && !c->out &&
		    (!v || c->active_ns < v->active_ns))
			v = c;
	}
	return v;
}

static void server_add_client(struct api_server *s, int fd)
{
	struct api_client *c, *victim;
	size_t i;

	if (s->n_clients == API_MAX_CLIENTS && (victim = idle_victim(s))) {
		s->n_evicted++; /* an idle keep-alive connection: the client reconnects */
		client_close(victim);
	}
	if (s->n_clients == API_MAX_CLIENTS) {
		cleanup_free char *body = api_fault_body("too many API connections: try again later");
		size_t len;
		cleanup_free char *busy = http_response(503, body, NULL, true, &len);

		s->n_rejected++;
		(void)send(fd, busy, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)close(fd);
		return;
	}
	for (i = 0; s->clients[i]; i++)
		;
	c = xcalloc(1, sizeof(*c));
	*c = (struct api_client){ .srv = s, .fd = fd, .events = EPOLLIN,
				  .active_ns = vm_now_ns() };
	c->started_ns = c->active_ns; /* a client that connects and says nothing times out */
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = c }) < 0) {
		(void)close(fd);
		free(c);
		return;
	}
	s->clients[i] = c;
	if (s->n_clients++ == 0)
		timer_arm(s, true);
	s->n_accepted++;
}

static void server_accept(struct api_server *s)
{
	/* A bounded batch: a flood of connects must not keep the loop from the other fds. */
	for (int k = 0; k < API_BATCH; k++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		server_add_client(s, fd);
	}
}

/*
 * Once a second: a request that takes longer than the request timeout to arrive (a client
 * that sends half a request and stops: 408; one that connects and sends nothing: closed), or
 * a reply not taken as long, ends its connection; an idle keep-alive connection ends after the
 * idle timeout.
 */
static void server_on_timer(struct api_server *s)
{
	uint64_t now = vm_now_ns(), ticks;

	(void)!read(s->tfd, &ticks, sizeof(ticks));
	for (size_t i = 0; i < API_MAX_CLIENTS; i++) {
		struct api_client *c = s->clients[i];

		if (!c)
			continue;
		if (c->out && now - c->active_ns > s->request_timeout_ns) {
			s->n_timeouts++;
			client_close(c);
		} else if (!c->out && (c->in_len || !c->served) &&
			   now - c->started_ns > s->request_timeout_ns) {
			s->n_timeouts++;
			if (c->proto == API_PROTO_LINES || !c->in_len) {
				client_close(c);
				continue;
			}
			cleanup_free char *body = api_fault_body("the request did not arrive in time");

			c->closing = true;
			client_reply_http(c, 408, body, NULL);
			client_run(c);
		} else if (!c->out && !c->in_len && c->served &&
			   now - c->active_ns > s->idle_timeout_ns) {
			client_close(c);
		}
	}
}

static void server_on_epoll(void *opaque, int fd, uint32_t events)
{
	struct api_server *s = opaque;
	struct epoll_event evs[API_BATCH];
	int n = epoll_wait(s->epfd, evs, API_BATCH, 0);

	for (int i = 0; i < n; i++) {
		void *tag = evs[i].data.ptr;

		if (tag == &tag_listener)
			server_accept(s);
		else if (tag == &tag_timer)
			server_on_timer(s);
		else if (!((struct api_client *)tag)->dead)
			client_on_event(tag, evs[i].events);
	}
	reap_dead(s);
}

static int server_listen(const char *path, int *ret_fd, struct hull_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return hull_err_setx(err, ENAMETOOLONG, "--api-sock %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return hull_err_set(err, errno, "--api-sock: socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hull_err_set(err, errno, "--api-sock %s", path);
	if (listen(fd, API_BACKLOG) < 0) {
		r = errno;
		(void)unlink(path);
		return hull_err_set(err, r, "--api-sock %s: listen", path);
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

int api_server_create(struct vm *vm, const char *path, struct api_server **ret,
		      struct hull_err *err)
{
	struct api_server *s;
	int fd = -1, r;

	r = server_listen(path, &fd, err);
	if (r < 0)
		return r;
	s = xcalloc(1, sizeof(*s));
	s->passed_fd = -1;
	s->vm = vm;
	s->path = xstrdup(path);
	s->fd = fd;
	s->request_timeout_ns = API_REQUEST_TIMEOUT_S * NS_PER_S;
	s->idle_timeout_ns = API_IDLE_TIMEOUT_S * NS_PER_S;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->epfd < 0 || s->tfd < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->fd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &tag_listener }) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd,
		      &(struct epoll_event){ .events = EPOLLIN, .data.ptr = &tag_timer }) < 0) {
		r = hull_err_set(err, errno, "--api-sock: epoll");
		api_server_free(s);
		return r;
	}
	r = evloop_add(vm->loop, s->epfd, EPOLLIN, server_on_epoll, s);
	if (r < 0) {
		api_server_free(s);
		return hull_err_set(err, -r, "--api-sock: event loop");
	}
	*ret = s;
	return 0;
}

void api_server_metrics(struct api_server *s, void (*put)(void *ctx, const char *name,
							   uint64_t value), void *ctx)
{
	if (!s)
		return;
	put(ctx, "connections", s->n_clients);
	put(ctx, "accepted", s->n_accepted);
	put(ctx, "rejected", s->n_rejected);
	put(ctx, "evicted_idle", s->n_evicted);
	put(ctx, "timeouts", s->n_timeouts);
	put(ctx, "requests", s->n_requests);
	put(ctx, "json_lines_requests", s->n_lines);
	put(ctx, "errors", s->n_errors);
}

void api_server_free(struct api_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < API_MAX_CLIENTS; i++)
		if (s->clients[i])
			client_close(s->clients[i]);
	reap_dead(s);
	if (s->passed_fd >= 0)
		(void)close(s->passed_fd);
	if (s->epfd >= 0)
		(void)close(s->epfd);
	if (s->tfd >= 0)
		(void)close(s->tfd);
	if (s->fd >= 0) {
		(void)close(s->fd);
		/* in a --chroot jail the path would name a file inside the jail: left to the caller */
		if (!s->vm || !s->vm->cfg || !s->vm->cfg->chroot)
			(void)unlink(s->path);
	}
	free(s->path);
	free(s);
}
