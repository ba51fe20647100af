/*
 * What PID 1 does before it listens (agent.h): the kernel's file systems, the modules the
 * initramfs carries, the root (hull.root= read-only under a writable overlay) and the move
 * into it (switch_root's way: from the initramfs, pivot_root is refused, so MS_MOVE + chroot).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define CMDLINE_MAX 4096
#define DEV_WAIT_MS 20000

static void mount_or_warn(const char *src, const char *dst, const char *type,
			  unsigned long flags, const char *data)
{
	(void)mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		agent_log("mount %s on %s: %s", type, dst, strerror(errno));
}

/* /etc/hull-modules (hull vm initramfs): one absolute path a line, dependencies first. */
static void load_modules(void)
{
	FILE *f = fopen("/etc/hull-modules", "re");
	char line[512];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int fd;

		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		fd = open(line, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			agent_log("module %s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			agent_log("module %s: %s", line, strerror(errno));
		close(fd);
	}
	fclose(f);
}

/* The value of key= on the kernel command line into out ("" when absent). */
static void cmdline_get(const char *cmdline, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);

	out[0] = '\0';
	for (const char *p = cmdline; *p;) {
		size_t wlen = strcspn(p, " \n\t");

		if (wlen > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			size_t vlen = wlen - klen - 1;

			if (vlen >= size)
				vlen = size - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
		}
		p += wlen;
		p += strspn(p, " \n\t");
	}
}

/* A disk's node appears when virtio_blk probed it, maybe after init started: wait for it. */
static int wait_dev(const char *dev)
{
	for (int ms = 0; ms < DEV_WAIT_MS; ms += 10) {
		if (access(dev, F_OK) == 0)
			return 0;
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	agent_log("%s did not appear in %d s", dev, DEV_WAIT_MS / 1000);
	return -ENOENT;
}

static int mount_ro_root(const char *dev, const char *type, const char *dst)
{
	static const char *const types[] = { "erofs", "ext4" };

	(void)mkdir(dst, 0755);
	if (type[0])
		return mount(dev, dst, type, MS_RDONLY, NULL) < 0 ? -errno : 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (mount(dev, dst, types[i], MS_RDONLY, NULL) == 0)
			return 0;
	return -errno;
}

/* /newroot: hull.root= (read-only) under an upper layer on tmpfs or hull.upper= (ext4). */
static int mount_root(const char *cmdline)
{
	char root[128], type[32], upper[128];
	int r;

	cmdline_get(cmdline, "hull.root", root, sizeof(root));
	cmdline_get(cmdline, "hull.rootfstype", type, sizeof(type));
	cmdline_get(cmdline, "hull.upper", upper, sizeof(upper));
	if (!root[0])
		return 0;
	if (wait_dev(root) < 0)
		return -ENOENT;
	r = mount_ro_root(root, type, "/mnt/lower");
	if (r < 0) {
		agent_log("mount %s (hull.root): %s", root, strerror(-r));
		return r;
	}
	(void)mkdir("/mnt/rw", 0755);
	if (upper[0]) {
		if (wait_dev(upper) < 0)
			return -ENOENT;
		r = mount(upper, "/mnt/rw", "ext4", 0, NULL);
	} else {
		r = mount("tmpfs", "/mnt/rw", "tmpfs", 0, "mode=0755");
	}
	if (r < 0) {
		agent_log("mount %s (the upper layer): %s", upper[0] ? upper : "tmpfs",
			  strerror(errno));
		return -errno;
	}
	(void)mkdir("/mnt/rw/upper", 0755);
	(void)mkdir("/mnt/rw/work", 0755);
	(void)mkdir("/newroot", 0755);
	if (mount("overlay", "/newroot", "overlay", 0,
		  "lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work") < 0) {
		agent_log("mount overlay: %s", strerror(errno));
		return -errno;
	}
	return 1;
}

/* Into /newroot with the kernel file systems moved along (util-linux switch_root). */
static int switch_root(void)
{
	static const char *const moved[] = { "/dev", "/proc", "/sys" };

	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		char dst[64];

		(void)snprintf(dst, sizeof(dst), "/newroot%s", moved[i]);
		(void)mkdir(dst, 0755);
		if (mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
			agent_log("move %s: %s", moved[i], strerror(errno));
	}
	if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		agent_log("switch to the root: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* lo up: a container has it; Debian's kernel has no ip= (CONFIG_IP_PNP) that would do it. */
static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	(void)snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		(void)ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
}

/* hull.net= (hull vm run --net network=): the initramfs's /etc/hull-net applies it. */
static void network_setup(const char *cmdline)
{
	char net[160];
	pid_t pid;

	loopback_up();
	cmdline_get(cmdline, "hull.net", net, sizeof(net));
	if (!net[0] || access("/etc/hull-net", R_OK) < 0 || access("/bin/sh", X_OK) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char cmd[CMDLINE_MAX + 64];

		(void)snprintf(cmd, sizeof(cmd), "exec sh /etc/hull-net %s", cmdline);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		(void)waitpid(pid, NULL, 0);
}

/* The container's view inside the root: what a container runtime mounts besides /dev. */
static void mount_inside(void)
{
	mount_or_warn("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		      "newinstance,ptmxmode=0666,mode=0620,gid=5");
	(void)unlink("/dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		agent_log("/dev/ptmx: %s", strerror(errno));
	mount_or_warn("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		      "mode=1777,size=65536k");
	mount_or_warn("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

int agent_boot(void)
{
	char cmdline[CMDLINE_MAX] = "";
	int fd, r;

	mount_or_warn("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_warn("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_warn("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);

		cmdline[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	load_modules();
	network_setup(cmdline);
	r = mount_root(cmdline);
	if (r < 0)
		return r;
	if (r > 0 && switch_root() < 0)
		return -1;
	mount_inside();
	return 0;
}
