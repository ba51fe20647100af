/* `hull vm`: run a VM on hull's own VMM. Option parsing only; the VMM lives in src/vmm. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"
#include "vmm/initramfs.h"
#include "vmm/vmm.h"

static void vm_usage(FILE *f)
{
	fprintf(f,
		"Usage: hull vm run --kernel BZIMAGE|VMLINUX [--initrd FILE] [--cmdline S]\n"
		"                   [--cpus N] [--memory SIZE]\n"
		"                   [--disk PATH[,ro][,format=raw|qcow2][,serial=ID]]...\n"
		"                   [--rng] [--console serial|virtio|none] [--api-sock PATH]\n"
		"                   [--shutdown-timeout SECONDS] [--raw] [--allow-pvm] [--stats]\n"
		"       hull vm initramfs --output FILE [--init FILE] [--busybox FILE]\n"
		"                   [--module-dir /lib/modules/VERSION] [--module NAME]...\n"
		"                   [--file HOSTPATH:GUESTPATH]...\n"
		"Exit status of run: 0 guest powered off, 3 guest rebooted, 4 guest panicked,\n"
		"5 stopped by hull (a shutdown request timed out, or a second SIGTERM), 125 error.\n"
		"SIGTERM (or {\"op\":\"shutdown\"} on --api-sock) asks the guest to shut down: hull\n"
		"presses Ctrl-Alt-Del on its i8042 and stops it after --shutdown-timeout (30 s).\n");
}

/* --stats: one "hull-vm-stats: key=value ..." line on stderr, for bench/vm-boot. */
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
}

static int vm_run_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "memory", required_argument, NULL, 'm' },
		{ "disk", required_argument, NULL, 'd' },
		{ "console", required_argument, NULL, 'C' },
		{ "api-sock", required_argument, NULL, 'a' },
		{ "rng", no_argument, NULL, 'r' },
		{ "raw", no_argument, NULL, 'R' },
		{ "allow-pvm", no_argument, NULL, 'P' },
		{ "stats", no_argument, NULL, 'S' },
		{ "shutdown-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct vm_config cfg;
	struct vm_stats stats;
	struct hull_err err = { 0 };
	enum vm_stop stop = VM_STOP_NONE;
	char *end;
	unsigned long n;
	int c, r;

	vm_config_init(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'c': cfg.cmdline = optarg; break;
		case 'a': cfg.api_sock = optarg; break;
		case 'r': cfg.rng = true; break;
		case 'R': cfg.kernel_kind = VM_KERNEL_RAW; break;
		case 'P': cfg.allow_pvm = true; break;
		case 'S': cfg.stats = &stats; break;
		case 'p':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 || n > VM_MAX_CPUS) {
				fprintf(stderr, "hull vm run: --cpus %s: must be 1 to %d\n", optarg,
					VM_MAX_CPUS);
				return 125;
			}
			cfg.cpus = (unsigned)n;
			break;
		case 'T':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 || n > 3600) {
				fprintf(stderr,
					"hull vm run: --shutdown-timeout %s: must be 1 to 3600 seconds\n",
					optarg);
				return 125;
			}
			cfg.shutdown_timeout_ms = (unsigned)n * 1000;
			break;
		case 'm':
			if (vm_parse_size(optarg, &cfg.mem_size) < 0) {
				fprintf(stderr, "hull vm run: --memory %s: not a size (e.g. 512M, 2G)\n",
					optarg);
				return 125;
			}
			break;
		case 'd':
			if (cfg.n_disks >= VM_MAX_DISKS) {
				fprintf(stderr, "hull vm run: at most %d --disk\n", VM_MAX_DISKS);
				return 125;
			}
			if (vm_parse_disk(optarg, &cfg.disks[cfg.n_disks], &err) < 0) {
				fprintf(stderr, "hull vm run: %s\n", err.msg);
				return 125;
			}
			cfg.n_disks++;
			break;
		case 'C':
			if (strcmp(optarg, "serial") == 0)
				cfg.console = VM_CONSOLE_SERIAL;
			else if (strcmp(optarg, "none") == 0)
				cfg.console = VM_CONSOLE_NONE;
			else if (strcmp(optarg, "virtio") == 0)
				cfg.console = VM_CONSOLE_VIRTIO;
			else {
				fprintf(stderr,
					"hull vm run: --console %s: expected serial, virtio or none\n",
					optarg);
				return 125;
			}
			break;
		case 'h':
			vm_usage(stdout);
			return 0;
		default:
			vm_usage(stderr);
			return 125;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hull vm run: unexpected argument '%s'\n", argv[optind]);
		return 125;
	}
	if (!cfg.kernel) {
		fprintf(stderr, "hull vm run: --kernel is required\n");
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
	return vmm_stop_exit_code(stop);
}

static int vm_initramfs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "init", required_argument, NULL, 'i' },
		{ "busybox", required_argument, NULL, 'b' },
		{ "module-dir", required_argument, NULL, 'd' },
		{ "module", required_argument, NULL, 'm' },
		{ "file", required_argument, NULL, 'f' },
		{ 0 },
	};
	struct initramfs_spec spec = { 0 };
	struct initramfs_info info;
	cleanup_strv char **modules = NULL;
	cleanup_strv char **files = NULL;
	struct cpio_buf b = { 0 };
	struct hull_err err = { 0 };
	const char *output = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'i': spec.init = optarg; break;
		case 'b': spec.busybox = optarg; break;
		case 'd': spec.module_dir = optarg; break;
		case 'm': strv_push(&modules, optarg); break;
		case 'f': strv_push(&files, optarg); break;
		default:
			vm_usage(stderr);
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
	fflush(stdout);
	(void)execv(path, argv); /* on failure: run in this process */
}
#endif

int cmd_vm(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		vm_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 125 : 0;
	}
	if (strcmp(argv[1], "run") == 0) {
#ifndef HULL_VMM_MAIN
		vm_exec_lean(argv);
#endif
		return vm_run_main(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "initramfs") == 0)
		return vm_initramfs_main(argc - 1, argv + 1);
	fprintf(stderr, "hull vm: unknown command '%s' (see 'hull vm --help')\n", argv[1]);
	return 125;
}
