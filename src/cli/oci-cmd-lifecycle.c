/* hull-oci create, run, start, kill, delete: thin wrappers over src/oci/runtime.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/oci-cli.h"
#include "container/tty.h"
#include "spec/spec.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/signame.h"

int oci_cli_fail(const struct hull_err *err)
{
	log_error("%s", err->msg[0] ? err->msg : "unknown error");
	return 1;
}

int oci_cli_nargs(const char *cmd, int have, int min, int max)
{
	if (have >= min && have <= max)
		return 0;
	if (min == max)
		log_error("\"%s\" requires exactly %d argument(s)", cmd, min);
	else
		log_error("\"%s\" requires %d to %d argument(s)", cmd, min, max);
	return 1;
}

enum { OPT_BUNDLE = 'b', OPT_DETACH = 'd', OPT_PIDFILE = 256, OPT_CONSOLE, OPT_NOPIVOT,
       OPT_NOKEYRING, OPT_PRESERVE, OPT_KEEP, OPT_NOSUBREAPER, OPT_PIDFD };

/* Options shared by create and run. Returns -1 to go on, else an exit code. */
static int parse_create(int argc, char **argv, bool is_run, const char **bundle,
			struct oci_create_opts *o, bool *detach, bool *keep)
{
#define CREATE_OPTS                                                                             \
	{ "bundle", required_argument, NULL, OPT_BUNDLE, "DIR",                                  \
	  "the bundle: config.json and the root file system (default: .)" },                    \
	{ "pid-file", required_argument, NULL, OPT_PIDFILE, "FILE", "write the init's pid here" }, \
	{ "console-socket", required_argument, NULL, OPT_CONSOLE, "PATH",                         \
	  "send the terminal's master fd to this unix socket" },                                  \
	{ "pidfd-socket", required_argument, NULL, OPT_PIDFD, "PATH", "accepted, ignored" },      \
	{ "no-pivot", no_argument, NULL, OPT_NOPIVOT, NULL, "use chroot-like MS_MOVE, not pivot_root" }, \
	{ "no-new-keyring", no_argument, NULL, OPT_NOKEYRING, NULL,                               \
	  "keep the caller's session keyring" },                                                   \
	{ "preserve-fds", required_argument, NULL, OPT_PRESERVE, "N",                             \
	  "pass N more file descriptors (from fd 3)" }
	static const struct cli_option create_opts[] = { CREATE_OPTS, { 0 } };
	static const struct cli_option run_opts[] = {
		CREATE_OPTS,
		{ "detach", no_argument, NULL, OPT_DETACH, NULL, "do not wait for the container" },
		{ "keep", no_argument, NULL, OPT_KEEP, NULL, "do not delete the container after it "
							     "exits" },
		{ "no-subreaper", no_argument, NULL, OPT_NOSUBREAPER, NULL, "accepted, ignored" },
		{ 0 },
	};
#undef CREATE_OPTS
	static const struct cli_command create_cmd = {
		.name = "create", .args = "[OPTIONS] CONTAINER_ID", .optstring = "+b:",
		.opts = create_opts, .flags = CLI_LONG_ONLY,
		.summary = "Create a container from a bundle; 'start' runs its process.",
	};
	static const struct cli_command run_cmd = {
		.name = "run", .args = "[OPTIONS] CONTAINER_ID", .optstring = "+b:d",
		.opts = run_opts, .flags = CLI_LONG_ONLY,
		.summary = "Create and start a container, and wait for it.",
	};
	int c;

	while ((c = cli_getopt(argc, argv, is_run ? &run_cmd : &create_cmd)) != -1) {
		char *end;

		switch (c) {
		case OPT_BUNDLE:
			*bundle = optarg;
			break;
		case OPT_PIDFILE:
			o->pid_file = optarg;
			break;
		case OPT_CONSOLE:
			o->console_socket = optarg;
			break;
		case OPT_NOPIVOT:
			o->no_pivot = cli_opt_on;
			break;
		case OPT_NOKEYRING:
			o->no_new_keyring = cli_opt_on;
			break;
		case OPT_PRESERVE: {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n > 1024) {
				log_error("--preserve-fds: \"%s\" is not a count from 0 to 1024",
					  optarg);
				return 1;
			}
			o->preserve_fds = (unsigned)n;
			break;
		}
		case OPT_DETACH:
		case OPT_KEEP:
		case OPT_NOSUBREAPER:
			if (!is_run)
				goto bad;
			if (c == OPT_DETACH)
				*detach = cli_opt_on;
			if (c == OPT_KEEP)
				*keep = cli_opt_on;
			break;
		case OPT_PIDFD:
			break;
		default:
			goto bad;
		}
	}
	return -1;
bad:
	return 1;
}

int oci_cmd_create(struct oci_cli *cli, int argc, char **argv)
{
	struct oci_create_opts o;
	struct hull_err err = { 0 };
	const char *bundle = ".";
	bool detach = false, keep = false;
	pid_t pid;
	int r;

	oci_create_opts_init(&o);
	if ((r = parse_create(argc, argv, false, &bundle, &o, &detach, &keep)) >= 0)
		return r;
	if (oci_cli_nargs("create", argc - optind, 1, 1))
		return 1;
	if (oci_runtime_create(&cli->ctx, argv[optind], bundle, &o, &pid, NULL, &err) < 0)
		return oci_cli_fail(&err);
	return 0;
}

static volatile pid_t forward_pid;

static void forward_signal(int sig)
{
	if (forward_pid > 0)
		(void)kill(forward_pid, sig);
}

/* process.terminal of the bundle's config (false when it does not load: create says why). */
static bool wants_terminal(const char *bundle)
{
	cleanup_oci_spec struct oci_spec *s = NULL;
	struct hull_err err = { 0 };
	bool t = spec_load(bundle, &s, &err) >= 0 && s->process.terminal;

	hull_err_clear(&err);
	return t;
}

/*
 * Foreground with a terminal and no --console-socket: as runc, the container's pty is
 * relayed to our stdio (raw mode on our terminal, its window size, restored at the end).
 * Returns the pty master, -1 after printing the failure (the container is deleted).
 */
static int run_receive_pty(struct oci_cli *cli, const char *id, pid_t pid, struct tty_console *tty)
{
	struct hull_err err = { 0 };
	int master = -1;

	if (tty_console_receive(tty, &master, &err) < 0) {
		(void)oci_cli_fail(&err);
		hull_err_clear(&err);
		(void)oci_runtime_delete(&cli->ctx, id, true, &err);
		(void)oci_runtime_wait(pid);
	}
	tty_console_close(tty);
	return master;
}

int oci_cmd_run(struct oci_cli *cli, int argc, char **argv)
{
	static const int fwd[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };
	struct oci_create_opts o;
	struct hull_err err = { 0 };
	const char *bundle = ".", *id;
	bool detach = false, keep = false;
	struct sigaction sa = { .sa_handler = forward_signal };
	struct tty_console tty = { .listen_fd = -1 };
	cleanup_close int master = -1;
	bool relay = false;
	pid_t pid;
	int r, code;

	oci_create_opts_init(&o);
	if ((r = parse_create(argc, argv, true, &bundle, &o, &detach, &keep)) >= 0)
		return r;
	if (oci_cli_nargs("run", argc - optind, 1, 1))
		return 1;
	id = argv[optind];
	/* In the foreground the container shares our stdio, or with a terminal, gets a pty of
	 * its own that we relay (runc). */
	if (!detach && !o.console_socket && (relay = wants_terminal(bundle))) {
		if (tty_console_listen(&tty, &err) < 0) {
			tty_console_close(&tty);
			return oci_cli_fail(&err);
		}
		o.console_socket = tty.path;
	} else if (!detach && !o.console_socket) {
		o.stdio[0] = 0, o.stdio[1] = 1, o.stdio[2] = 2;
	}
	if (oci_runtime_create(&cli->ctx, id, bundle, &o, &pid, NULL, &err) < 0) {
		tty_console_close(&tty);
		return oci_cli_fail(&err);
	}
	if (relay && (master = run_receive_pty(cli, id, pid, &tty)) < 0)
		return 1;
	if (oci_runtime_start(&cli->ctx, id, &err) < 0) {
		(void)oci_cli_fail(&err);
		hull_err_clear(&err);
		(void)oci_runtime_delete(&cli->ctx, id, true, &err);
		(void)oci_runtime_wait(pid);
		return 1;
	}
	if (detach)
		return 0;
	forward_pid = pid;
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		(void)sigaction(fwd[i], &sa, NULL);
	if (relay)
		tty_relay(master, true, NULL, NULL);
	code = oci_runtime_wait(pid);
	if (code < 0) {
		log_error("wait for the container: %s", strerror(-code));
		code = 1;
	}
	if (!keep && oci_runtime_delete(&cli->ctx, id, true, &err) < 0)
		(void)oci_cli_fail(&err);
	return code;
}

int oci_cmd_start(struct oci_cli *cli, int argc, char **argv)
{
	struct hull_err err = { 0 };
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "start", .args = "CONTAINER_ID", .optstring = "+", .opts = opts,
		.flags = CLI_LONG_ONLY, .summary = "Run the user process of a created container.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return 1;
	if (oci_cli_nargs("start", argc - 1, 1, 1))
		return 1;
	if (oci_runtime_start(&cli->ctx, argv[1], &err) < 0)
		return oci_cli_fail(&err);
	return 0;
}

int oci_cmd_kill(struct oci_cli *cli, int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "all", no_argument, NULL, 'a', NULL, "signal every process of the container" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "kill", .args = "[OPTIONS] CONTAINER_ID [SIGNAL]", .optstring = "+a",
		.opts = opts, .flags = CLI_LONG_ONLY,
		.summary = "Send a signal (default TERM) to a container's init.",
	};
	struct hull_err err = { 0 };
	bool all = false;
	int c, sig = SIGTERM;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 'a')
			return 1;
		all = cli_opt_on;
	}
	if (oci_cli_nargs("kill", argc - optind, 1, 2))
		return 1;
	if (argc - optind == 2 && (sig = signal_parse(argv[optind + 1])) < 0) {
		log_error("kill: unknown signal \"%s\"", argv[optind + 1]);
		return 1;
	}
	if (oci_runtime_kill(&cli->ctx, argv[optind], sig, all, &err) < 0)
		return oci_cli_fail(&err);
	return 0;
}

int oci_cmd_delete(struct oci_cli *cli, int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "force", no_argument, NULL, 'f', NULL, "kill a running container first; a missing "
							   "one is no error" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "delete", .args = "[OPTIONS] CONTAINER_ID", .optstring = "+f",
		.opts = opts, .flags = CLI_LONG_ONLY, .summary = "Delete a stopped container.",
	};
	struct hull_err err = { 0 };
	bool force = false;
	int c, r;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 'f')
			return 1;
		force = cli_opt_on;
	}
	if (oci_cli_nargs("delete", argc - optind, 1, 1))
		return 1;
	r = oci_runtime_delete(&cli->ctx, argv[optind], force, &err);
	/* As runc: deleting a container that does not exist is fine with --force. */
	if (r == -ENOENT && force)
		return 0;
	return r < 0 ? oci_cli_fail(&err) : 0;
}
