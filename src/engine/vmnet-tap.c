/*
 * The tap of a VM on a hull network (engine/vmnet.h), made inside the VM's network namespace
 * by a child process (hull's own namespace stays the host's): a persistent tap, up, with
 * eth0's MTU; tc ingress qdiscs on eth0 and the tap, each with a filter that matches every
 * frame and whose action redirects it to the other's egress (Kata Containers' tcfilter
 * mode); then eth0's addresses removed, since the guest owns them. tc and ip are
 * iproute2's. The filter is u32 with an empty mask ("match u32 0 0"), as Kata's is, rather
 * than matchall: kernels without CONFIG_NET_CLS_MATCHALL exist (this project's CI host),
 * and u32 is built in or a module wherever tc filters are.
 */
#include "engine/vmnet-tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"

#define TC_BIN "/usr/sbin/tc"
#define IP_BIN "/usr/sbin/ip"

/* Run argv (an iproute2 tool) and wait; on failure err holds its last line of stderr. */
static int run_tool(const char *const *argv, struct hull_err *err)
{
	static char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	char *const envp[] = { path_env, NULL };
	char buf[512];
	int p[2], status = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return hull_err_set(err, errno, "fork");
	}
	if (pid == 0) {
		(void)dup2(p[1], 1);
		(void)dup2(p[1], 2);
		(void)execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	(void)close(p[1]);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1) /* keep the end: the message is the last line */
			len = 0;
	}
	buf[len] = '\0';
	(void)close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return hull_err_setx(err, EIO, "%s %s %s: %s", argv[0], argv[1], argv[2],
			     *buf ? (strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf)
				  : "failed");
}

/* The tap: persistent, so that it outlives this process until the VMM attaches to it. */
static int tap_create(const char *tap, bool multi_queue, struct hull_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
					  (multi_queue ? IFF_MULTI_QUEUE : 0) };
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return hull_err_set(err, errno, "/dev/net/tun");
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return hull_err_set(err, errno, "%s: TUNSETIFF", tap);
	if (ioctl(fd, TUNSETPERSIST, 1) < 0)
		return hull_err_set(err, errno, "%s: TUNSETPERSIST", tap);
	return 0;
}

/*
 * The interface the tap is wired to: eth0, or another network's (vmnet_tap_setup_dev, a VM
 * container's second network). in_netns's child is a fork: it sees the value set before.
 */
static const char *wire_dev = "eth0";

/* The tap up, with eth0's MTU (a larger guest frame would be dropped on the bridge). */
static int tap_up(const char *tap, struct hull_err *err)
{
	struct ifreq ifr = { 0 };
	cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int mtu;

	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", wire_dev);
	if (fd < 0)
		return hull_err_set(err, errno, "socket");
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		return hull_err_set(err, errno, "%s: SIOCGIFMTU", wire_dev);
	mtu = ifr.ifr_mtu;
	memset(&ifr, 0, sizeof(ifr));
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	ifr.ifr_mtu = mtu;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
		return hull_err_set(err, errno, "%s: SIOCSIFMTU %d", tap, mtu);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return hull_err_set(err, errno, "%s: SIOCGIFFLAGS", tap);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return hull_err_set(err, errno, "%s: SIOCSIFFLAGS", tap);
	return 0;
}

/* Every frame arriving on from leaves through to (both directions are set up). */
static int redirect(const char *from, const char *to, struct hull_err *err)
{
	const char *const qdisc[] = { TC_BIN, "qdisc", "add", "dev", from, "ingress", NULL };
	const char *const filter[] = { TC_BIN, "filter", "add", "dev", from, "parent", "ffff:",
				       "protocol", "all", "u32", "match", "u32", "0", "0",
				       "action", "mirred", "egress",
				       "redirect", "dev", to, NULL };
	int r = run_tool(qdisc, err);

	return r < 0 ? r : run_tool(filter, err);
}

/* In the namespace: everything above, in order. */
static int wire_tap(const char *tap, bool multi_queue, struct hull_err *err)
{
	const char *const flush[] = { IP_BIN, "addr", "flush", "dev", wire_dev, NULL };
	const char *const up[] = { IP_BIN, "link", "set", "dev", wire_dev, "up", NULL };
	int r = tap_create(tap, multi_queue, err);

	if (r == 0)
		r = tap_up(tap, err);
	if (r == 0) /* eth0 is up already; a hot-plugged NIC's veth end is not */
		r = run_tool(up, err);
	if (r == 0)
		r = redirect(wire_dev, tap, err);
	if (r == 0)
		r = redirect(tap, wire_dev, err);
	if (r == 0)
		r = run_tool(flush, err);
	return r;
}

static int wire(const char *tap, struct hull_err *err)
{
	return wire_tap(tap, false, err);
}

static int wire_mq(const char *tap, struct hull_err *err)
{
	return wire_tap(tap, true, err);
}

/* Drop persistence: the tap goes with its last user (the VMM's queue, if one is left). */
static int tap_delete(const char *tap, struct hull_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	int r;

	if (fd < 0)
		return hull_err_set(err, errno, "/dev/net/tun");
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
	/* TUNSETIFF on a name that does not exist would make the device: check first */
	if (if_nametoindex(tap) == 0)
		return 0;
	r = ioctl(fd, TUNSETIFF, &ifr);
	if (r < 0 && errno == EINVAL) {
		/* a multi_queue tap (queues=N) is attached to as one */
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
		r = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (r < 0)
		return hull_err_set(err, errno, "%s: TUNSETIFF", tap);
	if (ioctl(fd, TUNSETPERSIST, 0) < 0)
		return hull_err_set(err, errno, "%s: TUNSETPERSIST", tap);
	return 0;
}

/* fn(tap) in a child that entered netns; its error comes back through a pipe. */
static int in_netns(const char *netns, const char *tap,
		    int (*fn)(const char *tap, struct hull_err *err), struct hull_err *err)
{
	int p[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return hull_err_set(err, errno, "fork");
	}
	if (pid == 0) {
		struct hull_err e = { 0 };
		int fd = open(netns, O_RDONLY | O_CLOEXEC);

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			(void)hull_err_set(&e, errno, "%s: setns", netns);
		else
			(void)fn(tap, &e);
		if (e.code)
			(void)fd_write_all(p[1], &e, sizeof(e));
		_exit(e.code ? 1 : 0);
	}
	(void)close(p[1]);
	memset(err, 0, sizeof(*err));
	do
		n = read(p[0], err, sizeof(*err));
	while (n < 0 && errno == EINTR);
	(void)close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(*err) && err->code) {
		err->msg[sizeof(err->msg) - 1] = '\0';
		return -err->code;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return hull_err_setx(err, EIO, "%s: wiring %s failed", netns, tap);
	return 0;
}

int vmnet_tap_setup(const char *netns, const char *tap, bool multi_queue, struct hull_err *err)
{
	return in_netns(netns, tap, multi_queue ? wire_mq : wire, err);
}

int vmnet_tap_setup_dev(const char *netns, const char *tap, const char *dev, bool multi_queue,
			struct hull_err *err)
{
	int r;

	wire_dev = dev;
	r = vmnet_tap_setup(netns, tap, multi_queue, err);
	wire_dev = "eth0";
	return r;
}

/* vmnet_veth_setup's other end and the namespace it goes to (the child is a fork) */
static const char *veth_peer;
static char veth_peer_ns[16];

/* In the attachment's namespace: the veth pair (its peer moved to the VMM's), wired to
 * eth0 both ways with eth0's MTU on both ends; eth0's addresses removed. */
static int wire_veth(const char *veth, struct hull_err *err)
{
	const char *const flush[] = { IP_BIN, "addr", "flush", "dev", "eth0", NULL };
	const char *const up[] = { IP_BIN, "link", "set", "dev", veth, "up", NULL };
	struct ifreq ifr = { .ifr_name = "eth0" };
	cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char mtu[16];
	int r;

	if (fd < 0 || ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		return hull_err_set(err, errno, "eth0: SIOCGIFMTU");
	(void)snprintf(mtu, sizeof(mtu), "%d", ifr.ifr_mtu);
	{
		const char *const add[] = { IP_BIN, "link", "add", veth, "mtu", mtu, "type", "veth",
					    "peer", "name", veth_peer, "mtu", mtu, "netns",
					    veth_peer_ns, NULL };

		r = run_tool(add, err);
	}
	if (r == 0)
		r = run_tool(up, err);
	if (r == 0)
		r = redirect("eth0", veth, err);
	if (r == 0)
		r = redirect(veth, "eth0", err);
	if (r == 0)
		r = run_tool(flush, err);
	return r;
}

int vmnet_veth_setup(const char *netns, const char *veth, const char *peer, pid_t peer_pid,
		     struct hull_err *err)
{
	veth_peer = peer;
	(void)snprintf(veth_peer_ns, sizeof(veth_peer_ns), "%d", (int)peer_pid);
	return in_netns(netns, veth, wire_veth, err);
}

/* Delete link dev if it is there. */
static int link_delete(const char *dev, struct hull_err *err)
{
	const char *const del[] = { IP_BIN, "link", "del", "dev", dev, NULL };

	return if_nametoindex(dev) == 0 ? 0 : run_tool(del, err);
}

void vmnet_link_remove(const char *netns, const char *dev)
{
	struct hull_err e2;

	if (access(netns, F_OK) == 0)
		(void)in_netns(netns, dev, link_delete, &e2);
}

int vmnet_tap_drop(const char *netns, const char *tap)
{
	struct hull_err e2;

	return access(netns, F_OK) == 0 ? in_netns(netns, tap, tap_delete, &e2) : 0;
}

void vmnet_tap_remove(const char *netns, const char *tap)
{
	struct hull_err e2;

	if (access(netns, F_OK) == 0)
		(void)in_netns(netns, tap, tap_delete, &e2);
}
