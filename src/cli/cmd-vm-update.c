/*
 * `hull vm update`: resize a running VM through its --api-sock (the API's balloon,
 * balloon-stats, disk-rescan, disk-resize and memory-hotplug operations). Sends one JSON line per change, prints each
 * answer on stdout; an answer with an error is one line on stderr and exit status 125.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/opt.h"
#include "cli/vm-opts.h"
#include "common/cleanup.h"
#include "common/fd.h"
#ifndef HULL_VMM_MAIN
#include "cli/vm-hotnet.h"
#endif

#define VM_UPDATE_REPLY_MAX 4096
#define VM_UPDATE_MAX_REQS 8
#define VM_UPDATE_MEM_HOTPLUG 0x1b01 /* long-only options (vmem16's id block) */
#define VM_UPDATE_MEM_STATUS 0x1b02
#define VM_UPDATE_ADD_NET 0x2400 /* hotplug16's id block */
#define VM_UPDATE_DEL_NET 0x2401
#ifdef HULL_VMM_MAIN
#define VM_UPDATE_NAME "update" /* hull-vmm update */
#else
#define VM_UPDATE_NAME "vm update"
#endif

static const struct cli_option vm_update_opts[] = {
	{ "api-sock", required_argument, NULL, 'a', "PATH", "the VM's control socket" },
	{ "balloon", required_argument, NULL, 'b', "MIB",
	  "set the balloon's target: MiB the guest gives back (0: all returned)" },
	{ "balloon-stats", no_argument, NULL, 's', NULL,
	  "print the balloon's target, actual size and the guest's statistics" },
	{ "disk-rescan", required_argument, NULL, 'd', "IDX",
	  "re-read the size of --disk number IDX (from 0) and tell the guest" },
	{ "disk-resize", required_argument, NULL, 'g', "IDX:SIZE",
	  "grow --disk number IDX (raw or qcow2) to SIZE (e.g. 24M, 2G) and tell the guest" },
	{ "memory-hotplug", required_argument, NULL, VM_UPDATE_MEM_HOTPLUG, "SIZE",
	  "ask the guest to have SIZE of its --memory-hotplug region plugged (0: none)" },
	{ "memory-hotplug-status", no_argument, NULL, VM_UPDATE_MEM_STATUS, NULL,
	  "print the virtio-mem region's total, block, plugged and requested sizes" },
	{ "add-net", required_argument, NULL, VM_UPDATE_ADD_NET,
	  "tap=IF[,mac=MAC][,id=ID][,vhost=on|off|auto] | network=NAME[,id=ID][,mac=MAC][,ip=ADDR]",
	  "hot-plug a virtio-net NIC on tap IF (its id: ID, else IF; vhost= as --net's), or on "
	  "hull network NAME (hull only; id: ID, else NAME; prints the guest's address)" },
	{ "del-net", required_argument, NULL, VM_UPDATE_DEL_NET, "ID",
	  "ask the guest to eject the hot-plugged NIC ID (a network= NIC's attachment is torn "
	  "down)" },
	{ 0 },
};

static const struct cli_command vm_update_cmd = {
	.name = VM_UPDATE_NAME, .args = "--api-sock PATH [OPTIONS]", .optstring = "",
	.opts = vm_update_opts,
	.summary = "Resize a running VM: balloon target, hotplugged memory, a disk grown on the "
		   "host.",
};

/* One request line, one answer line: 0 when it says ok, else -1 with the message printed. */
int vm_update_connect(const char *sock, pid_t *ret_pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hull vm update: --api-sock %s: path too long\n", sock);
		return -1;
	}
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (ret_pid && (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
			 cred.pid <= 0))) {
		fprintf(stderr, "hull vm update: --api-sock %s: %s\n", sock, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	if (ret_pid)
		*ret_pid = cred.pid;
	return fd;
}

static int vm_update_call(const char *sock, const char *req)
{
	char reply[VM_UPDATE_REPLY_MAX + 1];
	cleanup_close int fd = -1;
	json_t *j, *ok, *msg;
	size_t len = 0;
	ssize_t n;
	int r = -1;

	fd = vm_update_connect(sock, NULL);
	if (fd < 0)
		return -1;
	if (fd_write_all(fd, req, strlen(req)) < 0) {
		fprintf(stderr, "hull vm update: --api-sock %s: %s\n", sock, strerror(errno));
		return -1;
	}
	while (len < VM_UPDATE_REPLY_MAX && !memchr(reply, '\n', len) &&
	       (n = read(fd, reply + len, VM_UPDATE_REPLY_MAX - len)) > 0)
		len += (size_t)n;
	reply[len] = '\0';
	j = json_loads(reply, JSON_DISABLE_EOF_CHECK, NULL);
	ok = j ? json_object_get(j, "ok") : NULL;
	msg = j ? json_object_get(j, "error") : NULL;
	if (json_is_true(ok)) {
		fputs(reply, stdout);
		r = 0;
	} else {
		fprintf(stderr, "hull vm update: %s\n",
			json_is_string(msg) ? json_string_value(msg) : "no valid answer from the VM");
	}
	json_decref(j);
	return r;
}

/*
 * --add-net tap=IF[,mac=MAC][,id=ID][,vhost=V] or --del-net ID as a request line in out (256 bytes):
 * 0, or -1 with the message printed. The VMM checks the values; this only splits them.
 */
static int vm_update_net_req(bool add, const char *arg, char *out)
{
	char buf[256], *save = NULL, *tok;
	const char *id = NULL, *tap = NULL, *mac = NULL, *vhost = NULL;
	json_t *j;
	char *line;

	if (!add) {
		id = arg;
	} else {
		(void)snprintf(buf, sizeof(buf), "%s", arg);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (strncmp(tok, "tap=", 4) == 0)
				tap = tok + 4;
			else if (strncmp(tok, "mac=", 4) == 0)
				mac = tok + 4;
			else if (strncmp(tok, "id=", 3) == 0)
				id = tok + 3;
			else if (strncmp(tok, "vhost=", 6) == 0)
				vhost = tok + 6;
			else
				break;
		}
		if (tok || !tap || !*tap || strlen(arg) >= sizeof(buf)) {
			fprintf(stderr, "hull vm update: --add-net %s: expected tap=IF[,mac=MAC]"
				"[,id=ID][,vhost=on|off|auto]%s\n", arg,
#ifdef HULL_VMM_MAIN
				"");
#else
				" or network=NAME[,id=ID][,mac=MAC][,ip=ADDR]");
#endif
			return -1;
		}
		id = id ? id : tap;
	}
	j = json_pack("{s:s, s:s, s:s*, s:s*, s:s*}", "op", add ? "net-add" : "net-del", "id",
		      id, "tap", tap, "mac", mac, "vhost", vhost);
	line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!line || strlen(line) + 2 > 256) {
		fprintf(stderr, "hull vm update: --%s %s: too long\n", add ? "add-net" : "del-net",
			arg);
		free(line);
		return -1;
	}
	(void)snprintf(out, 256, "%s\n", line);
	free(line);
	return 0;
}

int vm_update_main(int argc, char **argv)
{
	const char *sock = NULL;
	char reqs[VM_UPDATE_MAX_REQS][256];
#ifndef HULL_VMM_MAIN
	/* --add-net network= (its value) and --del-net (its id), done by vm-hotnet.c */
	const char *hot_add[VM_UPDATE_MAX_REQS] = { 0 }, *hot_del[VM_UPDATE_MAX_REQS] = { 0 };
#endif
	uint64_t size;
	char *colon;
	unsigned n_reqs = 0, v;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_update_cmd)) != -1) {
		switch (c) {
		case 'a': sock = optarg; break;
		case 'b':
		case 'd':
			if (vm_opt_uint(optarg, &v) < 0) {
				fprintf(stderr, "hull vm update: --%s %s: not a number\n",
					c == 'b' ? "balloon" : "disk-rescan", optarg);
				return 125;
			}
			if (n_reqs < VM_UPDATE_MAX_REQS)
				(void)snprintf(reqs[n_reqs++], sizeof(reqs[0]),
					       c == 'b' ? "{\"op\":\"balloon\",\"amount_mib\":%u}\n"
							: "{\"op\":\"disk-rescan\",\"drive\":%u}\n", v);
			break;
		case 'g':
			colon = strchr(optarg, ':');
			if (!colon || (*colon = '\0', vm_opt_uint(optarg, &v) < 0) ||
			    vm_opt_size(colon + 1, &size) < 0) {
				if (colon)
					*colon = ':';
				fprintf(stderr, "hull vm update: --disk-resize %s: expected IDX:SIZE "
					"(e.g. 0:24M)\n", optarg);
				return 125;
			}
			if (n_reqs < VM_UPDATE_MAX_REQS)
				(void)snprintf(reqs[n_reqs++], sizeof(reqs[0]),
					       "{\"op\":\"disk-resize\",\"drive\":%u,\"size\":%llu}\n",
					       v, (unsigned long long)size);
			break;
		case VM_UPDATE_MEM_HOTPLUG:
			if (vm_opt_size(optarg, &size) < 0 || size % (1ULL << 20)) {
				fprintf(stderr, "hull vm update: --memory-hotplug %s: not a size in "
					"whole MiB (e.g. 256M, 1G, 0)\n", optarg);
				return 125;
			}
			if (n_reqs < VM_UPDATE_MAX_REQS)
				(void)snprintf(reqs[n_reqs++], sizeof(reqs[0]),
					       "{\"op\":\"memory-hotplug\",\"requested_size_mib\":"
					       "%llu}\n", (unsigned long long)(size >> 20));
			break;
		case VM_UPDATE_MEM_STATUS:
			if (cli_opt_on && n_reqs < VM_UPDATE_MAX_REQS)
				(void)snprintf(reqs[n_reqs++], sizeof(reqs[0]),
					       "{\"op\":\"memory-hotplug\"}\n");
			break;
		case VM_UPDATE_ADD_NET:
		case VM_UPDATE_DEL_NET:
			if (n_reqs >= VM_UPDATE_MAX_REQS)
				break;
#ifndef HULL_VMM_MAIN
			if (c == VM_UPDATE_ADD_NET && vm_hotnet_is(optarg)) {
				hot_add[n_reqs++] = optarg;
				break;
			}
			if (c == VM_UPDATE_DEL_NET)
				hot_del[n_reqs] = optarg;
#else
			if (c == VM_UPDATE_ADD_NET && strstr(optarg, "network=")) {
				fprintf(stderr, "hull-vmm update: --add-net %s: network= needs the "
					"engine: use hull vm update\n", optarg);
				return 125;
			}
#endif
			if (vm_update_net_req(c == VM_UPDATE_ADD_NET, optarg, reqs[n_reqs++]) < 0)
				return 125;
			break;
		case 's':
			if (cli_opt_on && n_reqs < VM_UPDATE_MAX_REQS)
				(void)snprintf(reqs[n_reqs++], sizeof(reqs[0]),
					       "{\"op\":\"balloon-stats\"}\n");
			break;
		default:
			return 125;
		}
	}
	if (optind < argc || !sock || !n_reqs) {
		fprintf(stderr, "hull vm update: %s\n",
			optind < argc ? "unexpected argument" :
			!sock ? "--api-sock PATH is required" :
				"nothing to change: --balloon, --balloon-stats, --disk-rescan, "
				"--disk-resize, --memory-hotplug, --memory-hotplug-status, --add-net "
				"or --del-net");
		return 125;
	}
	for (unsigned i = 0; i < n_reqs; i++) {
		int rc = 0;

#ifndef HULL_VMM_MAIN
		if (hot_add[i])
			rc = vm_hotnet_add(sock, hot_add[i]);
		else if (hot_del[i])
			rc = vm_hotnet_del(sock, hot_del[i], reqs[i]);
		else
#endif
		if (vm_update_call(sock, reqs[i]) < 0)
			rc = 125;
		if (rc)
			return rc;
	}
	return 0;
}
