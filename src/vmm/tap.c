/* The tap backend of virtio-net (tap.h). */
#include "vmm/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"

/* TUNSETIFF's answer for an interface that exists, in words the user can act on. */
static int tap_attach_err(const char *name, bool multi_queue, int e, struct hull_err *err)
{
	switch (e) {
	case EINVAL:
		if (multi_queue)
			return hull_err_setx(err, e,
					     "--net tap=%s: not a multi_queue tap interface (ip tuntap "
					     "add dev %s mode tap multi_queue)", name, name);
		return hull_err_setx(err, e, "--net tap=%s: not a tap interface", name);
	case EBUSY:
		return hull_err_setx(err, e, "--net tap=%s: in use by another process", name);
	default:
		return hull_err_set(err, e, "--net tap=%s: attaching to it", name);
	}
}

int tap_open(const char *name, bool multi_queue, int *ret_fd, struct hull_err *err)
{
	cleanup_close int fd = -1;
	struct ifreq ifr;
	int hdr = TAP_VNET_HDR_LEN, r;

	if (!name || !*name)
		return hull_err_setx(err, EINVAL, "--net: tap=IFNAME is required");
	if (strlen(name) >= IFNAMSIZ)
		return hull_err_setx(err, EINVAL, "--net tap=%s: longer than %d bytes", name,
				     IFNAMSIZ - 1);
	if (if_nametoindex(name) == 0)
		return hull_err_setx(err, ENODEV,
				     "--net tap=%s: no such interface (create it first: ip tuntap "
				     "add dev %s mode tap)", name, name);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "--net tap=%s: /dev/net/tun", name);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return tap_attach_err(name, multi_queue, errno, err);
	/* virtio 1.x: the header always has num_buffers (virtio_net_hdr_v1, 12 bytes). */
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return hull_err_set(err, errno, "--net tap=%s: TUNSETVNETHDRSZ", name);
	/* No offloads until the guest accepts them (virtio_net_sync_offloads). */
	r = tap_set_offload(fd, 0);
	if (r < 0)
		return hull_err_set(err, -r, "--net tap=%s: TUNSETOFFLOAD", name);
	*ret_fd = steal_fd(&fd);
	return 0;
}

int tap_set_offload(int fd, unsigned tun_flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0 ? -errno : 0;
}

int tap_set_queue(int fd, bool attached)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attached ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}
