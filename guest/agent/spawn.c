/* Starting a RUN/EXEC process (agent.h): pipes or a pty, credentials, cwd, PATH lookup. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent.h"

/* docker's default PATH, for the lookup only, when the process's environment has none */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool test_mode;

void agent_spawn_test_mode(void)
{
	test_mode = true;
}

static int write_file(const char *path, const char *data, char *msg, size_t size)
{
	size_t len = strlen(data), off = 0;
	int fd;

	(void)mkdir("/etc", 0755);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		(void)snprintf(msg, size, "open %s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)snprintf(msg, size, "write %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	return 0;
}

static int apply_run_files(const struct agent_req *r, char *msg, size_t size)
{
	if ((r->flags & HULL_AGENT_PROC_HOSTNAME) && sethostname(r->hostname, strlen(r->hostname))) {
		(void)snprintf(msg, size, "sethostname %s: %s", r->hostname, strerror(errno));
		return -1;
	}
	if ((r->flags & HULL_AGENT_PROC_HOSTS) && write_file("/etc/hosts", r->hosts, msg, size))
		return -1;
	if ((r->flags & HULL_AGENT_PROC_RESOLV) &&
	    write_file("/etc/resolv.conf", r->resolv, msg, size))
		return -1;
	return 0;
}

/* In the child: tell the parent why it gives up (the error pipe), and go. */
static void __attribute__((noreturn, format(printf, 2, 3))) child_fail(int errfd, const char *fmt,
								       ...)
{
	char buf[512];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len > (int)sizeof(buf) - 1)
		len = (int)sizeof(buf) - 1;
	(void)!write(errfd, buf, (size_t)(len > 0 ? len : 0));
	_exit(125);
}

static void mkdir_p(const char *path)
{
	char buf[4096];

	(void)snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		(void)mkdir(buf, 0755);
		*s = '/';
	}
	(void)mkdir(buf, 0755);
}

/* execvpe with the process's own PATH (glibc's would search the agent's), docker's codes. */
static void __attribute__((noreturn)) exec_lookup(char *const *argv, char *const *env)
{
	const char *path = DEFAULT_PATH, *cmd = argv[0];
	int saved = ENOENT;

	for (char *const *e = env; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	if (strchr(cmd, '/')) {
		execve(cmd, argv, env);
		saved = errno;
	} else {
		for (const char *p = path; *p || p == path;) {
			size_t dl = strcspn(p, ":");
			char full[4096];

			if (snprintf(full, sizeof(full), "%.*s%s%s", (int)dl, p, dl ? "/" : "",
				     cmd) < (int)sizeof(full)) {
				execve(full, argv, env);
				if (errno != ENOENT && errno != ENOTDIR)
					saved = errno;
			}
			p += dl;
			if (!*p)
				break;
			p++;
		}
	}
	if (saved == ENOENT) {
		dprintf(2, "exec %s: no such file or directory\n", cmd);
		_exit(127);
	}
	dprintf(2, "exec %s: %s\n", cmd, saved == EACCES ? "permission denied" : strerror(saved));
	_exit(126);
}

static void __attribute__((noreturn)) child_run(const struct agent_req *r, const int fds[3],
						const char *pts, int errfd)
{
	sigset_t all;

	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)setsid();
	if (pts) {
		int t = open(pts, O_RDWR);

		if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
			child_fail(errfd, "open %s: %s", pts, strerror(errno));
		for (int i = 0; i < 3; i++)
			(void)dup2(t, i);
		if (t > 2)
			close(t);
	} else {
		for (int i = 0; i < 3; i++)
			if (dup2(fds[i], i) < 0)
				child_fail(errfd, "dup2: %s", strerror(errno));
	}
	if (r->cwd[0])
		mkdir_p(r->cwd);
	if (setgroups(r->n_gids, r->gids) < 0)
		child_fail(errfd, "setgroups: %s", strerror(errno));
	if (setgid(r->gid) < 0)
		child_fail(errfd, "setgid %u: %s", r->gid, strerror(errno));
	if (setuid(r->uid) < 0)
		child_fail(errfd, "setuid %u: %s", r->uid, strerror(errno));
	if (chdir(r->cwd[0] ? r->cwd : "/") < 0)
		child_fail(errfd, "chdir %s: %s", r->cwd[0] ? r->cwd : "/", strerror(errno));
	exec_lookup(r->args, r->env);
}

/* The pty's master (ret) and the slave's path; -1 with msg. */
static int open_pty(const struct agent_req *r, char *pts, size_t pts_size, char *msg,
		    size_t size)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, pts, pts_size) != 0) {
		(void)snprintf(msg, size, "pty: %s", strerror(errno));
		if (m >= 0)
			close(m);
		return -1;
	}
	if (r->rows && r->cols)
		agent_winsize(m, r->rows, r->cols);
	return m;
}

void agent_winsize(int master, unsigned rows, unsigned cols)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };

	(void)ioctl(master, TIOCSWINSZ, &ws);
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Our ends (p[0] stdin write, p[1] stdout read, p[2] stderr read) and the child's (c[]). */
static int open_pipes(int ours[3], int theirs[3], char *msg, size_t size)
{
	for (int i = 0; i < 3; i++) {
		int pp[2];

		if (pipe2(pp, O_CLOEXEC) < 0) {
			(void)snprintf(msg, size, "pipe: %s", strerror(errno));
			return -1;
		}
		ours[i] = i == 0 ? pp[1] : pp[0];
		theirs[i] = i == 0 ? pp[0] : pp[1];
		(void)fcntl(ours[i], F_SETFL, O_NONBLOCK);
	}
	return 0;
}

int agent_spawn(const struct agent_req *r, bool run, struct agent_child *ret, char *msg,
		size_t size)
{
	int ours[3] = { -1, -1, -1 }, theirs[3] = { -1, -1, -1 }, ep[2];
	char pts[64], why[512];
	ssize_t n;
	pid_t pid;

	if (run && !test_mode && apply_run_files(r, msg, size) < 0)
		return -1;
	if (r->flags & HULL_AGENT_PROC_TTY) {
		ours[1] = open_pty(r, pts, sizeof(pts), msg, size);
		if (ours[1] < 0)
			return -1;
		ours[0] = fcntl(ours[1], F_DUPFD_CLOEXEC, 3);
	} else if (open_pipes(ours, theirs, msg, size) < 0) {
		close_all(ours, 3);
		close_all(theirs, 3);
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		(void)snprintf(msg, size, "pipe: %s", strerror(errno));
		close_all(ours, 3);
		close_all(theirs, 3);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(ep[0]);
		child_run(r, theirs, (r->flags & HULL_AGENT_PROC_TTY) ? pts : NULL, ep[1]);
	}
	close_all(theirs, 3);
	close(ep[1]);
	if (pid < 0) {
		(void)snprintf(msg, size, "fork: %s", strerror(errno));
		close(ep[0]);
		close_all(ours, 3);
		return -1;
	}
	/* EOF when the child exec'd (or died of its own command's failure): it started */
	do
		n = read(ep[0], why, sizeof(why) - 1);
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n > 0) {
		why[n] = '\0';
		(void)snprintf(msg, size, "%s", why);
		(void)waitpid(pid, NULL, 0);
		close_all(ours, 3);
		return -1;
	}
	*ret = (struct agent_child){ .pid = pid, .in_fd = ours[0], .out_fd = ours[1],
				     .err_fd = ours[2] };
	return 0;
}
