#include "engine/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "engine/run.h"
#include "container/tty.h"
#include "engine/backend.h"

/* -e K=V as given; a bare K (the CLI resolves -e K to K=V from its environment) is dropped */
static char **exec_env(char *const *env, struct hull_err *err)
{
	char **out = xcalloc(1, sizeof(*out));

	for (size_t i = 0; env && env[i]; i++) {
		if (env[i][0] == '=' || !env[i][0]) {
			(void)hull_err_setx(err, EINVAL, "-e \"%s\": not of the form NAME=VALUE",
					    env[i]);
			strv_free(out);
			return NULL;
		}
		if (strchr(env[i], '='))
			strv_push(&out, env[i]);
	}
	return out;
}

/* docker's code for a failure to start the process */
static int failure_exit(const struct hull_err *err)
{
	/* process_find_exec()/execve(): "exec: \"NAME\": ..." */
	if (strncmp(err->msg, "exec: \"", 7) == 0)
		return err->code == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
	return EXIT_CANNOT_EXEC;
}

static volatile sig_atomic_t exec_pid, pending_sig;

static void forward_signal(int sig)
{
	if (exec_pid > 0)
		(void)kill((pid_t)exec_pid, sig);
	else
		pending_sig = sig;
}

/*
 * The process is in a session of its own (no terminal's INT reaches it): we forward INT,
 * TERM, HUP, QUIT, USR1 and USR2. Installed before the process starts (the runtime resets
 * them in it); what arrives before its pid is known is sent by forward_to().
 */
static void forward_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa = { .sa_handler = forward_signal, .sa_flags = SA_RESTART };

	(void)sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

static void forward_to(pid_t pid)
{
	exec_pid = pid;
	if (pending_sig)
		(void)kill(pid, pending_sig);
}

/*
 * Have the backend start the process: stdio[] (-1: ours) are dup2()ed in the child before it
 * closes our other fds. With -t the backend makes a pty inside the container, the process's
 * stdio and controlling terminal (so ^C, job control and `tty` work as in docker), and sends
 * its master over the console socket; *ret_master receives it.
 */
static int start_process(const struct engine_backend *b, struct ctr *c, bool tty,
			 struct engine_exec_req *req, pid_t *ret_pid, int *ret_master,
			 struct hull_err *err)
{
	struct tty_console console = { .listen_fd = -1 };
	bool started;
	int r = 0;

	if (tty) {
		r = tty_console_listen(&console, err);
		req->io.console_socket = console.path;
	}
	/*
	 * The backend's child connects and sends the master before it execs, and the call
	 * returns after the exec: the connection waits in our backlog. Non-blocking, so that a
	 * backend that sent nothing is an error here, not a hang.
	 */
	if (r == 0)
		r = b->ops->exec(b, c, req, ret_pid, err);
	started = r == 0;
	if (r == 0 && tty && fcntl(console.listen_fd, F_SETFL, O_NONBLOCK) < 0)
		r = hull_err_set(err, errno, "exec -t: console socket");
	if (r == 0 && tty)
		r = tty_console_receive(&console, ret_master, err);
	if (r < 0 && started) {
		(void)kill(*ret_pid, SIGKILL);
		(void)b->ops->wait(b, *ret_pid);
	}
	tty_console_close(&console);
	return r;
}

int engine_exec(struct image_store *s, struct ctr *c, const struct exec_opts *o, int *ret_exit,
		struct hull_err *err)
{
	cleanup_backend struct engine_backend b = { 0 };
	cleanup_strv char **env = NULL;
	cleanup_close int devnull = -1;
	cleanup_close int master = -1;
	struct engine_exec_req req = { .io = { .stdio = { -1, -1, -1 } } };
	struct engine_user user = { 0 };
	cleanup_free uint32_t *gids = NULL;
	pid_t pid = 0;
	int r, code;

	*ret_exit = 125;
	if (ctr_status_live(c) != CTR_RUNNING || c->state.pid <= 0)
		return hull_err_setx(err, EINVAL, "container %s is not running", c->name);
	if (o->workdir && o->workdir[0] != '/')
		return hull_err_setx(err, EINVAL, "-w %s: the working directory must be an "
				     "absolute path", o->workdir);
	env = exec_env(o->env, err);
	if (!env)
		return -err->code;
	if (engine_backend_open(s, c, &b, err) < 0)
		return -err->code;
	req.args = o->args;
	req.env = env;
	req.cwd = o->workdir;
	/* the user is hull's own check (125), before the backend runs anything */
	if (o->user) {
		r = b.ops->user(&b, c, o->user, &user, err);
		gids = user.gids;
		if (r < 0)
			return r;
		req.user = &user;
	}
	if (!o->tty && !o->interactive) {
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull < 0)
			return hull_err_set(err, errno, "/dev/null");
		req.io.stdio[0] = devnull;
	}
	forward_signals();
	r = start_process(&b, c, o->tty, &req, &pid, &master, err);
	if (r == -ESRCH) {
		hull_err_clear(err);
		return hull_err_setx(err, ESRCH, "container %s is not running", c->name);
	}
	if (r < 0) {
		*ret_exit = failure_exit(err);
		return r;
	}
	forward_to(pid);
	if (master >= 0)
		tty_relay(master, o->interactive, NULL, NULL);
	code = b.ops->wait(&b, pid);
	exec_pid = 0;
	if (code < 0) {
		*ret_exit = 125;
		return hull_err_set(err, -code, "wait for the exec'd process");
	}
	return code;
}
