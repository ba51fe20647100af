/*
 * `hull vm migrate --api-sock S --to tcp:HOST:PORT|unix:PATH`: connect to the destination
 * (a `hull vm run --incoming` there), hand the connection to the source VM over its control
 * socket with the JSON line {"op":"migrate",...} (SCM_RIGHTS: the VMM itself never makes a
 * socket), wait for its answer. Option parsing and printing only: src/vmm/migrate.c works.
 */
#include <errno.h>
#include <jansson.h>
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
#include "vmm/vmm.h"

#ifdef HULL_VMM_MAIN
#define VM_CMD(name) name
#else
#define VM_CMD(name) "vm " name
#endif

#define OPT_MAX_BW 0x1c00
#define OPT_DOWNTIME 0x1c01
#define OPT_TIMEOUT 0x1c02
#define OPT_FAKE_CPUID 0x1c03

static const struct cli_option vm_migrate_opts[] = {
	{ "api-sock", required_argument, NULL, 'a', "PATH", "the source VM's control socket" },
	{ "to", required_argument, NULL, 't', "tcp:HOST:PORT|unix:PATH",
	  "the destination (hull vm run --incoming there)" },
	{ "max-bandwidth", required_argument, NULL, OPT_MAX_BW, "MIB_PER_S",
	  "limit the pre-copy rounds to this rate (default: none)" },
	{ "downtime-ms", required_argument, NULL, OPT_DOWNTIME, "N",
	  "stop and copy once the rest fits this pause (default 300)" },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT, "SECONDS",
	  "give up (the VM goes on here) after this long (default 600)" },
	{ "test-fake-cpuid", no_argument, NULL, OPT_FAKE_CPUID, NULL,
	  "tests: offer the destination a CPU feature no CPU has" },
	{ 0 },
};
const struct cli_command vm_migrate_cmd = {
	.name = VM_CMD("migrate"),
	.args = "--api-sock PATH --to tcp:HOST:PORT|unix:PATH [OPTIONS]",
	.optstring = "", .opts = vm_migrate_opts,
	.summary = "Live-migrate a running VM to a hull vm run --incoming.",
};

/* The request line with fd attached, then one line back: 0 with *ret_reply, or -errno. */
static int api_request_fd(const char *sock, const char *req, int fd, unsigned wait_s,
			  char **ret_reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cleanup_free char *line = xasprintf("%s\n", req);
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { line, strlen(line) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct timeval tv = { .tv_sec = wait_s };
	char buf[4096];
	size_t len = 0;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	memset(u.buf, 0, sizeof(u.buf));
	CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
	CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &fd, sizeof(fd));
	if (sendmsg(s, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return -EIO;
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = read(s, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_reply = xstrdup(buf);
	return 0;
}

static int opt_num(const char *name, const char *v, unsigned *ret)
{
	if (vm_opt_uint(v, ret) < 0) {
		cli_opt_error(&vm_migrate_cmd, "--%s %s: not a number", name, v);
		return -EINVAL;
	}
	return 0;
}

static int migrate_parse(int argc, char **argv, const char **sock, const char **to,
			 json_t *req, unsigned *timeout)
{
	unsigned v = 0;
	int c;

	optind = 0;
	while ((c = cli_getopt(argc, argv, &vm_migrate_cmd)) != -1) {
		switch (c) {
		case 'a': *sock = optarg; break;
		case 't': *to = optarg; break;
		case OPT_MAX_BW:
			if (opt_num("max-bandwidth", optarg, &v) < 0)
				return -EINVAL;
			json_object_set_new(req, "max_bandwidth_mib", json_integer(v));
			break;
		case OPT_DOWNTIME:
			if (opt_num("downtime-ms", optarg, &v) < 0)
				return -EINVAL;
			json_object_set_new(req, "downtime_ms", json_integer(v));
			break;
		case OPT_TIMEOUT:
			if (opt_num("timeout", optarg, timeout) < 0)
				return -EINVAL;
			json_object_set_new(req, "timeout_s", json_integer(*timeout));
			break;
		case OPT_FAKE_CPUID:
			json_object_set_new(req, "test_fake_cpuid", json_boolean(cli_opt_on));
			break;
		default: return -EINVAL;
		}
	}
	if (!*sock || !*to || optind < argc) {
		cli_opt_error(&vm_migrate_cmd, "--api-sock PATH and --to ADDRESS are required");
		return -EINVAL;
	}
	return 0;
}

/*
 * The downtime's steps (docs/vmm.md "Live migration", downtime), and the downtime as QEMU
 * counts it: from the pause to the last byte handed to the kernel.
 */
static void print_downtime_steps(json_t *rep)
{
	static const char *const steps[] = { "pause", "disks", "sync", "pages", "state", "send",
					     "ack" };
	json_t *o = json_object_get(rep, "steps_ms");

	if (!json_is_object(o))
		return;
	printf("downtime steps (ms):");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		printf(" %s %.1f", steps[i], json_number_value(json_object_get(o, steps[i])));
	printf("; to the last byte sent %.1f ms, estimated %.1f ms\n",
	       json_number_value(json_object_get(rep, "sent_ms")),
	       json_number_value(json_object_get(rep, "estimate_ms")));
}

int vm_migrate_main(int argc, char **argv)
{
	const char *sock = NULL, *to = NULL;
	cleanup_free char *line = NULL, *reply = NULL;
	struct hull_err err = { 0 };
	unsigned timeout = 600;
	json_t *req = json_pack("{s:s}", "op", "migrate"), *rep, *e;
	int fd, r;

	r = migrate_parse(argc, argv, &sock, &to, req, &timeout);
	line = r == 0 ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (r < 0)
		return 125;
	fd = vmm_migrate_connect(to, timeout ? timeout : 1, &err);
	if (fd < 0) {
		cli_opt_error(&vm_migrate_cmd, "--to %s", err.msg);
		return 125;
	}
	/* the VMM answers when the migration is over: at most the timeout, and some more */
	r = api_request_fd(sock, line, fd, timeout + 60, &reply);
	(void)close(fd);
	if (r < 0) {
		cli_opt_error(&vm_migrate_cmd, "--api-sock %s: %s", sock, strerror(-r));
		return 125;
	}
	rep = json_loads(reply, 0, NULL);
	if (!json_is_true(json_object_get(rep, "ok"))) {
		e = json_object_get(rep, "error");
		cli_opt_error(&vm_migrate_cmd, "%s", json_is_string(e) ? json_string_value(e)
									: "the VMM's reply is not JSON");
		json_decref(rep);
		return 125;
	}
	printf("migrated to %s: %" JSON_INTEGER_FORMAT " rounds, %" JSON_INTEGER_FORMAT
	       " pages (%" JSON_INTEGER_FORMAT " while paused), downtime %.1f ms, total %.1f ms\n", to,
	       json_integer_value(json_object_get(rep, "rounds")),
	       json_integer_value(json_object_get(rep, "pages")),
	       json_integer_value(json_object_get(rep, "last_pages")),
	       json_number_value(json_object_get(rep, "downtime_ms")),
	       json_number_value(json_object_get(rep, "total_ms")));
	print_downtime_steps(rep);
	json_decref(rep);
	return 0;
}
