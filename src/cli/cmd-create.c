/* hull create [flags] IMAGE [CMD...] (the flags of `hull run`) */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/create-security.h"
#include "cli/create-lifecycle.h"
#include "cli/create-spec.h"
#include "cli/create-vm.h"
#include "cli/registry-cli.h"
#include "common/alloc.h"
#include "common/mac.h"
#include "common/strv.h"
#include "common/size.h"
#include "engine/human.h"
#include "engine/run.h"
#include "net/net.h"
#include "spec/spec.h"

enum {
	OPT_RM = 256,
	OPT_NAME,
	OPT_ENV_FILE,
	OPT_ENTRYPOINT,
	OPT_CPUS,
	OPT_PIDS,
	OPT_READ_ONLY,
	OPT_CAP_ADD,
	OPT_CAP_DROP,
	OPT_PRIVILEGED,
	OPT_NETWORK,
	OPT_ROOTFS_COPY,
	OPT_MEMORY_SWAP,
	OPT_CPU_SHARES,
	OPT_CPUSET_CPUS,
	OPT_IP,
	OPT_DNS,
	OPT_DNS_SEARCH,
	OPT_ADD_HOST,
	OPT_ALIAS,
	OPT_SHM_SIZE,
	OPT_MOUNT,
	OPT_TMPFS,
	OPT_VOLUMES_FROM,
};
#define OPT_MAC_ADDRESS 0x2100 /* vmnet18's block of long-only ids */

static int env_line(const char *line, void *opaque)
{
	cli_env_push(&((struct run_opts *)opaque)->env, line);
	return 0;
}

static int env_file(const char *cmd, const char *path, struct run_opts *o)
{
	return cli_read_lines(cmd, "--env-file", path, env_line, o);
}

static const char *resource_flag(int opt)
{
	switch (opt) {
	case 'm': return "-m";
	case 'c': return "--cpu-shares";
	case OPT_MEMORY_SWAP: return "--memory-swap";
	case OPT_SHM_SIZE: return "--shm-size";
	case OPT_CPUS: return "--cpus";
	case OPT_CPUSET_CPUS: return "--cpuset-cpus";
	default: return "--pids-limit";
	}
}

/* -m, --memory-swap, --cpus, -c/--cpu-shares, --cpuset-cpus, --pids-limit (docker's rules) */
static int parse_resource(const char *cmd, int opt, const char *arg, struct run_opts *o)
{
	const char *flag = resource_flag(opt);
	char *end = NULL;
	long long n;

	switch (opt) {
	case 'm':
		if (size_parse(arg, SIZE_DOCKER, &o->memory) < 0)
			return cli_usage_error(cmd, "%s %s: invalid size (a number with an optional "
					       "unit b, k, m or g)", flag, arg);
		return 0;
	case OPT_MEMORY_SWAP:
		if (size_parse(arg, SIZE_RUNC, &o->memory_swap) < 0)
			return cli_usage_error(cmd, "%s %s: invalid size (a number with an optional "
					       "unit b, k, m or g, or -1 for unlimited)", flag, arg);
		return 0;
	case OPT_SHM_SIZE:
		/* docker's: a size above 0 (0 or no flag: 64m) */
		if (size_parse(arg, SIZE_DOCKER, &o->shm_size) < 0 || o->shm_size <= 0)
			return cli_usage_error(cmd, "%s %s: invalid size (a number above 0 with an "
					       "optional unit b, k, m or g)", flag, arg);
		return 0;
	case OPT_CPUS:
		o->cpus = strtod(arg, &end);
		if (end == arg || *end || !(o->cpus > 0 && o->cpus <= 4096))
			return cli_usage_error(cmd, "%s %s: invalid number", flag, arg);
		return 0;
	case OPT_CPUSET_CPUS:
		if (!spec_cpu_list_is_valid(arg))
			return cli_usage_error(cmd, "%s %s: invalid CPU list (e.g. 0-3,5)", flag, arg);
		o->cpuset_cpus = arg;
		return 0;
	default:
		break;
	}
	errno = 0;
	n = strtoll(arg, &end, 10);
	if (end == arg || *end || errno == ERANGE)
		return cli_usage_error(cmd, "%s %s: invalid number", flag, arg);
	if (opt == 'c') {
		/* the kernel's range for cpu.shares (it raises 1 to 2); 0: the default */
		if (n < 0 || n > 262144)
			return cli_usage_error(cmd, "%s %s: must be 0 to 262144", flag, arg);
		o->cpu_shares = (uint64_t)n;
		return 0;
	}
	/* --pids-limit: 0 or -1 is unlimited, as docker has it */
	if (n < -1)
		return cli_usage_error(cmd, "%s %s: invalid number", flag, arg);
	o->pids_limit = n > 0 ? n : 0;
	return 0;
}

/* arg as printed in an error: one line whatever it holds */
static char *printable(const char *arg)
{
	char *s = xstrdup(arg);

	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

/* --add-host HOST:IP (docker's; IP may be host-gateway): HOST an RFC 1123 name */
static bool add_host_is_valid(const char *arg)
{
	const char *sep = strchr(arg, ':');
	cleanup_free char *host = sep ? xstrndup(arg, (size_t)(sep - arg)) : NULL;

	return sep && net_host_name_is_valid(host, 253) &&
	       (net_ip_is_valid(sep + 1) || strcmp(sep + 1, "host-gateway") == 0);
}

/* --hostname goes into /etc/hostname and /etc/hosts lines */
static int parse_hostname(const char *cmd, const char *arg, struct run_opts *o)
{
	cleanup_free char *shown = NULL;

	if (!net_host_name_is_valid(arg, 63))
		return cli_usage_error(cmd, "--hostname %s: not a host name (RFC 1123, at most 63 "
				       "characters)", shown = printable(arg));
	o->hostname = arg;
	return 0;
}

/* -p, -P, --ip, --dns, --dns-search, --add-host, --network-alias, --mac-address */
static int parse_net_opt(const char *cmd, int opt, const char *arg, struct run_opts *o)
{
	struct hull_err err = { 0 };
	cleanup_free char *shown = NULL;
	struct net_port p;
	uint32_t a;
	uint8_t mac[6];

	switch (opt) {
	case 'p':
		if (net_port_parse(arg, &p, &err) < 0)
			return cli_fail(cmd, &err);
		strv_push(&o->publish, arg);
		return 0;
	case 'P': o->publish_all = cli_opt_on; return 0;
	case OPT_IP:
		if (net_ip4_parse(arg, &a) < 0)
			return cli_usage_error(cmd, "--ip %s: not an IPv4 address", arg);
		o->ip = arg;
		return 0;
	case OPT_DNS:
		if (!net_ip_is_valid(arg))
			return cli_usage_error(cmd, "--dns %s: not an IP address",
					       shown = printable(arg));
		strv_push(&o->dns, arg);
		return 0;
	case OPT_DNS_SEARCH:
		/* "." is docker's "no search domain" */
		if (strcmp(arg, ".") != 0 && !net_host_name_is_valid(arg, 253))
			return cli_usage_error(cmd, "--dns-search %s: not a domain name",
					       shown = printable(arg));
		strv_push(&o->dns_search, arg);
		return 0;
	case OPT_ADD_HOST:
		if (!add_host_is_valid(arg))
			return cli_usage_error(cmd, "--add-host %s: use HOST:IP (HOST a host name, IP "
					       "an address or host-gateway)", shown = printable(arg));
		strv_push(&o->add_host, arg);
		return 0;
	case OPT_MAC_ADDRESS:
		if (mac_parse(arg, mac) < 0)
			return cli_usage_error(cmd, "--mac-address %s: not a unicast MAC address "
					       "(aa:bb:cc:dd:ee:ff)", shown = printable(arg));
		/* lower case, as the kernel and inspect show it (netavark's static_mac); kept
		 * for the process's life, as argv */
		o->mac_address = xmalloc(MAC_STR_LEN);
		mac_format(mac, (char *)o->mac_address);
		return 0;
	default:
		if (!net_name_is_valid(arg))
			return cli_usage_error(cmd, "--network-alias %s: not a valid name",
					       shown = printable(arg));
		strv_push(&o->aliases, arg);
		return 0;
	}
}

static const struct cli_option run_opts[] = {
	{ "detach", no_argument, NULL, 'd', NULL, "run in the background and print the id" },
	{ "interactive", no_argument, NULL, 'i', NULL, "keep standard input open" },
	{ "tty", no_argument, NULL, 't', NULL, "allocate a pseudo-terminal" },
	{ "rm", no_argument, NULL, OPT_RM, NULL, "remove the container when it exits" },
	{ "name", required_argument, NULL, OPT_NAME, "NAME", "name the container" },
	{ "env", required_argument, NULL, 'e', "KEY=VALUE", "set an environment variable" },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE, "FILE",
	  "read environment variables from FILE, one KEY=VALUE a line" },
	{ "volume", required_argument, NULL, 'v', "[SRC:]DST[:OPTS]",
	  "a volume NAME, a host path (/ or . first) or an anonymous volume at DST" },
	{ "mount", required_argument, NULL, OPT_MOUNT, "type=TYPE,...",
	  "a bind, volume or tmpfs mount (docker's keys)" },
	{ "tmpfs", required_argument, NULL, OPT_TMPFS, "DST[:OPTS]", "mount a tmpfs at DST" },
	{ "volumes-from", required_argument, NULL, OPT_VOLUMES_FROM, "CTR[:ro|rw]",
	  "the volumes and binds of another container" },
	{ "workdir", required_argument, NULL, 'w', "DIR", "working directory in the container" },
	{ "user", required_argument, NULL, 'u', "USER[:GROUP]", "run as this user" },
	{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT, "CMD",
	  "override the image's entrypoint" },
	{ "hostname", required_argument, NULL, 'h', "NAME", "the container's host name" },
	{ "memory", required_argument, NULL, 'm', "SIZE", "memory limit (b, k, m, g)" },
	{ "cpus", required_argument, NULL, OPT_CPUS, "N", "number of CPUs (e.g. 1.5)" },
	{ "shm-size", required_argument, NULL, OPT_SHM_SIZE, "SIZE",
	  "size of /dev/shm (default 64m)" },
	{ "memory-swap", required_argument, NULL, OPT_MEMORY_SWAP, "SIZE",
	  "memory plus swap limit, -1 for unlimited swap" },
	{ "cpu-shares", required_argument, NULL, 'c', "N", "relative CPU weight (0 to 262144)" },
	{ "cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS, "LIST",
	  "CPUs the container may use (e.g. 0-3,5)" },
	{ "pids-limit", required_argument, NULL, OPT_PIDS, "N",
	  "maximum number of processes (-1 or 0: unlimited)" },
	CLI_SPEC_OPTIONS
	{ "read-only", no_argument, NULL, OPT_READ_ONLY, NULL, "mount the root file system "
								"read-only" },
	{ "cap-add", required_argument, NULL, OPT_CAP_ADD, "CAP", "add a capability (or ALL)" },
	{ "cap-drop", required_argument, NULL, OPT_CAP_DROP, "CAP", "drop a capability (or ALL)" },
	{ "privileged", no_argument, NULL, OPT_PRIVILEGED, NULL,
	  "all capabilities, devices and no seccomp filter" },
	CLI_SECURITY_OPTIONS
	{ "network", required_argument, NULL, OPT_NETWORK, "NET",
	  "a network name (default: bridge), none, host or container:ID" },
	{ "net", required_argument, NULL, OPT_NETWORK, "NET", "the same as --network" },
	{ "publish", required_argument, NULL, 'p', "[IP:][HPORT:]CPORT[/PROTO]",
	  "publish a container port (or range) on the host" },
	{ "publish-all", no_argument, NULL, 'P', NULL,
	  "publish the image's exposed ports on free host ports" },
	{ "ip", required_argument, NULL, OPT_IP, "ADDR", "the container's IPv4 address" },
	{ "dns", required_argument, NULL, OPT_DNS, "ADDR", "a name server for resolv.conf" },
	{ "dns-search", required_argument, NULL, OPT_DNS_SEARCH, "DOMAIN",
	  "a search domain for resolv.conf" },
	{ "add-host", required_argument, NULL, OPT_ADD_HOST, "HOST:IP",
	  "add a line to /etc/hosts" },
	{ "network-alias", required_argument, NULL, OPT_ALIAS, "NAME",
	  "another name of the container on its network" },
	{ "mac-address", required_argument, NULL, OPT_MAC_ADDRESS, "MAC",
	  "the container's MAC address on its network (a VM's NIC too)" },
	{ "rootfs-copy", no_argument, NULL, OPT_ROOTFS_COPY, NULL,
	  "copy the image instead of mounting an overlay" },
	CLI_LIFECYCLE_OPTIONS,
	CLI_PULL_OPTIONS,
	CLI_VM_OPTIONS,
	{ 0 },
};

static const struct cli_command run_cmd = {
	.name = "run", .args = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
	.optstring = "+dite:v:w:u:h:m:c:p:P", .opts = run_opts,
	.summary = "Create and run a new container from an image.",
};

static const struct cli_command create_cmd = {
	.name = "create", .args = "[OPTIONS] IMAGE [COMMAND] [ARG...]",
	.optstring = "+dite:v:w:u:h:m:c:p:P", .opts = run_opts,
	.summary = "Create a new container from an image (start it with 'hull start').",
};

int cli_run_opts_parse(const char *cmd, int argc, char **argv, struct run_opts *o,
		       struct cli_pull *pull)
{
	const struct cli_command *def = strcmp(cmd, "run") == 0 ? &run_cmd : &create_cmd;
	const char *swap_arg = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = cli_getopt(argc, argv, def)) != -1) {
		switch (c) {
		case 'd': o->detach = cli_opt_on; break;
		case 'i': o->interactive = cli_opt_on; break;
		case 't': o->tty = cli_opt_on; break;
		case OPT_RM: o->rm = cli_opt_on; break;
		case OPT_NAME: o->name = optarg; break;
		case 'e': cli_env_push(&o->env, optarg); break;
		case OPT_ENV_FILE:
			if (env_file(cmd, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case 'v': strv_push(&o->volumes, optarg); break;
		case OPT_MOUNT: strv_push(&o->mount_args, optarg); break;
		case OPT_TMPFS: strv_push(&o->tmpfs, optarg); break;
		case OPT_VOLUMES_FROM: strv_push(&o->volumes_from, optarg); break;
		case 'w': o->workdir = optarg; break;
		case 'u': o->user = optarg; break;
		case OPT_ENTRYPOINT: o->entrypoint = optarg; break;
		case 'h':
			if (parse_hostname(cmd, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case 'm':
		case OPT_MEMORY_SWAP:
		case OPT_CPUS:
		case 'c':
		case OPT_CPUSET_CPUS:
		case OPT_PIDS:
		case OPT_SHM_SIZE:
			if (parse_resource(cmd, c, optarg, o) != 0)
				return EXIT_ENGINE;
			if (c == OPT_MEMORY_SWAP)
				swap_arg = optarg;
			break;
		case OPT_READ_ONLY: o->read_only = cli_opt_on; break;
		case OPT_CAP_ADD: strv_push(&o->cap_add, optarg); break;
		case OPT_CAP_DROP: strv_push(&o->cap_drop, optarg); break;
		case OPT_PRIVILEGED: o->privileged = cli_opt_on; break;
		case OPT_NETWORK: o->network = optarg; break;
		case 'p':
		case 'P':
		case OPT_IP:
		case OPT_DNS:
		case OPT_DNS_SEARCH:
		case OPT_ADD_HOST:
		case OPT_ALIAS:
		case OPT_MAC_ADDRESS:
			if (parse_net_opt(cmd, c, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case OPT_ROOTFS_COPY: o->force_copy = cli_opt_on; break;
		case CLI_SEC_SECURITY_OPT:
		case CLI_SEC_DEVICE:
		case CLI_SEC_GROUP_ADD:
		case CLI_SEC_SYSCTL:
		case CLI_SEC_ULIMIT:
			if (cli_security_opt(cmd, c, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case CLI_SPEC_FIRST + 1 ... CLI_SPEC_END - 1:
			if (cli_spec_opt(cmd, c, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case CLI_VM_OPT:
		case CLI_VM_KERNEL:
			if (cli_vm_opt(cmd, c, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		case CLI_LC_INIT ... CLI_LC_LAST:
			if (cli_lifecycle_opt(cmd, c, optarg, o) != 0)
				return EXIT_ENGINE;
			break;
		default:
			if (cli_pull_opt(cmd, pull, c, optarg) != 0)
				return EXIT_ENGINE;
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "usage: hull %s [OPTIONS] IMAGE [COMMAND [ARG...]]",
				       cmd);
	if (cli_vm_check(cmd, o) != 0)
		return EXIT_ENGINE;
	{
		struct hull_err err = { 0 };
		enum net_mode m;

		if (net_mode_parse(o->network, &m, &err) < 0)
			return cli_fail(cmd, &err);
	}
	if (cli_security_check(cmd, o) != 0)
		return EXIT_ENGINE;
	if (o->memory_swap != 0 && o->memory == 0)
		return cli_usage_error(cmd, "--memory-swap %s: set a memory limit (-m) too",
				       swap_arg);
	/* The rule is the model's (spec/spec-resources.c); here it is said with the flag. */
	if (spec_memory_swap_check(o->memory, o->memory_swap, "", NULL) < 0)
		return cli_usage_error(cmd, "--memory-swap %s: must not be below the memory limit "
				       "(-m), it is memory plus swap", swap_arg);
	if (cli_lifecycle_check(cmd, o) != 0 || cli_spec_check(cmd, o) != 0)
		return EXIT_ENGINE;
	o->image = argv[optind];
	/* tests point it at a directory of fake handlers (docs/testing.md) */
	o->binfmt_dir = getenv("HULL_BINFMT_MISC");
	if (optind + 1 < argc)
		o->cmd = strv_dup(argv + optind + 1);
	return 0;
}

void cli_run_opts_free(struct run_opts *o)
{
	strv_free(o->env);
	strv_free(o->volumes);
	strv_free(o->mount_args);
	strv_free(o->tmpfs);
	strv_free(o->volumes_from);
	strv_free(o->cap_add);
	strv_free(o->cap_drop);
	strv_free(o->cmd);
	strv_free(o->publish);
	strv_free(o->dns);
	strv_free(o->dns_search);
	strv_free(o->add_host);
	strv_free(o->aliases);
	cli_security_free(o);
	strv_free(o->labels);
	cli_spec_free(o);
	memset(o, 0, sizeof(*o));
}

int cmd_create(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	struct run_opts o;
	struct cli_pull pull;
	struct hull_err err = { 0 };
	int code = 0;

	cli_pull_init(&pull);
	if (cli_run_opts_parse("create", argc, argv, &o, &pull) != 0 ||
	    cli_store_open("create", &s) != 0 || cli_pull_image("create", s, &pull, o.image) != 0) {
		cli_run_opts_free(&o);
		cli_pull_free(&pull);
		return EXIT_ENGINE;
	}
	if (pull.image)
		o.image = pull.image;
	if (engine_create(s, &o, &c, &code, &err) < 0) {
		cli_run_opts_free(&o);
		cli_pull_free(&pull);
		(void)cli_fail("create", &err);
		return code ? code : EXIT_ENGINE;
	}
	cli_run_opts_free(&o);
	cli_pull_free(&pull);
	printf("%s\n", c->id);
	return 0;
}
