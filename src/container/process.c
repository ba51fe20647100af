#include "container/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "container/caps.h"

const char *process_getenv(const struct oci_process *p, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; p->env && p->env[i]; i++)
		if (strncmp(p->env[i], name, n) == 0 && p->env[i][n] == '=')
			return p->env[i] + n + 1;
	return NULL;
}

/*
 * /dev/console inside is the pty slave, bind-mounted over an empty file, as runc does (so
 * that programs writing to /dev/console reach the terminal, not the host's console).
 * Runs after pivot_root: every path here resolves inside the container.
 */
static int console_bind(int slave, struct hull_err *err)
{
	cleanup_close int fd = -1;
	char src[64];
	struct stat st;

	if (lstat("/dev/console", &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		return hull_err_setx(err, EINVAL, "/dev/console in the container is neither a "
				     "file nor a device");
	fd = open("/dev/console", O_RDONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return hull_err_set(err, errno, "create /dev/console in the container");
	(void)snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
	if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
		return hull_err_set(err, errno, "bind the pty to /dev/console");
	return 0;
}

int process_pty(int sock_fd, const struct oci_process *p, bool bind_console,
		struct hull_err *err)
{
	cleanup_close int master = -1, slave = -1;
	int r;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return hull_err_set(err, errno, "open /dev/ptmx in the container");
	if (unlockpt(master) < 0)
		return hull_err_set(err, errno, "unlockpt");
	/* TIOCGPTPEER opens the slave through the master: no path lookup in /dev/pts. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return hull_err_set(err, errno, "open the pty slave");
	if (p->console_height && p->console_width) {
		struct winsize ws = { .ws_row = (unsigned short)p->console_height,
				      .ws_col = (unsigned short)p->console_width };

		(void)ioctl(master, TIOCSWINSZ, &ws);
	}
	if (bind_console && (r = console_bind(slave, err)) < 0)
		return r;
	/* runc sends the master's file name, "/dev/ptmx", as the message body. */
	if ((r = (int)fd_send_with_fd(sock_fd, master, "/dev/ptmx", strlen("/dev/ptmx"))) < 0)
		return hull_err_set(err, -r, "send the pty master to the console socket");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return hull_err_set(err, errno, "make the pty the controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			return hull_err_set(err, errno, "dup the pty to fd %d", i);
	return 0;
}

int process_console(int sock_fd, const struct oci_process *p, struct hull_err *err)
{
	return process_pty(sock_fd, p, true, err);
}

int process_console_connect(const char *path, struct hull_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return hull_err_setx(err, ENAMETOOLONG, "--console-socket %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return hull_err_set(err, errno, "--console-socket %s", path);
	return steal_fd(&fd);
}

int process_rlimits(const struct oci_process *p, struct hull_err *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct oci_rlimit *rl = &p->rlimits[i];
		struct rlimit lim = { .rlim_cur = rl->soft, .rlim_max = rl->hard };

		/* Raising a hard limit needs CAP_SYS_RESOURCE, which root may lack (it does on
		 * the hull CI hosts): say which limit failed. */
		if (setrlimit(rl->resource, &lim) < 0)
			return hull_err_set(
				err, errno,
				"config.json: process.rlimits[%zu]: setrlimit %s (soft %llu, "
				"hard %llu)",
				i, rl->name, (unsigned long long)rl->soft,
				(unsigned long long)rl->hard);
	}
	return 0;
}

int process_oom_score_adj(const struct oci_process *p, struct hull_err *err)
{
	cleanup_close int fd = -1;
	char buf[16];
	int n, r;

	if (!p->has_oom_score_adj)
		return 0;
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(
			err, errno,
			"config.json: process.oomScoreAdj: open /proc/self/oom_score_adj");
	n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
	r = fd_write_all(fd, buf, (size_t)n);
	if (r < 0)
		return hull_err_set(err, -r, "config.json: process.oomScoreAdj: set %d",
				    p->oom_score_adj);
	return 0;
}

int process_set_user(const struct oci_process *p, struct hull_err *err)
{
	return process_set_user_keep(p, 0, err);
}

int process_set_user_keep(const struct oci_process *p, uint64_t keep, struct hull_err *err)
{
	int r;

	if (p->has_caps && (r = caps_prepare(p, keep, err)) < 0)
		return r;
	if (setgroups(p->n_additional_gids, p->additional_gids) < 0)
		return hull_err_set(err, errno,
				    "config.json: process.user.additionalGids: setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return hull_err_set(err, errno, "config.json: process.user.gid: setgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return hull_err_set(err, errno, "config.json: process.user.uid: setuid %u", p->uid);
	if (p->has_caps && (r = caps_apply(p, keep, err)) < 0)
		return r;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return hull_err_set(err, errno, "config.json: process.noNewPrivileges");
	return 0;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int process_find_exec(const struct oci_process *p, char **ret_path, struct hull_err *err)
{
	const char *name = p->args[0];
	const char *path = process_getenv(p, "PATH");
	cleanup_free char *copy = NULL;
	char *save = NULL;

	if (strchr(name, '/')) {
		struct stat st;

		if (stat(name, &st) < 0)
			return hull_err_set(err, errno, "exec: \"%s\": stat %s", name, name);
		*ret_path = xstrdup(name);
		return 0;
	}
	copy = xstrdup(path ? path
			    : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		cleanup_free char *cand = xasprintf("%s/%s", *dir ? dir : ".", name);

		if (is_executable(cand)) {
			*ret_path = steal_ptr(&cand);
			return 0;
		}
	}
	return hull_err_setx(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

/* The home directory of uid in the container's /etc/passwd (after pivot_root), or NULL. */
static char *passwd_home(uid_t uid)
{
	cleanup_close int fd = open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	cleanup_free char *line = NULL;
	char *home = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	/* The image's file: only a regular one (a fifo would block us), read line by line. */
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r")))
		return NULL;
	fd = -1;
	while (!home && getline(&line, &cap, f) > 0) {
		/* name:passwd:uid:gid:gecos:home:shell */
		char *fields[7] = { 0 }, *save = line, *end;
		size_t n = 0;
		unsigned long u;

		line[strcspn(line, "\n")] = '\0';
		while (n < 7 && save)
			fields[n++] = strsep(&save, ":");
		if (n < 6 || !*fields[2])
			continue;
		errno = 0;
		u = strtoul(fields[2], &end, 10);
		/* The entry's home as it is, even empty (as runc and crun). */
		if (!errno && !*end && u == uid)
			home = xstrdup(fields[5]);
	}
	(void)fclose(f);
	return home;
}

char **process_env_with_home(const struct oci_process *p)
{
	size_t n = 0;
	char **env;
	cleanup_free char *home = NULL;

	if (process_getenv(p, "HOME"))
		return NULL;
	/* runc and crun: HOME from the container's passwd entry for the uid, else "/". */
	home = passwd_home(p->uid);
	while (p->env && p->env[n])
		n++;
	env = xcalloc(n + 2, sizeof(char *));
	if (n)
		memcpy(env, p->env, n * sizeof(char *));
	env[n] = xasprintf("HOME=%s", home ? home : "/");
	return env;
}

void process_stdio_chown(const struct oci_process *p)
{
	for (int i = 0; i < 3; i++) {
		struct stat st;

		/* Pipes and terminals only (not /dev/null, not the caller's files): a process that
		 * is not root must be able to reopen /dev/stdout (runc's fixStdioPermissions).
		 * EPERM in a user namespace where the owner is not mapped: left as it is. */
		if (fstat(i, &st) < 0 || st.st_uid == p->uid || !(S_ISFIFO(st.st_mode) || isatty(i)))
			continue;
		if (fchown(i, p->uid, (gid_t)-1) < 0)
			continue;
	}
}
