#include "engine/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "common/strv.h"
#include "engine/config.h"
#include "engine/run.h"
#include "engine/tty.h"
#include "oci/runtime.h"

DEFINE_CLEANUP_FUNC(json_t, json_decref)
#define cleanup_json __attribute__((cleanup(json_decref_cleanup)))

/* -e K=V as given; -e K takes our own value, as docker's, and is dropped when we have none */
static char **exec_env(char *const *env, struct hull_err *err)
{
	char **out = xcalloc(1, sizeof(*out));

	for (size_t i = 0; env && env[i]; i++) {
		const char *v;

		if (env[i][0] == '=' || !env[i][0]) {
			(void)hull_err_setx(err, EINVAL, "-e \"%s\": not of the form NAME=VALUE",
					    env[i]);
			strv_free(out);
			return NULL;
		}
		if (strchr(env[i], '=')) {
			strv_push(&out, env[i]);
		} else if ((v = secure_getenv(env[i]))) {
			cleanup_free char *kv = xasprintf("%s=%s", env[i], v);

			strv_push(&out, kv);
		}
	}
	return out;
}

/*
 * -u USER[:GROUP], resolved in the container's own /etc/passwd and /etc/group (through its
 * init's root, volumes included). The groups replace the container's: the user's
 * supplementary groups, or just its primary group.
 */
static int exec_user(pid_t init, const char *spec, struct oci_exec_opts *opts, uint32_t **ret_gids,
		     struct hull_err *err)
{
	cleanup_json json_t *user = NULL;
	cleanup_free char *home = NULL;
	cleanup_close int root = -1;
	char path[64];
	json_t *gids, *g;
	size_t i;
	int r;

	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)init);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return hull_err_set(err, errno, "%s", path);
	r = ctr_user_resolve(spec, root, &user, &home, err);
	if (r < 0)
		return r;
	opts->has_user = true;
	opts->uid = (uint32_t)json_integer_value(json_object_get(user, "uid"));
	opts->gid = (uint32_t)json_integer_value(json_object_get(user, "gid"));
	gids = json_object_get(user, "additionalGids");
	*ret_gids = xcalloc(json_array_size(gids) + 1, sizeof(**ret_gids));
	json_array_foreach(gids, i, g)
		(*ret_gids)[i] = (uint32_t)json_integer_value(g);
	opts->n_additional_gids = json_array_size(gids);
	if (opts->n_additional_gids == 0) {
		(*ret_gids)[0] = opts->gid;
		opts->n_additional_gids = 1;
	}
	opts->additional_gids = *ret_gids;
	return 0;
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
 * The pty of `exec -t`: a new one from the container's own devpts instance (so that `tty`
 * inside names it), or from ours when that cannot be had. The container's /dev/pts/ptmx is
 * opened below its root (RESOLVE_IN_ROOT) and must be the ptmx of a devpts, not a device
 * node the container made.
 */
static int exec_pty(pid_t init, int *ret_master, int *ret_slave, struct hull_err *err)
{
	cleanup_close int root = -1;
	cleanup_close int master = -1;
	char path[64];
	struct stat st;
	struct statfs fs;
	int slave;

	(void)snprintf(path, sizeof(path), "/proc/%d/root", (int)init);
	root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0)
		master = path_open_in_root(root, "/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0,
					   0);
	if (master >= 0 && (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) ||
			    major(st.st_rdev) != 5 || minor(st.st_rdev) != 2 ||
			    fstatfs(master, &fs) < 0 || fs.f_type != DEVPTS_SUPER_MAGIC)) {
		(void)close(master);
		master = -1;
	}
	if (master < 0)
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || unlockpt(master) < 0)
		return hull_err_set(err, errno, "exec -t: open a pty");
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return hull_err_set(err, errno, "exec -t: open the pty's slave");
	*ret_master = steal_fd(&master);
	*ret_slave = slave;
	return 0;
}

/*
 * Have the runtime start the process with stdio (or ours where -1). The fds are made our own
 * 0, 1, 2 for the call and restored after: oci_runtime_exec() closes the caller's fds above
 * 2 before it dup2()s opts.stdio, so a pty or /dev/null passed there is gone ("set up fd 0:
 * Bad file descriptor"). The runtime's own terminal (console socket) is not used: it
 * bind-mounts the pty over the container's /dev/console, which then stays a dead pty and
 * fails the next `exec -t` (see docs/engine.md).
 */
static int start_process(struct image_store *s, struct ctr *c, const int stdio[3],
			 struct oci_exec_opts *opts, pid_t *ret_pid, struct hull_err *err)
{
	cleanup_free char *rroot = xasprintf("%s/runtime", s->root);
	struct oci_runtime_ctx ctx = { .root = rroot };
	int saved[3] = { -1, -1, -1 };
	int r = 0;

	for (int i = 0; i < 3 && r == 0; i++) {
		if (stdio[i] < 0)
			continue;
		saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
		if ((saved[i] < 0 && errno != EBADF) || dup2(stdio[i], i) < 0)
			r = hull_err_set(err, errno, "exec: set up fd %d", i);
	}
	if (r == 0)
		r = oci_runtime_exec(&ctx, c->id, opts, ret_pid, NULL, err);
	for (int i = 0; i < 3; i++) {
		if (stdio[i] < 0)
			continue;
		if (saved[i] >= 0) {
			(void)dup2(saved[i], i);
			(void)close(saved[i]);
		} else {
			(void)close(i);
		}
	}
	return r;
}

int engine_exec(struct image_store *s, struct ctr *c, const struct exec_opts *o, int *ret_exit,
		struct hull_err *err)
{
	cleanup_strv char **env = NULL;
	cleanup_free uint32_t *gids = NULL;
	cleanup_close int devnull = -1;
	cleanup_close int master = -1;
	cleanup_close int slave = -1;
	struct oci_exec_opts opts;
	pid_t init = ctr_pid(c), pid = 0;
	int stdio[3] = { -1, -1, -1 };
	int r, code;

	*ret_exit = 125;
	if (ctr_status_live(c) != CTR_RUNNING || init <= 0)
		return hull_err_setx(err, EINVAL, "container %s is not running", ctr_name(c));
	if (o->workdir && o->workdir[0] != '/')
		return hull_err_setx(err, EINVAL, "-w %s: the working directory must be an "
				     "absolute path", o->workdir);
	env = exec_env(o->env, err);
	if (!env)
		return -err->code;
	oci_exec_opts_init(&opts);
	opts.args = o->args;
	opts.env = env;
	opts.cwd = o->workdir;
	if (o->user && (r = exec_user(init, o->user, &opts, &gids, err)) < 0)
		return r;
	if (o->tty) {
		r = exec_pty(init, &master, &slave, err);
		if (r < 0)
			return r;
		stdio[0] = stdio[1] = stdio[2] = slave;
	} else if (!o->interactive) {
		devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (devnull < 0)
			return hull_err_set(err, errno, "/dev/null");
		stdio[0] = devnull;
	}
	forward_signals();
	r = start_process(s, c, stdio, &opts, &pid, err);
	if (slave >= 0) /* the process's copies only: the pty hangs up when it is done */
		(void)close(steal_fd(&slave));
	if (r == -ESRCH) {
		hull_err_clear(err);
		return hull_err_setx(err, ESRCH, "container %s is not running", ctr_name(c));
	}
	if (r < 0) {
		*ret_exit = failure_exit(err);
		return r;
	}
	forward_to(pid);
	if (master >= 0)
		tty_relay(master, o->interactive, -1);
	code = oci_runtime_wait(pid);
	exec_pid = 0;
	if (code < 0) {
		*ret_exit = 125;
		return hull_err_set(err, -code, "wait for the exec'd process");
	}
	return code;
}
