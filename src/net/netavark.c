#include "net/netavark.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int netns_create(const char *path, struct hull_err *err)
{
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	int status = 0;
	pid_t pid;

	if (fd < 0)
		return hull_err_set(err, errno, "%s", path);
	(void)close(fd);
	/* a child, so that our own namespace stays the host's */
	pid = fork();
	if (pid < 0) {
		(void)unlink(path);
		return hull_err_set(err, errno, "fork");
	}
	if (pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (lo_up() < 0)
			_exit(2);
		if (mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0)
			_exit(3);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		(void)netns_remove(path);
		return hull_err_setx(err, EIO, "%s: cannot create the network namespace (%s)",
				     path, WIFEXITED(status) && WEXITSTATUS(status) == 1 ? "unshare"
				     : WIFEXITED(status) && WEXITSTATUS(status) == 2 ? "loopback"
										      : "mount");
	}
	return 0;
}

int netns_remove(const char *path)
{
	/* a file may be mounted more than once when two hulls raced: unmount them all */
	while (umount2(path, MNT_DETACH) == 0)
		;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Read a pipe to its end into a NUL-terminated heap buffer, at most max bytes kept. */
static char *read_pipe(int fd, size_t max)
{
	char *buf = xmalloc(max + 1);
	size_t len = 0;

	for (;;) {
		char sink[4096];
		ssize_t n = len < max ? read(fd, buf + len, max - len) : read(fd, sink, sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < max)
			len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static pid_t spawn(const char *cfg_dir, const char *verb, const char *netns, int in, int out,
		   int errfd)
{
	static char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path_env, NULL };
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* dies with us: a netavark that outlived a SIGKILLed hull would race the teardown
	 * the next hull does (it starts aardvark-dns detached itself) */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)dup2(in, 0);
	(void)dup2(out, 1);
	(void)dup2(errfd, 2);
	(void)signal(SIGPIPE, SIG_DFL);
	/* An environment of its own, not the caller's: netavark (and the aardvark-dns it
	 * starts) reads NETAVARK_FW (firewall driver), NETAVARK_DNS_PORT, RUST_LOG and finds
	 * iptables through PATH, so a user's environment would steer the host's firewall
	 * set-up. Podman passes its own environment; hull runs as root for users who should
	 * not choose these. */
	(void)execle(NETAVARK_BIN, "netavark", "--config", cfg_dir, "--rootless", "false",
		     "--aardvark-binary", AARDVARK_BIN, verb, netns, (char *)NULL, envp);
	_exit(127);
}

/* netavark's last non-empty line of stderr, or its JSON {"error": ...} on stdout. */
static void failure(const char *verb, int status, const char *out, char *errbuf,
		    struct hull_err *err)
{
	json_t *j = NULL;
	struct hull_err e2;
	char *line = errbuf;
	char *nl;

	while ((nl = strrchr(errbuf, '\n')) && nl[1] == '\0')
		*nl = '\0';
	/* a panic's message is its first line; an error's, the last */
	if (strstr(errbuf, "panicked at")) {
		line = strstr(errbuf, "panicked at");
		line[strcspn(line, "\n")] = '\0';
	} else if ((nl = strrchr(errbuf, '\n'))) {
		line = nl + 1;
	}
	if (out[0] && hjson_load_buf(out, strlen(out), "netavark", &j, &e2) == 0 &&
	    json_string_value(json_object_get(j, "error")))
		line = (char *)json_string_value(json_object_get(j, "error"));
	(void)hull_err_setx(err, EIO, "netavark %s: %s", verb,
			    *line ? line : WIFEXITED(status) && WEXITSTATUS(status) == 127
					     ? "cannot execute " NETAVARK_BIN : "failed");
	json_decref(j);
}

/*
 * A Linux bridge takes the lowest MAC of its ports until one is set on it: when the container
 * whose veth gave it leaves (rm, stop, network disconnect), the gateway's MAC changes under
 * the others, whose ARP entries then point nowhere for half a minute (no DNS, no outside).
 * netavark 1.4 sets none; setting the one the bridge has now keeps it (NET_ADDR_SET).
 */
static void bridges_mac_pin(json_t *opts)
{
	const char *name;
	json_t *def;

	json_object_foreach(json_object_get(opts, "network_info"), name, def) {
		const char *ifname = json_string_value(json_object_get(def, "network_interface"));
		const char *drv = json_string_value(json_object_get(def, "driver"));
		struct ifreq ifr = { 0 };
		cleanup_close int fd = -1;

		if (!ifname || !drv || strcmp(drv, "bridge") != 0 || strlen(ifname) >= IFNAMSIZ)
			continue;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
			(void)ioctl(fd, SIOCSIFHWADDR, &ifr);
	}
}

int netavark_run(const char *cfg_dir, const char *verb, const char *netns, json_t *opts,
		 json_t **ret, struct hull_err *err)
{
	cleanup_free char *in = hjson_dump(opts, JSON_COMPACT);
	cleanup_free char *out = NULL;
	cleanup_free char *errbuf = NULL;
	int pin[2], pout[2], perr[2], status = 0, r = 0;
	pid_t pid;

	if (pipe2(pin, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0)
		abort();
	pid = spawn(cfg_dir, verb, netns, pin[0], pout[1], perr[1]);
	(void)close(pin[0]);
	(void)close(pout[1]);
	(void)close(perr[1]);
	if (pid < 0)
		r = hull_err_set(err, errno, "fork");
	/* options are a few KiB: below the pipe's buffer, so the write cannot block on us */
	(void)signal(SIGPIPE, SIG_IGN);
	if (r == 0)
		(void)fd_write_all(pin[1], in, strlen(in));
	(void)close(pin[1]);
	/* stderr after stdout: netavark writes little to it, below the pipe's buffer */
	out = read_pipe(pout[0], 1 << 20);
	errbuf = read_pipe(perr[0], 1 << 16);
	(void)close(pout[0]);
	(void)close(perr[0]);
	(void)signal(SIGPIPE, SIG_DFL);
	if (r < 0)
		return r;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		failure(verb, status, out, errbuf, err);
		return -EIO;
	}
	if (strcmp(verb, "setup") == 0)
		bridges_mac_pin(opts);
	if (ret)
		return hjson_load_buf(out, strlen(out), "netavark's reply", ret, err);
	return 0;
}
