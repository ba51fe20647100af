/* `hull vm`: run a VM on hull's own VMM. Option parsing only; the VMM lives in src/vmm. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd-vm-agent.h"
#include "cli/cmd-vm-warm.h"
#include "cli/cmd-vm-api.h"
#include "cli/commands.h"
#include "cli/vm-net.h"
#include "cli/vm-opts.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"
#include "engine/vm-agent.h"
#include "vmm/initramfs.h"
#include "vmm/vmm.h"

#ifdef HULL_VMM_MAIN
#define VM_SELF ""           /* hull-vmm */
#define VM_CMD(name) name    /* hull-vmm run */
#else
#define VM_SELF "vm"         /* hull vm */
#define VM_CMD(name) "vm " name /* hull vm run */
#endif

static void vm_run_more(FILE *f)
{
	fprintf(f,
		"DISK is PATH[,ro][,format=raw|qcow2][,serial=ID].\n"
		"--vsock CID: 3 to 4294967294; the API's status shows it as vsock_cid.\n"
		"NET is tap=IFNAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N]: an existing tap interface\n"
		"(ip tuntap add dev IFNAME mode tap); the MAC is random unless given; rate limits\n"
		"rx_bps=SIZE, rx_pps=N, tx_bps=SIZE, tx_pps=N (and _burst after each);\n"
		"vhost=on|off|auto: the frames moved by the kernel (/dev/vhost-net; auto: when it\n"
		"opens and no rate limit is set).\n"
		"Exit status: 0 guest powered off, 3 guest rebooted, 4 guest panicked,\n"
		"5 stopped by hull (a shutdown request timed out, or a second SIGTERM), 125 error.\n"
		"SIGTERM (or `hull vm shutdown --api-sock PATH`) asks the guest to shut down: hull\n"
		"presses Ctrl-Alt-Del on its i8042 and stops it after --shutdown-timeout (30 s).\n"
		"--net network=NAME[,mac=MAC][,ip=ADDR] puts the VM on a hull network (with -p and\n"
		"--name; `hull vm run` only, not hull-vmm): docs/vmm.md \"Networking\".\n");
}

static const struct cli_option vm_run_opts[] = {
	{ "kernel", required_argument, NULL, 'k', "FILE", "the kernel: a bzImage or an ELF vmlinux" },
	{ "initrd", required_argument, NULL, 'i', "FILE", "the initial ram disk" },
	{ "cmdline", required_argument, NULL, 'c', "STRING", "the kernel command line" },
	{ "cpus", required_argument, NULL, 'u', "N", "number of vCPUs" },
	{ "memory", required_argument, NULL, 'm', "SIZE", "guest memory (e.g. 512M, 2G)" },
	{ "disk", required_argument, NULL, 'd', "DISK", "a virtio-blk disk (repeatable)" },
	{ "net", required_argument, NULL, 'n', "NET", "a virtio-net NIC on a tap (repeatable)" },
	{ "console", required_argument, NULL, 'C', "KIND", "serial (default), virtio or none" },
	{ "api-sock", required_argument, NULL, 'a', "PATH", "serve the control API on this socket" },
	{ "rng", no_argument, NULL, 'r', NULL, "add a virtio-rng device" },
	{ "vsock", required_argument, NULL, 'V', "CID|auto",
	  "a virtio-vsock device on /dev/vhost-vsock with this guest CID (auto: a free one)" },
	{ "balloon", required_argument, NULL, 'B', "OPTS",
	  "add a virtio-balloon: on, or amount_mib=N,deflate_on_oom=on,stats=SECONDS,free_page_reporting=on" },
	{ "memory-hotplug", required_argument, NULL, VM_OPT_MEM_HOTPLUG, "SIZE[,block=SIZE]",
	  "a virtio-mem region of SIZE above RAM, plugged with `hull vm update --memory-hotplug`" },
	{ "fs", required_argument, NULL, VM_OPT_FS, "tag=TAG,socket=PATH[,queues=N][,queue-size=N]",
	  "a virtio-fs device served by the vhost-user backend (virtiofsd) on PATH (repeatable)" },
	{ "raw", no_argument, NULL, 'R', NULL, "the kernel is a raw binary loaded at 1 MiB" },
	{ "allow-pvm", no_argument, NULL, 'P', NULL, "use the PVM hypervisor when there is no VMX/SVM" },
	{ "stats", no_argument, NULL, 'S', NULL, "print timings and VM exit counts to stderr" },
	{ "no-irqfd", no_argument, NULL, 'I', NULL,
	  "deliver interrupts with KVM_SIGNAL_MSI, not irqfd (tests the fallback)" },
	{ "shutdown-timeout", required_argument, NULL, 'T', "SECONDS",
	  "how long a shutdown request waits for the guest (default 30)" },
	{ "seccomp-level", required_argument, NULL, 'L', "N",
	  "seccomp filters per thread: 2 (default) with arguments, 1 syscalls only, 0 none" },
	{ "no-seccomp", no_argument, NULL, 'N', NULL, "no seccomp filters (--seccomp-level 0)" },
	{ "hotplug", no_argument, NULL, 0x2400, NULL,
	  "let NICs be hot-plugged through the API (a wider seccomp filter on the main thread)" },
	{ "chroot", required_argument, NULL, 'j', "DIR",
	  "jail: chroot here once every file is open, before the vCPUs run" },
	{ "uid", required_argument, NULL, 'U', "N", "jail: switch to this user id" },
	{ "gid", required_argument, NULL, 'g', "N", "jail: switch to this group id" },
	{ "incoming", required_argument, NULL, 0x1c10, "tcp:ADDR:PORT|unix:PATH",
	  "no kernel: wait there for a live migration (hull vm migrate), then run" },
	{ "test-seccomp-probe", no_argument, NULL, 'Z', NULL,
	  "tests: make a forbidden syscall once confined (the VMM dies of SIGSYS)" },
	/* hull's networks (src/cli/vm-net.c): the hull binary takes them out of argv */
	{ "publish", required_argument, NULL, 'p', "[IP:]HOSTPORT:GUESTPORT[/PROTO]",
	  "publish a guest port (with --net network=)" },
	{ "name", required_argument, NULL, 'E', "NAME",
	  "the VM's DNS name and hostname on its network (with --net network=)" },
	{ 0 },
};
static const struct cli_command vm_run_cmd = {
	.name = VM_CMD("run"), .args = "--kernel FILE [OPTIONS]", .optstring = "m:p:",
	.opts = vm_run_opts, .more = vm_run_more,
	.summary = "Boot a kernel in a KVM virtual machine on hull's own VMM.",
};

static const struct cli_option vm_initramfs_opts[] = {
	{ "output", required_argument, NULL, 'o', "FILE", "write the initramfs (newc cpio) here" },
	{ "init", required_argument, NULL, 'i', "FILE", "the /init program (default: hull's agent)" },
	{ "busybox", required_argument, NULL, 'b', "FILE", "a static busybox to include" },
	{ "module-dir", required_argument, NULL, 'd', "DIR",
	  "where the kernel modules are (/lib/modules/VERSION)" },
	{ "module", required_argument, NULL, 'm', "NAME", "include this module (repeatable)" },
	{ "file", required_argument, NULL, 'f', "HOST:GUEST", "include a file (repeatable)" },
#ifndef HULL_VMM_MAIN
	{ "agent", no_argument, NULL, 0x1800, NULL,
	  "the /init is hull's guest agent (hull-agent, found beside hull)" },
#endif
	{ 0 },
};
static const struct cli_command vm_initramfs_cmd = {
	.name = VM_CMD("initramfs"), .args = "--output FILE [OPTIONS]", .optstring = "o:",
	.opts = vm_initramfs_opts, .summary = "Build an initramfs for a VM's guest.",
};

/*
 * --stats: one "hull-vm-stats: key=value ..." line on stderr, for bench/vm-boot, and one
 * "hull-vm-stop: DETAIL" (why the VM stopped; for a triple fault, where the vCPU was).
 */
static void vm_print_stats(const struct vm_stats *st)
{
	fprintf(stderr, "hull-vm-stats: build_ms=%.3f load_ms=%.3f first_output_ms=%.3f run_ms=%.3f",
		(double)st->build_ns / 1e6, (double)st->load_ns / 1e6,
		(double)st->first_output_ns / 1e6,
		(double)st->run_ns / 1e6);
	for (unsigned k = 0; k < VM_EXIT_KIND_COUNT; k++)
		fprintf(stderr, " exits.%s=%llu", vm_exit_kind_name((enum vm_exit_kind)k),
			(unsigned long long)st->exits[k]);
	fprintf(stderr, " msi_irqfd=%llu msi_ioctl=%llu\n", (unsigned long long)st->msi_irqfd,
		(unsigned long long)st->msi_ioctl);
	/* its own line: the detail has spaces, the line above is key=value words */
	fprintf(stderr, "hull-vm-stop: %s\n", st->stop_detail);
}

/*
 * The VMM keeps only the files it opens (docs/vmm.md, "Confinement"): whatever the caller
 * left open past stdin, stdout and stderr (a shell's redirections, a parent's pipes) would
 * otherwise stay reachable to a VMM a guest took over. `hull vm run` passes nothing else on
 * purpose; one that must would be named by a flag and kept here.
 */
static void vm_fds_close_inherited(void)
{
	if (close_range(3, ~0U, 0) == 0)
		return;
	/* a kernel before 5.9: one by one, up to the limit */
	for (long fd = 3, max = sysconf(_SC_OPEN_MAX); fd < max && fd < INT_MAX; fd++)
		(void)close((int)fd);
}

/* One option of `vm run` into cfg (the arrays grow in *disks, *nets, *fs): 0, or 125 after
 * one line on stderr. */
static int vm_run_opt(int c, struct vm_config *cfg, struct vm_stats *stats,
		      struct vm_disk_config **disks, struct vm_net_config **nets,
		      struct vm_fs_config **fs)
{
	struct hull_err err = { 0 };

	switch (c) {
	case 'k': cfg->kernel = optarg; break;
	case 'i': cfg->initrd = optarg; break;
	case 'c': cfg->cmdline = optarg; break;
	case 'a': cfg->api_sock = optarg; break;
	case 0x1c10: cfg->incoming = optarg; break;
	case 'r': cfg->rng = cli_opt_on; break;
	case 'R':
		if (cli_opt_on)
			cfg->kernel_kind = VM_KERNEL_RAW;
		break;
	case 'P': cfg->allow_pvm = cli_opt_on; break;
	case 'I': cfg->no_irqfd = cli_opt_on; break;
	case 'S': cfg->stats = cli_opt_on ? stats : NULL; break;
	case 'u':
		if (vm_opt_uint(optarg, &cfg->cpus) < 0) {
			fprintf(stderr, "hull vm run: --cpus %s: not a number of vCPUs\n",
				optarg);
			return 125;
		}
		break;
	case 'N':
		if (cli_opt_on)
			cfg->seccomp_level = 0;
		break;
	case 'Z': cfg->test_seccomp_probe = cli_opt_on; break;
	case 0x2400: cfg->hotplug = cli_opt_on; break; /* hotplug16's id block */
	case 'j': cfg->chroot = optarg; break;
	case 'L':
		if (vm_opt_uint(optarg, &cfg->seccomp_level) < 0) {
			fprintf(stderr, "hull vm run: --seccomp-level %s: expected 0, 1 or 2\n",
				optarg);
			return 125;
		}
		break;
	case 'U':
	case 'g':
		if (vm_opt_id(optarg, c == 'U' ? &cfg->uid : &cfg->gid) < 0) {
			fprintf(stderr, "hull vm run: --%s %s: not a numeric id\n",
				c == 'U' ? "uid" : "gid", optarg);
			return 125;
		}
		break;
	case 'T':
		if (vm_opt_uint(optarg, &cfg->shutdown_timeout_s) < 0) {
			fprintf(stderr,
				"hull vm run: --shutdown-timeout %s: not a number of seconds\n",
				optarg);
			return 125;
		}
		break;
	case 'm':
		if (vm_opt_size(optarg, &cfg->mem_size) < 0) {
			fprintf(stderr, "hull vm run: --memory %s: not a size (e.g. 512M, 2G)\n",
				optarg);
			return 125;
		}
		break;
	case 'd':
		/* how many disks a VM may have is the VMM's to check */
		*disks = xreallocarray(*disks, cfg->n_disks + 1, sizeof(**disks));
		if (vm_opt_disk(optarg, &(*disks)[cfg->n_disks], &err) < 0) {
			fprintf(stderr, "hull vm run: %s\n", err.msg);
			return 125;
		}
		cfg->disks = *disks;
		cfg->n_disks++;
		break;
	case 'V':
		if (vm_opt_vsock(optarg, cfg) < 0) {
			fprintf(stderr, "hull vm run: --vsock %s: expected a CID or auto\n",
				optarg);
			return 125;
		}
		break;
	case 'n':
		/* how many NICs a VM may have is the VMM's to check */
		*nets = xreallocarray(*nets, cfg->n_nets + 1, sizeof(**nets));
		if (vm_opt_net(optarg, &(*nets)[cfg->n_nets], &err) < 0) {
			fprintf(stderr, "hull vm run: %s\n", err.msg);
			return 125;
		}
		cfg->nets = *nets;
		cfg->n_nets++;
		break;
	case 'B':
		if (vm_opt_balloon(optarg, &cfg->balloon, &err) < 0) {
			fprintf(stderr, "hull vm run: %s\n", err.msg);
			return 125;
		}
		break;
	case VM_OPT_MEM_HOTPLUG:
		if (vm_opt_mem_hotplug(optarg, &cfg->mem_hotplug, &err) < 0) {
			fprintf(stderr, "hull vm run: %s\n", err.msg);
			return 125;
		}
		break;
	case VM_OPT_FS:
		/* how many a VM may have is the VMM's to check */
		*fs = xreallocarray(*fs, cfg->n_fs + 1, sizeof(**fs));
		if (vm_opt_fs(optarg, &(*fs)[cfg->n_fs], &err) < 0) {
			fprintf(stderr, "hull vm run: %s\n", err.msg);
			return 125;
		}
		cfg->fs = *fs;
		cfg->n_fs++;
		break;
	case 'p':
	case 'E':
		/* the hull binary took them out (vm-net.c) when --net network= was there */
		fprintf(stderr, "hull vm run: %s needs --net network=NAME (and the hull binary, "
			"not hull-vmm)\n", c == 'p' ? "-p" : "--name");
		return 125;
	case 'C':
		if (vm_opt_console(optarg, &cfg->console) < 0) {
			fprintf(stderr,
				"hull vm run: --console %s: expected serial, virtio or none\n",
				optarg);
			return 125;
		}
		break;
	default:
		return 125;
	}
	return 0;
}

static int vm_run_main(int argc, char **argv)
{
	struct vm_config cfg;
	struct vm_stats stats;
	struct hull_err err = { 0 };
	enum vm_stop stop = VM_STOP_NONE;
	cleanup_free struct vm_disk_config *disks = NULL;
	cleanup_free struct vm_net_config *nets = NULL;
	cleanup_free struct vm_fs_config *fs = NULL;
	int c, r;

	vm_fds_close_inherited();
	vm_config_init(&cfg);
	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_run_cmd)) != -1) {
		if ((r = vm_run_opt(c, &cfg, &stats, &disks, &nets, &fs)) != 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "hull vm run: unexpected argument '%s'\n", argv[optind]);
		return 125;
	}
	fflush(stdout);
	memset(&stats, 0, sizeof(stats));
	r = vmm_run(&cfg, &stop, &err);
	if (cfg.stats && stats.run_ns)
		vm_print_stats(&stats);
	if (r < 0) {
		fprintf(stderr, "hull vm run: %s\n", err.msg);
		return 125;
	}
	if (stop == VM_STOP_KILLED)
		fprintf(stderr, "hull vm run: stopped the VM: the guest did not shut down in time "
			"(or a second SIGTERM)\n");
	if (stop == VM_STOP_MIGRATED)
		fprintf(stderr, "hull vm run: migrated: the VM runs at its destination now\n");
	return vmm_stop_exit_code(stop);
}

static int vm_initramfs_main(int argc, char **argv)
{
	struct initramfs_spec spec = { 0 };
	struct initramfs_info info;
	cleanup_strv char **modules = NULL;
	cleanup_strv char **files = NULL;
	struct cpio_buf b = { 0 };
	struct hull_err err = { 0 };
	const char *output = NULL;
#ifndef HULL_VMM_MAIN
	char agent[PATH_MAX];
#endif
	int c, r;

	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_initramfs_cmd)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'i': spec.init = optarg; break;
		case 'b': spec.busybox = optarg; break;
		case 'd': spec.module_dir = optarg; break;
		case 'm': strv_push(&modules, optarg); break;
		case 'f': strv_push(&files, optarg); break;
#ifndef HULL_VMM_MAIN
		case 0x1800:
			if (vm_agent_binary(agent, sizeof(agent)) < 0) {
				fprintf(stderr, "hull vm initramfs: --agent: no hull-agent beside "
						"hull (guest/agent/ in the build, libexec/hull/ installed)\n");
				return 125;
			}
			spec.init = agent;
			break;
#endif
		default:
			return 125;
		}
	}
	if (!output || optind < argc) {
		fprintf(stderr, "hull vm initramfs: --output FILE is required\n");
		return 125;
	}
	spec.modules = modules;
	spec.files = files;
	r = initramfs_build(&spec, &b, &info, &err);
	if (r == 0 && info.warning[0])
		fprintf(stderr, "hull vm initramfs: warning: %s\n", info.warning);
	if (r == 0) {
		r = fd_write_file_atomic_at(AT_FDCWD, output, b.data, b.len, 0644);
		if (r < 0)
			(void)hull_err_set(&err, -r, "--output %s", output);
	}
	cpio_buf_free(&b);
	if (r < 0) {
		fprintf(stderr, "hull vm initramfs: %s\n", err.msg);
		return 125;
	}
	return 0;
}

#ifndef HULL_VMM_MAIN
/*
 * `hull vm run` in the big hull binary: exec hull-vmm from the same directory when it is
 * there, so that the VM's process maps only what the VMM needs (src/cli/hull-vmm.c). The
 * same argv, with argv[0] "hull-vmm"; HULL_VM_IN_PROCESS=1 keeps the VM in this process.
 * Returns only when there is nothing to exec: the VM then runs here.
 */
static void vm_exec_lean(char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 16];
	const char *env = getenv("HULL_VM_IN_PROCESS");
	ssize_t n;
	char *slash;

	if (env && strcmp(env, "1") == 0)
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = '\0';
	(void)snprintf(path, sizeof(path), "%s/hull-vmm", self);
	if (access(path, X_OK) < 0)
		return;
	argv[0] = (char *)"hull-vmm";
	/* its usage and messages then say "hull vm run", as the user typed (hull-vmm.c) */
	(void)setenv("HULL_VMM_PROG", "hull vm", 1);
	fflush(stdout);
	(void)execv(path, argv); /* on failure: run in this process */
}
#endif

static void vm_commands(FILE *f)
{
	fprintf(f, "Commands:\n  %-10s %s\n  %-10s %s\n  %-10s %s\n  %-10s %s\n  %-10s %s\n",
		"run", vm_run_cmd.summary, "initramfs", vm_initramfs_cmd.summary, "update",
		"Resize a running VM (balloon, disk size).", "snapshot",
		"Snapshot a running VM into a directory.", "restore",
		"Run a VM from a snapshot directory.");
	fprintf(f, "  %-10s %s\n", "migrate", "Live-migrate a running VM to another hull.");
	vm_api_commands(f);
#ifndef HULL_VMM_MAIN
	fprintf(f, "  %-10s %s\n", "agent", "Run a process in a guest through hull's guest agent.");
	fprintf(f, "  %-10s %s\n", "warm", "Build the warm snapshot `hull run --vm` restores.");
#endif
	fprintf(f, "\nRun '%s %sCOMMAND --help' for a command's options.\n", cli_prog, VM_CMD(""));
}

int cmd_vm(int argc, char **argv)
{
	static const struct cli_option opts[] = {
#ifdef HULL_VMM_MAIN
		{ "version", no_argument, NULL, 'v', NULL, "print the version and exit" },
#endif
		{ 0 },
	};
	static const struct cli_command def = {
		.name = VM_SELF, .args = "COMMAND [OPTIONS]", .optstring = "+", .opts = opts,
		.more = vm_commands, .summary = "Run virtual machines on hull's own KVM VMM.",
	};
	int c;

	while ((c = cli_getopt(argc, argv, &def)) != -1) {
		if (c != 'v')
			return 125;
		printf("%s version %s\n", cli_prog, HULL_VERSION);
		return 0;
	}
	if (optind >= argc) {
		cli_usage(stderr, &def);
		return 125;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (strcmp(argv[1], "version") == 0) {
		printf("%s version %s\n", cli_prog, HULL_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 && argc == 3) {
		/* hull vm help run: that command's --help */
		char *args[] = { argv[2], (char *)"--help", NULL };

		if (strcmp(argv[2], "run") == 0)
			return vm_run_main(2, args);
		if (strcmp(argv[2], "initramfs") == 0)
			return vm_initramfs_main(2, args);
		if (vm_api_is_verb(argv[2]))
			return vm_api_main(2, args);
		if (strcmp(argv[2], "update") == 0)
			return vm_update_main(2, args);
		if (strcmp(argv[2], "snapshot") == 0)
			return vm_snapshot_main(2, args);
		if (strcmp(argv[2], "restore") == 0)
			return vm_restore_main(2, args);
#ifndef HULL_VMM_MAIN
		if (strcmp(argv[2], "agent") == 0)
			return vm_agent_main(2, args);
		if (strcmp(argv[2], "warm") == 0)
			return vm_warm_main(2, args);
#endif
		if (strcmp(argv[2], "migrate") == 0)
			return vm_migrate_main(2, args);
	}
	if (strcmp(argv[1], "help") == 0 && argc == 2) {
		cli_usage(stdout, &def);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc > 3)
			fprintf(stderr, "%s%s%s help: one COMMAND, not '%s'\n", cli_prog,
				VM_SELF[0] ? " " : "", VM_SELF, argv[3]);
		else
			fprintf(stderr, "%s%s%s help: unknown command '%s'\n", cli_prog,
				VM_SELF[0] ? " " : "", VM_SELF, argv[2]);
		return 125;
	}
	if (strcmp(argv[1], "run") == 0) {
#ifndef HULL_VMM_MAIN
		int rc = vm_net_run(&vm_run_cmd, argc - 1, argv + 1);

		if (rc >= 0)
			return rc;
		vm_exec_lean(argv);
#endif
		return vm_run_main(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "initramfs") == 0)
		return vm_initramfs_main(argc - 1, argv + 1);
#ifndef HULL_VMM_MAIN
	if (strcmp(argv[1], "agent") == 0) /* the guest agent's client: the engine's, not hull-vmm's */
		return vm_agent_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "warm") == 0)
		return vm_warm_main(argc - 1, argv + 1);
#endif
	if (vm_api_is_verb(argv[1]))
		return vm_api_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "update") == 0)
		return vm_update_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "snapshot") == 0)
		return vm_snapshot_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "migrate") == 0)
		return vm_migrate_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "restore") == 0) {
#ifndef HULL_VMM_MAIN
		vm_exec_lean(argv);
#endif
		return vm_restore_main(argc - 1, argv + 1);
	}
	fprintf(stderr, "hull vm: unknown command '%s' (see 'hull vm --help')\n", argv[1]);
	return 125;
}
