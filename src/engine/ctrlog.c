#include "engine/ctrlog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "engine/human.h"

int ctr_log_open(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/ctr.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

void ctr_log_chunk(int log_fd, const char *stream, const char *buf, size_t len)
{
	struct timespec ts;
	cleanup_free char *now = NULL;
	cleanup_free char *out = NULL;
	size_t nlines = 1, prefix, pos = 0, off = 0;

	if (log_fd < 0 || len == 0)
		return;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	now = human_rfc3339(&ts);
	for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))); p++)
		nlines++;
	/* "<time> <stream> F " before each line, plus its text and newline */
	prefix = strlen(now) + 1 + strlen(stream) + 3;
	out = xmalloc(nlines * (prefix + 1) + len);
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
		int w = snprintf(out + pos, prefix + 1, "%s %s %c ", now, stream, nl ? 'F' : 'P');

		pos += (size_t)w;
		memcpy(out + pos, buf + off, n);
		pos += n;
		out[pos++] = '\n';
		off += n + (nl ? 1 : 0);
	}
	(void)fd_write_all(log_fd, out, pos);
}

void ctr_log_relay(int log_fd, int out_fd, int err_fd, bool pass_through)
{
	struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN },
			       { .fd = err_fd, .events = POLLIN } };
	int to[2] = { pass_through ? 1 : -1, pass_through ? 2 : -1 };
	int open_fds = (out_fd >= 0) + (err_fd >= 0);
	char buf[1 << 14];

	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0) {
				ctr_log_chunk(log_fd, i ? "stderr" : "stdout", buf, (size_t)n);
				if (to[i] < 0 || fd_write_all(to[i], buf, (size_t)n) == 0)
					continue;
			}
			if (n >= 0 || errno != EINTR) { /* EOF, a read error, or the write failed */
				(void)close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			(void)close(p[i].fd);
}
