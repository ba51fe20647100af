#include "engine/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "engine/run.h"
#include "engine/tty.h"

static int open_ns(pid_t pid, const char *name)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Look a user up in the container's /etc/passwd (we are in its mount namespace). */
static int set_user(const char *spec)
{
	cleanup_free char *u = xstrdup(spec);
	char *group = strchr(u, ':');
	uid_t uid;
	gid_t gid = 0;
	char *end = NULL;

	if (group)
		*group++ = '\0';
	uid = (uid_t)strtoul(u, &end, 10);
	if (end == u || *end) {
		struct passwd *pw = getpwnam(u);

		if (!pw)
			return -ENOENT;
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		struct passwd *pw = getpwuid(uid);

		gid = pw ? pw->pw_gid : 0;
	}
	if (group) {
		gid = (gid_t)strtoul(group, &end, 10);
		if (end == group || *end) {
			struct group *gr = getgrnam(group);

			if (!gr)
				return -ENOENT;
			gid = gr->gr_gid;
		}
	}
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return -errno;
	return 0;
}

static void exec_child(struct ctr *c, const struct exec_opts *o, int errfd)
{
	json_t *env = json_object_get(json_object_get(c->rec, "Config"), "Env");
	const char *cwd = o->workdir ? o->workdir
				     : json_string_value(json_object_get(
					       json_object_get(c->rec, "Config"), "WorkingDir"));
	size_t i;
	json_t *e;
	int code;

	(void)clearenv();
	json_array_foreach(env, i, e) {
		cleanup_free char *kv = xstrdup(json_string_value(e));
		char *eq = strchr(kv, '=');

		if (eq) {
			*eq = '\0';
			(void)setenv(kv, eq + 1, 1);
		}
	}
	for (i = 0; o->env && o->env[i]; i++) {
		cleanup_free char *kv = xstrdup(o->env[i]);
		char *eq = strchr(kv, '=');

		if (eq) {
			*eq = '\0';
			(void)setenv(kv, eq + 1, 1);
		}
	}
	if (o->user && set_user(o->user) < 0) {
		dprintf(errfd, "unable to find user %s\n", o->user);
		_exit(125);
	}
	if (cwd && *cwd && chdir(cwd) < 0) {
		dprintf(errfd, "chdir %s: %s\n", cwd, strerror(errno));
		_exit(125);
	}
	execvp(o->args[0], o->args);
	code = errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	dprintf(errfd, "%s: %s\n", o->args[0], errno == ENOENT ? "executable file not found in "
								 "$PATH" : strerror(errno));
	_exit(code);
}

int engine_exec(struct ctr *c, const struct exec_opts *o, struct hull_err *err)
{
	static const char *const order[] = { "ipc", "uts", "net", "pid", "mnt" };
	int fds[ARRAY_SIZE(order)], errs[ARRAY_SIZE(order)];
	pid_t init = ctr_pid(c), pid;
	int status = 0, r = 0, master = -1, slave = -1;

	if (ctr_status_live(c) != CTR_RUNNING || init <= 0)
		return hull_err_setx(err, EINVAL, "container %s is not running", ctr_name(c));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		fds[i] = open_ns(init, order[i]);
		errs[i] = fds[i] < 0 ? errno : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (fds[i] >= 0 || r < 0)
			continue;
		/* the init exited between the state check and here */
		if (errs[i] == ENOENT || errs[i] == ESRCH)
			r = hull_err_setx(err, ESRCH, "container %s is not running", ctr_name(c));
		else
			r = hull_err_set(err, errs[i], "container %s: namespace %s", ctr_name(c),
					 order[i]);
	}
	if (r < 0)
		goto out;
	if (o->tty && openpty(&master, &slave, NULL, NULL, NULL) < 0) {
		r = hull_err_set(err, errno, "openpty");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		r = hull_err_set(err, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		pid_t child;

		if (o->tty) {
			/* the pty is the process's controlling terminal and stdio */
			(void)close(master);
			if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || dup2(slave, 0) < 0 ||
			    dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
				_exit(125);
			if (slave > 2)
				(void)close(slave);
		} else if (!o->interactive) {
			int dn = open("/dev/null", O_RDONLY);

			if (dn >= 0)
				(void)dup2(dn, 0);
		}
		/* the mount namespace last: its root and cwd become the container's */
		for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
			if (setns(fds[i], 0) < 0) {
				dprintf(2, "hull exec: setns %s: %s\n", order[i], strerror(errno));
				_exit(125);
			}
		}
		/* a pid namespace applies to children only */
		child = fork();
		if (child < 0)
			_exit(125);
		if (child == 0)
			exec_child(c, o, 2);
		while (waitpid(child, &status, 0) < 0)
			if (errno != EINTR)
				_exit(125);
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
		_exit(WEXITSTATUS(status));
	}
	{
		struct sigaction ign = { .sa_handler = SIG_IGN };

		(void)sigaction(SIGINT, &ign, NULL);
	}
	if (o->tty) {
		(void)close(slave);
		slave = -1;
		tty_relay(master, o->interactive, -1);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = hull_err_set(err, errno, "waitpid");
			goto out;
		}
	}
	r = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
out:
	if (master >= 0)
		(void)close(master);
	if (slave >= 0)
		(void)close(slave);
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	return r;
}
