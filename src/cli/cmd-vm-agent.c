/*
 * `hull vm agent --cid CID [OPTIONS] -- CMD...`: the guest agent's protocol without the engine
 * (docs/vm-agent.md): connect, RUN (or --exec: EXEC) a process, relay the terminal or stdio,
 * forward signals and window sizes, exit with the process's code (125: hull's own errors).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cmd-vm-agent.h"
#include "cli/opt.h"
#include "common/cleanup.h"
#include "common/signame.h"
#include "common/strv.h"
#include "engine/vm-agent.h"

enum {
	OPT_CID = 0x1800,
	OPT_SOCKET,
	OPT_EXEC,
	OPT_HOSTNAME,
	OPT_TIMEOUT,
	OPT_SIGNAL,
	OPT_GROUP_ADD,
};

static const struct cli_option agent_opts[] = {
	{ "cid", required_argument, NULL, OPT_CID, "CID",
	  "the guest's vsock CID (hull vm run --vsock)" },
	{ "socket", required_argument, NULL, OPT_SOCKET, "PATH",
	  "tests: an agent on a unix socket (hull-agent --unix PATH), no VM" },
	{ "exec", no_argument, NULL, OPT_EXEC, NULL,
	  "one more process (EXEC); default RUN: the container's, its end powers the guest off" },
	{ "interactive", no_argument, NULL, 'i', NULL, "pass stdin to the process" },
	{ "tty", no_argument, NULL, 't', NULL, "a pty in the guest; our terminal in raw mode" },
	{ "env", required_argument, NULL, 'e', "K=V", "an environment variable (K alone: ours)" },
	{ "workdir", required_argument, NULL, 'w', "DIR", "the working directory (absolute)" },
	{ "user", required_argument, NULL, 'u', "UID[:GID]",
	  "numeric user and group (default 0:0; GID 0 with UID alone)" },
	{ "group-add", required_argument, NULL, OPT_GROUP_ADD, "GID",
	  "a supplementary group, numeric (repeatable)" },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME, "NAME", "the guest's hostname (RUN)" },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT, "SECONDS",
	  "how long to wait for the agent to answer (default 60)" },
	{ "signal", required_argument, NULL, OPT_SIGNAL, "SIG",
	  "send SIG to the container's process instead of running one" },
	{ 0 },
};

static void agent_more(FILE *f)
{
	fprintf(f, "Exit status: the process's (128+N when signal N killed it; 126/127 when its\n"
		   "command cannot be executed or is not found), 125 for hull's own errors.\n");
}

static const struct cli_command agent_cmd = {
	.name = "vm agent", .args = "--cid CID [OPTIONS] [--] COMMAND [ARG...]",
	.optstring = "+ite:w:u:", .opts = agent_opts, .more = agent_more,
	.summary = "Run a process in a guest through hull's guest agent (vsock).",
};

#define HULL_AGENT_CLI_GIDS 64

struct agent_args {
	bool have_cid, exec, interactive;
	uint32_t cid;
	const char *socket, *hostname;
	int timeout_ms, sig;
	struct vm_agent_proc p;
	uint32_t gids[HULL_AGENT_CLI_GIDS];
};

static int ctl_wfd = -1; /* the session's control pipe, for the signal handler */

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGWINCH) {
		struct winsize ws;

		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
			(void)vm_agent_ctl_winsize(ctl_wfd, ws.ws_row, ws.ws_col);
	} else {
		(void)vm_agent_ctl_signal(ctl_wfd, sig);
	}
	errno = saved;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int parse_user(struct agent_args *a, const char *s)
{
	cleanup_free char *u = strdup(s);
	char *colon = u ? strchr(u, ':') : NULL;

	if (!u)
		return -ENOMEM;
	if (colon)
		*colon++ = '\0';
	if (parse_u32(u, &a->p.uid) < 0 || (colon && parse_u32(colon, &a->p.gid) < 0))
		return -EINVAL;
	if (!colon)
		a->p.gid = 0; /* docker's, for a user without a passwd entry */
	return 0;
}

/* -e K=V, or -e K: our value of K (dropped when we have none), as docker. */
static void add_env(char ***env, const char *e)
{
	const char *v;

	if (strchr(e, '=')) {
		strv_push(env, e);
		return;
	}
	v = getenv(e);
	if (v) {
		cleanup_free char *kv = NULL;

		if (asprintf(&kv, "%s=%s", e, v) > 0)
			strv_push(env, kv);
	}
}

/* One option into a; 0, or 125 after a message. */
static int agent_opt(struct agent_args *a, int c, char ***env)
{
	uint32_t v;

	switch (c) {
	case OPT_CID:
		if (parse_u32(optarg, &a->cid) < 0 || a->cid < 3 || a->cid == UINT32_MAX) {
			cli_opt_error(&agent_cmd, "--cid %s: expected a guest CID, 3 to 4294967294",
				      optarg);
			return 125;
		}
		a->have_cid = true;
		return 0;
	case OPT_SOCKET: a->socket = optarg; return 0;
	case OPT_EXEC: a->exec = cli_opt_on; return 0;
	case 'i': a->interactive = cli_opt_on; return 0;
	case 't': a->p.tty = cli_opt_on; return 0;
	case 'e': add_env(env, optarg); return 0;
	case 'w':
		if (optarg[0] != '/') {
			cli_opt_error(&agent_cmd, "--workdir %s: not an absolute path", optarg);
			return 125;
		}
		a->p.cwd = optarg;
		return 0;
	case 'u':
		if (parse_user(a, optarg) < 0) {
			cli_opt_error(&agent_cmd, "--user %s: expected UID[:GID], numbers", optarg);
			return 125;
		}
		return 0;
	case OPT_GROUP_ADD:
		if (a->p.n_gids == HULL_AGENT_CLI_GIDS || parse_u32(optarg, &v) < 0) {
			cli_opt_error(&agent_cmd, "--group-add %s: expected a numeric group id "
				      "(at most %d of them)", optarg, HULL_AGENT_CLI_GIDS);
			return 125;
		}
		a->gids[a->p.n_gids++] = v;
		a->p.gids = a->gids;
		return 0;
	case OPT_HOSTNAME: a->p.hostname = optarg; return 0;
	case OPT_TIMEOUT:
		if (parse_u32(optarg, &v) < 0 || v < 1 || v > 86400) {
			cli_opt_error(&agent_cmd, "--timeout %s: expected seconds, 1 to 86400", optarg);
			return 125;
		}
		a->timeout_ms = (int)v * 1000;
		return 0;
	case OPT_SIGNAL:
		a->sig = signal_parse(optarg);
		if (a->sig < 0 || a->sig > 64) {
			cli_opt_error(&agent_cmd, "--signal %s: not a signal", optarg);
			return 125;
		}
		return 0;
	default:
		return 125;
	}
}

/* Our terminal in raw mode while a -t session runs (restored by the caller). */
static bool raw_mode(struct termios *saved)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, saved) < 0)
		return false;
	raw = *saved;
	cfmakeraw(&raw);
	return tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
}

static int agent_run(struct agent_args *a)
{
	int stdio[3] = { a->interactive ? STDIN_FILENO : -1, STDOUT_FILENO, STDERR_FILENO };
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	cleanup_close int fd = -1;
	struct hull_err err = { 0 };
	struct termios saved;
	struct winsize ws;
	bool raw = false;
	int ctl[2], r;

	r = a->socket ? vm_agent_connect_unix(a->socket, a->timeout_ms, &fd, NULL, &err)
		      : vm_agent_connect(a->cid, a->timeout_ms, &fd, NULL, &err);
	if (r < 0) {
		fprintf(stderr, "hull vm agent: %s\n", err.msg);
		return 125;
	}
	if (pipe2(ctl, O_CLOEXEC | O_NONBLOCK) < 0) {
		fprintf(stderr, "hull vm agent: pipe: %s\n", strerror(errno));
		return 125;
	}
	ctl_wfd = ctl[1];
	(void)signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		if (fwd[i] != SIGWINCH || a->p.tty)
			(void)sigaction(fwd[i], &sa, NULL);
	if (a->p.tty && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		a->p.rows = ws.ws_row;
		a->p.cols = ws.ws_col;
	}
	if (a->p.tty)
		raw = raw_mode(&saved);
	r = vm_agent_session(fd, a->exec, &a->p, stdio, ctl[0], &err);
	if (raw)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(ctl[0]);
	close(ctl[1]);
	if (r < 0) {
		fprintf(stderr, "hull vm agent: %s\n", err.msg);
		return 125;
	}
	return r;
}

int vm_agent_main(int argc, char **argv)
{
	struct agent_args a = { .timeout_ms = 60 * 1000 };
	cleanup_strv char **env = calloc(1, sizeof(char *));
	struct hull_err err = { 0 };
	int c, r;

	while ((c = cli_getopt(argc, argv, &agent_cmd)) != -1) {
		r = agent_opt(&a, c, &env);
		if (r)
			return r;
	}
	if (!a.have_cid && !a.socket) {
		cli_opt_error(&agent_cmd, "--cid CID is required");
		return 125;
	}
	if (a.sig) {
		if (optind != argc || a.socket) {
			cli_opt_error(&agent_cmd, "--signal takes no COMMAND (and needs --cid)");
			return 125;
		}
		r = vm_agent_signal(a.cid, a.sig, a.timeout_ms, &err);
		if (r < 0)
			fprintf(stderr, "hull vm agent: %s\n", err.msg);
		return r < 0 ? 125 : 0;
	}
	if (optind >= argc) {
		cli_opt_error(&agent_cmd, "a COMMAND is required");
		return 125;
	}
	a.p.args = argv + optind;
	a.p.env = env;
	return agent_run(&a);
}
