/*
 * `hull vm snapshot` (a client of the VM's control socket) and `hull vm restore` (a VM built
 * from a snapshot directory, in this process). Option parsing and printing only: src/vmm
 * does the work (snapshot.h, vmm_restore).
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/vm-opts.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "vmm/vmm.h"

#ifdef HULL_VMM_MAIN
#define VM_CMD(name) name
#else
#define VM_CMD(name) "vm " name
#endif

static const struct cli_option vm_snapshot_opts[] = {
	{ "api-sock", required_argument, NULL, 'a', "PATH", "the VM's control socket" },
	{ "out", required_argument, NULL, 'o', "DIR", "write the snapshot into this directory" },
	{ "paused", no_argument, NULL, 'p', NULL, "leave the VM paused after the snapshot" },
	{ "diff", no_argument, NULL, 0x1c20, NULL,
	  "only the pages written since the last snapshot (which DIR then names)" },
	{ 0 },
};
const struct cli_command vm_snapshot_cmd = {
	.name = VM_CMD("snapshot"), .args = "--api-sock PATH --out DIR [--paused] [--diff]",
	.optstring = "", .opts = vm_snapshot_opts,
	.summary = "Snapshot a running VM (vCPUs, devices, memory) into a directory.",
};

/* long-only option ids, in clone17's block (0x1d00) */
#define OPT_RESTORE_NET 0x1d00
#define OPT_RESTORE_VSOCK 0x1d01

static const struct cli_option vm_restore_opts[] = {
	{ "api-sock", required_argument, NULL, 'a', "PATH", "serve the control API on this socket" },
	{ "paused", no_argument, NULL, 'p', NULL, "keep the vCPUs paused until the API's resume" },
	{ "allow-pvm", no_argument, NULL, 'P', NULL, "use the PVM hypervisor when there is no VMX/SVM" },
	{ "hotplug", no_argument, NULL, 0x2400, NULL,
	  "let NICs be hot-plugged through the API (a wider seccomp filter on the main thread)" },
	{ "stats", no_argument, NULL, 'S', NULL, "print the restore's setup time to stderr" },
	{ "net", required_argument, NULL, OPT_RESTORE_NET, "NET",
	  "this clone's tap (tap=IF[,mac=MAC][,rx_bps=...]): one per snapshot NIC, in order" },
	{ "vsock", required_argument, NULL, OPT_RESTORE_VSOCK, "CID|auto",
	  "this clone's vsock CID (default: the snapshot's)" },
	{ 0 },
};
const struct cli_command vm_restore_cmd = {
	.name = VM_CMD("restore"), .args = "DIR [OPTIONS]", .optstring = "", .opts = vm_restore_opts,
	.summary = "Run a VM from a snapshot directory (hull vm snapshot --out DIR).",
};

/* One JSON line to the socket, one line back: the reply's "error" or NULL when ok. */
static int api_request(const char *sock, const char *req, char **ret_err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cleanup_free char *line = xasprintf("%s\n", req);
	char buf[4096];
	size_t len = 0;
	json_t *reply, *e;

	*ret_err = NULL;
	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	if (fd_write_all(fd, line, strlen(line)) < 0)
		return -errno;
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		len += (size_t)n;
	}
	buf[len] = '\0';
	reply = json_loads(buf, 0, NULL);
	if (!reply)
		return -EBADMSG;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		e = json_object_get(reply, "error");
		*ret_err = xstrdup(json_is_string(e) ? json_string_value(e) : "failed");
	}
	json_decref(reply);
	return 0;
}

int vm_snapshot_main(int argc, char **argv)
{
	const char *sock = NULL, *out = NULL;
	cleanup_free char *dir = NULL, *req = NULL, *fail = NULL;
	char cwd[PATH_MAX];
	bool paused = false, diff = false;
	json_t *j;
	int c, r;

	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_snapshot_cmd)) != -1) {
		switch (c) {
		case 'a': sock = optarg; break;
		case 'o': out = optarg; break;
		case 'p': paused = cli_opt_on; break;
		case 0x1c20: diff = cli_opt_on; break;
		default: return 125;
		}
	}
	if (!sock || !out || optind < argc) {
		cli_opt_error(&vm_snapshot_cmd, "--api-sock PATH and --out DIR are required");
		return 125;
	}
	/* the VMM's working directory is not ours: send an absolute path */
	if (out[0] != '/' && getcwd(cwd, sizeof(cwd)))
		dir = xasprintf("%s/%s", cwd, out);
	else
		dir = xstrdup(out);
	j = json_pack("{s:s, s:s, s:b, s:b}", "op", "snapshot", "dir", dir, "resume", !paused,
		      "diff", diff);
	req = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	r = api_request(sock, req, &fail);
	if (r < 0) {
		cli_opt_error(&vm_snapshot_cmd, "--api-sock %s: %s", sock, strerror(-r));
		return 125;
	}
	if (fail) {
		cli_opt_error(&vm_snapshot_cmd, "%s", fail);
		return 125;
	}
	return 0;
}

int vm_restore_main(int argc, char **argv)
{
	struct vm_config opts;
	struct vm_stats stats;
	cleanup_free struct vm_net_config *nets = NULL;
	struct hull_err err = { 0 };
	enum vm_stop stop = VM_STOP_NONE;
	int c, r;

	vm_config_init(&opts);
	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_restore_cmd)) != -1) {
		switch (c) {
		case 'a': opts.api_sock = optarg; break;
		case 'p': opts.start_paused = cli_opt_on; break;
		case 'P': opts.allow_pvm = cli_opt_on; break;
		case 0x2400: opts.hotplug = cli_opt_on; break; /* hotplug16's id block */
		case 'S': opts.stats = cli_opt_on ? &stats : NULL; break;
		case OPT_RESTORE_NET:
			nets = xreallocarray(nets, opts.n_nets + 1, sizeof(*nets));
			if (vm_opt_net(optarg, &nets[opts.n_nets], &err) < 0) {
				cli_opt_error(&vm_restore_cmd, "%s", err.msg);
				return 125;
			}
			opts.nets = nets;
			opts.n_nets++;
			break;
		case OPT_RESTORE_VSOCK:
			if (vm_opt_vsock(optarg, &opts) < 0) {
				cli_opt_error(&vm_restore_cmd, "--vsock %s: expected a CID or auto",
					      optarg);
				return 125;
			}
			break;
		default: return 125;
		}
	}
	if (optind + 1 != argc) {
		cli_opt_error(&vm_restore_cmd, "expected one snapshot DIR");
		return 125;
	}
	fflush(stdout);
	memset(&stats, 0, sizeof(stats));
	r = vmm_restore(argv[optind], &opts, &stop, &err);
	/* build_ms: process start to the vCPUs' start (files mapped and loaded), as run's */
	if (opts.stats && stats.run_ns)
		fprintf(stderr, "hull-vm-stats: build_ms=%.3f run_ms=%.3f\n",
			(double)stats.build_ns / 1e6, (double)stats.run_ns / 1e6);
	if (r < 0) {
		cli_opt_error(&vm_restore_cmd, "%s", err.msg);
		return 125;
	}
	return vmm_stop_exit_code(stop);
}
