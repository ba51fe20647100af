/* hull-oci exec: run a new process inside a running container (runc's command line). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/oci-cli.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/strv.h"

/* As runc: a failed exec (the runtime's own error, not the process's status) exits 255. */
#define EXEC_FAILED 255

enum { OPT_PROCESS = 'p', OPT_TTY = 't', OPT_DETACH = 'd', OPT_ENV = 'e', OPT_USER = 'u',
       OPT_GIDS = 'g', OPT_CAP = 'c', OPT_CONSOLE = 256, OPT_PIDFILE, OPT_CWD, OPT_NNP,
       OPT_APPARMOR, OPT_LABEL, OPT_PRESERVE, OPT_IGNORE_PAUSED, OPT_CGROUP };

struct exec_args {
	struct oci_exec_opts o;
	char **env, **caps;
	uint32_t *gids;
	size_t n_gids;
	bool detach;
};

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > UINT32_MAX || s[0] == '-')
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_user(struct oci_exec_opts *o, const char *arg)
{
	cleanup_free char *u = xstrdup(arg);
	char *g = strchr(u, ':');

	if (g)
		*g++ = '\0';
	if (parse_u32(u, &o->uid) < 0 || (g && parse_u32(g, &o->gid) < 0)) {
		log_error("--user \"%s\": expected uid[:gid] (numbers)", arg);
		return 1;
	}
	o->has_user = true;
	return 0;
}

static int parse_opt(struct exec_args *a, int c, const char *arg)
{
	struct oci_exec_opts *o = &a->o;
	char *end;

	switch (c) {
	case OPT_PROCESS: o->process_file = arg; return 0;
	case OPT_TTY: o->tty = cli_opt_on; return 0;
	case OPT_DETACH: a->detach = cli_opt_on; return 0;
	case OPT_ENV: strv_push(&a->env, arg); return 0;
	case OPT_USER: return parse_user(o, arg);
	case OPT_CAP: strv_push(&a->caps, arg); return 0;
	case OPT_CONSOLE: o->console_socket = arg; return 0;
	case OPT_PIDFILE: o->pid_file = arg; return 0;
	case OPT_CWD: o->cwd = arg; return 0;
	case OPT_NNP: o->no_new_privs = cli_opt_on; return 0;
	case OPT_APPARMOR: o->apparmor = arg; return 0;
	case OPT_LABEL: o->process_label = arg; return 0;
	case OPT_IGNORE_PAUSED: return 0;
	case OPT_GIDS:
		a->gids = xreallocarray(a->gids, a->n_gids + 1, sizeof(uint32_t));
		if (parse_u32(arg, &a->gids[a->n_gids]) < 0) {
			log_error("--additional-gids \"%s\": not a gid", arg);
			return 1;
		}
		a->n_gids++;
		return 0;
	case OPT_PRESERVE: {
		unsigned long n = strtoul(arg, &end, 10);

		if (*end || !*arg || n > 1024) {
			log_error("--preserve-fds: \"%s\" is not a count from 0 to 1024", arg);
			return 1;
		}
		o->preserve_fds = (unsigned)n;
		return 0;
	}
	case OPT_CGROUP: strv_push(&o->cgroups, arg); return 0;
	default:
		return -1;
	}
}

static int parse(struct exec_args *a, int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "process", required_argument, NULL, OPT_PROCESS, "FILE",
		  "the process, as JSON (runtime-spec's process object)" },
		{ "tty", no_argument, NULL, OPT_TTY, NULL, "allocate a pseudo-terminal" },
		{ "detach", no_argument, NULL, OPT_DETACH, NULL, "do not wait for the process" },
		{ "env", required_argument, NULL, OPT_ENV, "KEY=VALUE", "set an environment variable" },
		{ "user", required_argument, NULL, OPT_USER, "UID[:GID]", "run as this user" },
		{ "additional-gids", required_argument, NULL, OPT_GIDS, "GID", "add a group" },
		{ "cap", required_argument, NULL, OPT_CAP, "CAP", "add a capability" },
		{ "console-socket", required_argument, NULL, OPT_CONSOLE, "PATH",
		  "send the terminal's master fd to this unix socket" },
		{ "pid-file", required_argument, NULL, OPT_PIDFILE, "FILE", "write the pid here" },
		{ "cwd", required_argument, NULL, OPT_CWD, "DIR", "working directory" },
		{ "no-new-privs", no_argument, NULL, OPT_NNP, NULL, "set no_new_privs" },
		{ "apparmor", required_argument, NULL, OPT_APPARMOR, "PROFILE", "AppArmor profile" },
		{ "process-label", required_argument, NULL, OPT_LABEL, "LABEL", "SELinux label" },
		{ "preserve-fds", required_argument, NULL, OPT_PRESERVE, "N",
		  "pass N more file descriptors (from fd 3)" },
		{ "ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED, NULL, "accepted, ignored" },
		{ "cgroup", required_argument, NULL, OPT_CGROUP, "[CTRL[,CTRL]:]PATH",
		  "run in this sub-cgroup of the container's (as runc)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "exec", .args = "[OPTIONS] CONTAINER_ID [COMMAND [ARG...]]",
		.optstring = "+p:tde:u:g:c:", .opts = opts, .flags = CLI_LONG_ONLY,
		.summary = "Run a process in a running container.",
	};
	int c, r;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		r = c == '?' ? 1 : parse_opt(a, c, optarg);
		if (r > 0)
			return r;
		if (r < 0)
			return 1;
	}
	return -1;
}

static volatile pid_t forward_pid;

static void forward_signal(int sig)
{
	if (forward_pid > 0)
		(void)kill(forward_pid, sig);
}

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };

/*
 * In the foreground, signals go on to the process. They are blocked from before the exec
 * until forward_pid is known (the exec'd process unblocks them for itself), so that one
 * sent as soon as the process runs is passed on rather than lost or fatal to us.
 */
static void forward_prepare(sigset_t *ret_old)
{
	struct sigaction sa = { .sa_handler = forward_signal };
	sigset_t set;

	(void)sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(forwarded); i++) {
		(void)sigaddset(&set, forwarded[i]);
		(void)sigaction(forwarded[i], &sa, NULL);
	}
	(void)sigprocmask(SIG_BLOCK, &set, ret_old);
}

static int wait_foreground(pid_t pid, const sigset_t *old)
{
	int code;

	forward_pid = pid;
	(void)sigprocmask(SIG_SETMASK, old, NULL);
	code = oci_runtime_wait(pid);
	if (code < 0) {
		log_error("exec: wait for the process: %s", strerror(-code));
		return EXEC_FAILED;
	}
	return code;
}

int oci_cmd_exec(struct oci_cli *cli, int argc, char **argv)
{
	struct exec_args a = { 0 };
	struct hull_err err = { 0 };
	const char *id;
	sigset_t old;
	pid_t pid;
	int r;

	oci_exec_opts_init(&a.o);
	r = parse(&a, argc, argv);
	if (r < 0 && argc - optind < 1)
		r = oci_cli_nargs("exec", argc - optind, 1, 1) ? 1 : 0;
	if (r < 0 && !a.o.process_file && argc - optind < 2) {
		log_error("exec: a command (or --process) is required");
		r = 1;
	}
	if (r < 0) {
		id = argv[optind];
		a.o.args = argv + optind + 1;
		a.o.env = a.env;
		a.o.caps = a.caps;
		a.o.additional_gids = a.gids;
		a.o.n_additional_gids = a.n_gids;
		/* In the foreground the process shares our stdio (and a terminal of ours). */
		if (!a.detach && !a.o.console_socket)
			a.o.stdio[0] = 0, a.o.stdio[1] = 1, a.o.stdio[2] = 2;
		if (!a.detach)
			forward_prepare(&old);
		if (oci_runtime_exec(&cli->ctx, id, &a.o, &pid, NULL, &err) < 0) {
			(void)oci_cli_fail(&err);
			r = EXEC_FAILED;
		} else {
			r = a.detach ? 0 : wait_foreground(pid, &old);
		}
	}
	strv_free(a.env);
	strv_free(a.o.cgroups);
	strv_free(a.caps);
	free(a.gids);
	return r;
}
