/*
 * `hull vm run` on a hull network (cli/vm-net.h): the flags the engine takes (--net
 * network=, -p, --name) are taken out of argv, the engine sets the network up
 * (engine/vmnet.h), and a child enters the VM's namespace and runs `hull vm run` with the
 * rest of argv plus `--net tap=tap0,mac=MAC,queues=N` (with the NIC's other keys: vhost=,
 * rx_bps=...) and the guest's address on the kernel command line. This process stays as the record's owner: it passes SIGTERM/SIGINT on,
 * waits, tears down and exits with the child's status.
 */
#include "cli/vm-net.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/vm-opts.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "engine/vmnet.h"

/* The VMM's default command line (src/vmm/x86/arch.c) when the user gave none. */
#define VM_DEFAULT_CMDLINE "console=ttyS0"

struct vm_net_args {
	char *value;        /* the --net network=... value, copied */
	char *nic;          /* its other keys for the VMM's NIC (",vhost=on,rx_bps=1M"), or "" */
	unsigned queues;    /* queues=N: tap queues and queue pairs (0: one) */
	char **publish;     /* -p values */
	const char *name;   /* --name */
	bool has_tap;       /* a --net tap= was given too */
	char **rest;        /* argv without the above (argv[0] excluded) */
	int cmdline_at;     /* index in rest of the --cmdline value, -1: none */
	bool cmdline_joined; /* rest[cmdline_at] is "--cmdline=VALUE" */
};

static void args_free(struct vm_net_args *a)
{
	free(a->value);
	free(a->nic);
	strv_free(a->publish);
	strv_free(a->rest);
}

/* Whether long option name (len characters) of cmd takes a value. */
static bool long_takes_value(const struct cli_command *cmd, const char *name, size_t len)
{
	for (const struct cli_option *o = cmd->opts; o && (o->name || o->val); o++)
		if (o->name && strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o->has_arg == required_argument;
	return false;
}

/* One value of a flag: "--flag=V", or the next element (*i advanced). NULL: missing. */
static const char *value_of(int argc, char **argv, int *i, size_t name_len)
{
	const char *a = argv[*i];

	if (a[name_len] == '=')
		return a + name_len + 1;
	if (a[name_len] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* One --net value: ours (network=) is kept in a (1); a tap= one stays for the VMM (2). */
static int net_value(const char *v, struct vm_net_args *a)
{
	bool net = strncmp(v, "network=", 8) == 0 || strstr(v, ",network=");
	bool tap = strncmp(v, "tap=", 4) == 0 || strstr(v, ",tap=");

	if (net && tap) {
		fprintf(stderr, "hull vm run: --net %s: network= and tap= for the same NIC: give "
			"one\n", v);
		return -1;
	}
	if (!net) {
		a->has_tap = true;
		return 2;
	}
	if (a->value) {
		fprintf(stderr, "hull vm run: --net %s: one --net network= per VM (for now)\n", v);
		return -1;
	}
	a->value = xstrdup(v);
	return 1;
}

/* An element of argv that is ours: consumed (1), a --net for the VMM (2), not ours (0), or an
 * error (-1). */
static int take(int argc, char **argv, int *i, struct vm_net_args *a)
{
	const char *s = argv[*i], *v;

	if (strncmp(s, "--net", 5) == 0 && (s[5] == '\0' || s[5] == '=')) {
		v = value_of(argc, argv, i, 5);
		if (!v)
			return 0; /* getopt's "requires an argument" later */
		return net_value(v, a);
	}
	if ((strncmp(s, "--publish", 9) == 0 && (s[9] == '\0' || s[9] == '=')) ||
	    strncmp(s, "-p", 2) == 0) {
		v = s[1] == 'p' ? (s[2] ? s + 2 : (*i + 1 < argc ? argv[++*i] : NULL))
				: value_of(argc, argv, i, 9);
		if (!v)
			return 0;
		strv_push(&a->publish, v);
		return 1;
	}
	if (strncmp(s, "--name", 6) == 0 && (s[6] == '\0' || s[6] == '=')) {
		v = value_of(argc, argv, i, 6);
		if (!v)
			return 0;
		a->name = v;
		return 1;
	}
	return 0;
}

/* Whether argv[i], an option of cmd that is not ours, takes the next element as its value. */
static bool takes_next(const struct cli_command *cmd, const char *s)
{
	const char *o;

	if (strncmp(s, "--", 2) == 0)
		return !strchr(s, '=') && long_takes_value(cmd, s + 2, strlen(s + 2));
	if (s[0] != '-' || !s[1] || s[2])
		return false;
	o = strchr(cmd->optstring, s[1]);
	return o && o[1] == ':';
}

/* Keep argv[from..i] for the VMM; note where --cmdline's value is. */
static void keep(char **argv, int from, int i, struct vm_net_args *a)
{
	const char *s = argv[from];

	if (strncmp(s, "--cmdline", 9) == 0 && (s[9] == '\0' || s[9] == '=')) {
		a->cmdline_joined = s[9] == '=';
		a->cmdline_at = (int)strv_length(a->rest) + (a->cmdline_joined ? 0 : 1);
	}
	for (int k = from; k <= i; k++)
		strv_push(&a->rest, argv[k]);
}

/* Split argv (after "run") into ours and the rest; 0, 1 for --help, or -1 after printing. */
static int args_split(const struct cli_command *cmd, int argc, char **argv,
		      struct vm_net_args *a)
{
	a->cmdline_at = -1;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int from = i, r;

		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)
			return 1; /* the usage, from the plain parser */
		if (strcmp(s, "--") == 0) {
			keep(argv, i, argc - 1, a);
			break;
		}
		r = take(argc, argv, &i, a);
		if (r < 0)
			return -1;
		if (r == 1)
			continue;
		/* r == 2: a --net tap= value, the VMM's; else another option of the VMM's */
		if (r == 0 && takes_next(cmd, s) && i + 1 < argc)
			i++;
		keep(argv, from, i, a);
	}
	return 0;
}

/* A key of --net tap= that a NIC on a network takes as well (the VMM's parser checks it). */
static bool nic_key(const char *kv)
{
	static const char *const keys[] = { "vhost=", "rx_", "tx_" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strncmp(kv, keys[i], strlen(keys[i])) == 0)
			return true;
	return false;
}

/*
 * The NIC's keys, checked now by the VMM's own parser (vm_opt_net) so that a typo costs no
 * network setup: 0 with a->queues set, or -1 after printing.
 */
static int nic_check(struct vm_net_args *a, const char *queues)
{
	cleanup_free char *s = xasprintf("tap=" ENGINE_VMNET_TAP "%s%s%s", queues ? "," : "",
					 queues ? queues : "", a->nic);
	struct vm_net_config c;
	struct hull_err err = { 0 };

	if (vm_opt_net(s, &c, &err) < 0) {
		fprintf(stderr, "hull vm run: %s\n", err.msg);
		return -1;
	}
	a->queues = c.queues;
	return 0;
}

/* "key=value" of a --net network= value, into rq (its strings point into v) and a->nic. */
static int request_parse(char *v, struct vmnet_request *rq, struct vm_net_args *a)
{
	char *save = NULL;
	const char *queues = NULL;

	a->nic = xstrdup("");
	for (char *kv = strtok_r(v, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (strncmp(kv, "network=", 8) == 0)
			rq->network = kv + 8;
		else if (strncmp(kv, "mac=", 4) == 0)
			rq->mac = kv + 4;
		else if (strncmp(kv, "ip=", 3) == 0)
			rq->ip = kv + 3;
		else if (strncmp(kv, "queues=", 7) == 0)
			queues = kv;
		else if (nic_key(kv)) {
			char *more = xasprintf("%s,%s", a->nic, kv);

			free(a->nic);
			a->nic = more;
		} else {
			fprintf(stderr, "hull vm run: --net network=: unknown option '%s' "
				"(network=NAME[,mac=MAC][,ip=ADDR][,queues=N][,vhost=on|off|auto]"
				"[,rx_bps=...])\n", kv);
			return -1;
		}
	}
	if (nic_check(a, queues) < 0)
		return -1;
	rq->queues = a->queues;
	return 0;
}

static volatile sig_atomic_t child_pid;

/* A terminal's ^C reaches the child too (same process group): only a kill() is passed on,
 * since a second SIGINT/SIGTERM makes the VMM stop the guest at once. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (child_pid > 0 && si->si_code != SI_KERNEL)
		(void)kill((pid_t)child_pid, sig);
}

/* The child's argv: ourselves as `hull vm run`, the NIC, the rest with the guest's
 * configuration appended to the kernel command line. */
static char **child_argv(struct vm_net_args *a, const struct vmnet *vm)
{
	char **out = NULL;

	strv_push(&out, "hull");
	strv_push(&out, "vm");
	strv_push(&out, "run");
	strv_push(&out, "--net");
	/*
	 * queues=: as many as the tap has (the engine made it multi_queue for more than one);
	 * without it 1, not the VMM's one per vCPU, for the single-queue tap
	 */
	strv_push_owned(&out, xasprintf("tap=" ENGINE_VMNET_TAP ",mac=%s,queues=%u%s", vm->mac,
					a->queues ? a->queues : 1, a->nic));
	for (size_t i = 0; a->rest && a->rest[i]; i++) {
		if ((int)i == a->cmdline_at)
			strv_push_owned(&out, xasprintf("%s %s", a->rest[i], vm->cmdline));
		else
			strv_push(&out, a->rest[i]);
	}
	if (a->cmdline_at < 0) {
		strv_push(&out, "--cmdline");
		strv_push_owned(&out, xasprintf(VM_DEFAULT_CMDLINE " %s", vm->cmdline));
	}
	return out;
}

/*
 * The child: dies with us (we own the record; a VMM left running in a torn-down namespace
 * would be a VM without its network), enters the namespace, execs. HULL_VMNET_EXEC names
 * another program to exec (the tests' stand-in for a VMM).
 */
static void child_exec(const struct vmnet *vm, char **argv, pid_t parent)
{
	const char *alt = getenv("HULL_VMNET_EXEC");
	int fd;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(125);
	fd = open(vm->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "hull vm run: %s: cannot enter the VM's network namespace: %s\n",
			vm->netns, strerror(errno));
		_exit(125);
	}
	(void)close(fd);
	(void)execv(alt && *alt ? alt : "/proc/self/exe", argv);
	fprintf(stderr, "hull vm run: cannot execute %s: %s\n", alt && *alt ? alt : "hull",
		strerror(errno));
	_exit(125);
}

static int run_child(struct image_store *s, struct vm_net_args *a, struct vmnet *vm)
{
	cleanup_strv char **argv = child_argv(a, vm);
	struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO };
	pid_t parent = getpid(), pid;
	int status = 0;

	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)fflush(stdout);
	(void)fflush(stderr);
	pid = fork();
	if (pid == 0)
		child_exec(vm, argv, parent);
	if (pid < 0) {
		fprintf(stderr, "hull vm run: fork: %s\n", strerror(errno));
		engine_vmnet_down(s, vm);
		return EXIT_ENGINE;
	}
	child_pid = pid;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_pid = 0;
	engine_vmnet_down(s, vm);
	/* NICs hot-plugged on hull networks into this VM (`vm update --add-net network=`) are
	 * records owned by its VMM, now gone: torn down with any other orphan */
	(void)engine_vmnet_prune(s);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_ENGINE;
}

int vm_net_run(const struct cli_command *cmd, int argc, char **argv)
{
	struct vm_net_args a = { 0 };
	struct vmnet_request rq = { 0 };
	struct hull_err err = { 0 };
	struct image_store *s = NULL;
	struct vmnet *vm = NULL;
	int rc = EXIT_ENGINE;
	int split;

	split = args_split(cmd, argc, argv, &a);

	if (split < 0)
		goto out;
	if (split == 1 || (!a.value && !a.publish && !a.name)) {
		args_free(&a);
		return -1;
	}
	if (!a.value) {
		fprintf(stderr, "hull vm run: %s needs --net network=NAME\n",
			a.publish ? "-p" : "--name");
		goto out;
	}
	if (a.has_tap) {
		fprintf(stderr, "hull vm run: --net tap=: not with --net network= (the VM runs in "
			"the network's namespace, where the host's taps are not)\n");
		goto out;
	}
	if (request_parse(a.value, &rq, &a) < 0)
		goto out;
	rq.publish = a.publish;
	rq.name = a.name;
	if (cli_store_open("vm run", &s) != 0)
		goto out;
	if (engine_vmnet_up(s, &rq, &vm, &err) < 0) {
		fprintf(stderr, "hull vm run: %s\n", err.msg);
		goto out;
	}
	rc = run_child(s, &a, vm);
out:
	image_store_free(s);
	args_free(&a);
	return rc;
}
