#include "oci/hooks.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"

static int wait_hook(pid_t pid, int timeout, int *ret_status)
{
	cleanup_close int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int r;

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		do
			r = poll(&p, 1, timeout > 0 ? timeout * 1000 : -1);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
			return -ETIMEDOUT;
		}
	}
	while (waitpid(pid, ret_status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int run_one(const struct oci_hook *h, bool inherit_env, const char *state_json,
		   int *ret_status)
{
	char *const default_args[] = { h->path, NULL };
	char *const no_env[] = { NULL };
	cleanup_close int sv0 = -1, sv1 = -1;
	int sv[2];
	pid_t pid;

	if (access(h->path, X_OK) < 0)
		return -errno;
	/* A socket rather than a pipe: send() with MSG_NOSIGNAL cannot raise SIGPIPE when
	 * the hook exits without reading its stdin. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	sv0 = sv[0];
	sv1 = sv[1];
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (dup2(sv1, STDIN_FILENO) < 0)
			_exit(127);
		(void)shutdown(STDIN_FILENO, SHUT_WR);
		/* Without env, the runtime's environment (as runc's exec.Cmd and crun); not
		 * into the container (startContainer runs there). */
		char *const *args = h->args && h->args[0] ? h->args : default_args;

		if (!h->env && inherit_env)
			execv(h->path, args); /* the runtime's own environment, as exec(3) passes it */
		else
			execve(h->path, args, h->env ? h->env : no_env);
		_exit(127);
	}
	(void)close(steal_fd(&sv1));
	if (h->timeout > 0) {
		/* A hook that neither reads nor exits must not block us past its timeout. */
		struct timeval tv = { .tv_sec = h->timeout };

		(void)setsockopt(sv0, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	(void)send(sv0, state_json, strlen(state_json), MSG_NOSIGNAL);
	(void)shutdown(sv0, SHUT_WR);
	return wait_hook(pid, h->timeout, ret_status);
}

int oci_hook_run(const struct oci_hook *h, size_t i, enum oci_hook_kind kind,
		 const char *state_json, struct hull_err *err)
{
	int status = 0, r;

	r = run_one(h, kind != OCI_HOOK_START_CONTAINER, state_json, &status);
	if (r == -ETIMEDOUT)
		return hull_err_setx(err, ETIMEDOUT, "%s hook #%zu (%s): timed out after %d s",
				     spec_hook_name(kind), i, h->path, h->timeout);
	if (r < 0)
		return hull_err_set(err, -r, "%s hook #%zu (%s)", spec_hook_name(kind), i, h->path);
	if (WIFSIGNALED(status))
		return hull_err_setx(err, ECHILD, "%s hook #%zu (%s): killed by signal %d",
				     spec_hook_name(kind), i, h->path, WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		return hull_err_setx(err, ECHILD, "%s hook #%zu (%s): exited with status %d",
				     spec_hook_name(kind), i, h->path, WEXITSTATUS(status));
	return 0;
}

int oci_hooks_run(const struct oci_hook *hooks, size_t n, enum oci_hook_kind kind,
		  const char *state_json, struct hull_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = oci_hook_run(&hooks[i], i, kind, state_json, err);

		if (r < 0)
			return r;
	}
	return 0;
}
