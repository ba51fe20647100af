/* The control API's client (api-client.h). */
#include "vmm/api-client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"

static int connect_to(const char *sock_path, int *ret_fd, struct hull_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = API_CLIENT_TIMEOUT_S };
	cleanup_close int fd = -1;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return hull_err_setx(err, ENAMETOOLONG, "--api-sock %s: path too long", sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return hull_err_set(err, errno, "--api-sock: socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hull_err_set(err, errno, "--api-sock %s: connect", sock_path);
	*ret_fd = steal_fd(&fd);
	return 0;
}

/* Read until the server closes (the request said Connection: close), at most the bound. */
static int read_reply(int fd, const char *sock_path, char **ret, size_t *ret_len,
		      struct hull_err *err)
{
	cleanup_free char *buf = xmalloc(API_CLIENT_MAX_REPLY + 1);
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, API_CLIENT_MAX_REPLY + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hull_err_set(err, errno == EAGAIN ? ETIMEDOUT : errno,
					    "--api-sock %s: reading the reply", sock_path);
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > API_CLIENT_MAX_REPLY)
			return hull_err_setx(err, EMSGSIZE, "--api-sock %s: reply over %u bytes",
					     sock_path, API_CLIENT_MAX_REPLY);
	}
	buf[len] = '\0';
	*ret_len = len;
	*ret = steal_ptr(&buf);
	return 0;
}

int api_client_request(const char *sock_path, const char *method, const char *path,
		       const char *body, int *ret_status, char **ret_body, struct hull_err *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *req = NULL, *reply = NULL;
	size_t len = 0;
	const char *end;
	int r, status;

	r = connect_to(sock_path, &fd, err);
	if (r < 0)
		return r;
	req = xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
			"Content-Length: %zu\r\n%s\r\n%s",
			method, path, body ? strlen(body) : 0,
			body ? "Content-Type: application/json\r\n" : "", body ? body : "");
	for (size_t off = 0, n = strlen(req); off < n;) {
		/* MSG_NOSIGNAL: a VM that stops meanwhile is an error, not SIGPIPE */
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return hull_err_set(err, errno, "--api-sock %s: sending the request",
					    sock_path);
		off += (size_t)w;
	}
	r = read_reply(fd, sock_path, &reply, &len, err);
	if (r < 0)
		return r;
	end = strstr(reply, "\r\n\r\n");
	if (strlen(reply) != len || !end || sscanf(reply, "HTTP/1.%*1[01] %3d ", &status) != 1 ||
	    status < 100 || status > 599)
		return hull_err_setx(err, EPROTO, "--api-sock %s: the reply is not HTTP/1.1 "
				     "(not a hull VM's API socket?)", sock_path);
	*ret_status = status;
	*ret_body = xstrdup(end + 4);
	return 0;
}
