#include "container/tty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"

int tty_console_listen(struct tty_console *c, struct hull_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char tmpl[] = "/tmp/hull-tty-XXXXXX";

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	if (!mkdtemp(tmpl))
		return hull_err_set(err, errno, "console socket directory");
	c->dir = xstrdup(tmpl);
	c->path = xasprintf("%s/console.sock", tmpl);
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->listen_fd, 1) < 0)
		return hull_err_set(err, errno, "console socket %s", c->path);
	return 0;
}

int tty_console_receive(struct tty_console *c, int *ret_master, struct hull_err *err)
{
	cleanup_close int conn = -1;
	char data[64];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;

	conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return hull_err_set(err, errno, "console socket: accept");
	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
		return hull_err_set(err, errno, "console socket: receiving the pty");
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return hull_err_setx(err, EPROTO, "console socket: no pty received");
	memcpy(ret_master, CMSG_DATA(cm), sizeof(int));
	return 0;
}

void tty_console_close(struct tty_console *c)
{
	if (c->listen_fd >= 0)
		(void)close(c->listen_fd);
	if (c->path)
		(void)unlink(c->path);
	if (c->dir)
		(void)rmdir(c->dir);
	free(c->path);
	free(c->dir);
	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
}

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	winch = 1;
}

static void copy_winsize(int master)
{
	struct winsize ws;

	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(master, TIOCSWINSZ, &ws);
}

void tty_relay(int master, bool forward_stdin, tty_tap_fn tap, void *opaque)
{
	struct termios saved, raw;
	bool is_tty = isatty(0) && tcgetattr(0, &saved) == 0;
	struct sigaction sa = { .sa_handler = on_winch };
	struct pollfd p[2] = { { .fd = master, .events = POLLIN },
			       { .fd = forward_stdin ? 0 : -1, .events = POLLIN } };
	char buf[1 << 14];

	if (is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		(void)tcsetattr(0, TCSANOW, &raw);
		copy_winsize(master);
		(void)sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGWINCH, &sa, NULL);
	}
	for (;;) {
		int n = poll(p, 2, -1);

		if (winch) {
			winch = 0;
			copy_winsize(master);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t r = read(master, buf, sizeof(buf));

			if (r <= 0 && !(r < 0 && errno == EINTR))
				break; /* EIO: every slave fd is closed */
			if (r > 0 && tap)
				tap(opaque, buf, (size_t)r);
			if (r > 0 && fd_write_all(1, buf, (size_t)r) < 0)
				break;
		}
		if (p[1].fd >= 0 && p[1].revents) {
			ssize_t r = read(0, buf, sizeof(buf));

			if (r <= 0 && !(r < 0 && errno == EINTR)) {
				/* stdin ended: an EOF character tells the program so */
				static const char eot = 4;

				(void)fd_write_all(master, &eot, 1);
				p[1].fd = -1;
			} else if (r > 0) {
				(void)fd_write_all(master, buf, (size_t)r);
			}
		}
	}
	if (is_tty)
		(void)tcsetattr(0, TCSANOW, &saved);
}
