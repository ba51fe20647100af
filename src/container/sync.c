#include "container/sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"

struct sync_hdr {
	uint32_t type;
	uint32_t len;
};

int sync_send(int fd, enum sync_type type, const void *payload, size_t len)
{
	struct sync_hdr hdr = { .type = (uint32_t)type, .len = (uint32_t)len };
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (len > SYNC_PAYLOAD_MAX)
		return -E2BIG;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(hdr) + len ? 0 : -EIO;
}

int sync_recv(int fd, enum sync_type *ret_type, char **ret_payload)
{
	cleanup_free char *buf = xmalloc(sizeof(struct sync_hdr) + SYNC_PAYLOAD_MAX + 1);
	struct sync_hdr hdr;
	ssize_t n;
	size_t len;

	do
		n = recv(fd, buf, sizeof(struct sync_hdr) + SYNC_PAYLOAD_MAX, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof(hdr));
	len = (size_t)n - sizeof(hdr);
	if (hdr.len != len || hdr.type == 0 || hdr.type >= SYNC_TYPE_COUNT)
		return -EBADMSG;
	*ret_type = (enum sync_type)hdr.type;
	if (ret_payload) {
		char *p = xmalloc(len + 1);

		memcpy(p, buf + sizeof(hdr), len);
		p[len] = '\0';
		*ret_payload = p;
	}
	return (int)len;
}

void sync_fail(int fd, const struct hull_err *err)
{
	(void)sync_send(fd, SYNC_ERR, err, sizeof(*err));
	_exit(1);
}
