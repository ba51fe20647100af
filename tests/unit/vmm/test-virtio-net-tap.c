/*
 * virtio-net on a real tap, in a network namespace of the test's own (skipped without the
 * privilege to make one): the tap's offloads follow the features the guest acked
 * (TUNSETOFFLOAD, read back with ethtool's ioctls), the queues of pairs not in use are
 * detached (TUNSETQUEUE, seen through TUNGETIFF), and a tap deleted under the device does
 * not make its I/O thread spin.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"

#include "virtio-driver.h"

#define TAP "nettest16"
#define NPAIRS 2
#define QRING(q) (0x10000ULL + 0x4000ULL * (q))
#define CTRLBUF 0x100000
#define MEM_SIZE (2U << 20)

#define F_GUEST_CSUM (1ULL << 1)
#define F_MAC (1ULL << 5)
#define F_GUEST_TSO4 (1ULL << 7)
#define F_CTRL_VQ (1ULL << 17)
#define F_MQ (1ULL << 22)

struct fx {
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	struct virtio_net_backend be;
	uint16_t avail[2 * NPAIRS + 1];
};

/* A persistent multi_queue tap in a new network namespace; false when not allowed. */
static bool make_tap(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR };
	int fd;

	if (unshare(CLONE_NEWNET) < 0)
		return false;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	memcpy(ifr.ifr_name, TAP, sizeof(TAP));
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	return true;
}

static int setup(void **state)
{
	static struct fx f;
	struct vm_net_config c = { .tap = TAP, .queues = NPAIRS };
	struct hull_err err = { 0 };
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 16 };

	memset(&f, 0, sizeof(f));
	if (!make_tap())
		return 0; /* the tests skip */
	assert_int_equal(virtio_net_backend_open(&c, NPAIRS, &f.be, &err), 0);
	assert_int_equal(f.be.n_pairs, NPAIRS);
	assert_int_equal(gmem_init(&f.mem, MEM_SIZE), 0);
	memset(gmem_ptr(&f.mem, 0, MEM_SIZE), 0, MEM_SIZE);
	/* the device takes the fds (closed by virtio_net_free); be keeps their numbers */
	f.v = virtio_net_new_test(&f.mem, mac, f.be.fd, NPAIRS);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f && f->v) {
		virtio_net_free(f->v);
		gmem_release(&f->mem);
	}
	return 0;
}

/* ETHTOOL_G* on the tap: the feature's state, 0 or 1. */
static uint32_t ethtool_get(uint32_t cmd)
{
	struct ethtool_value ev = { .cmd = cmd };
	struct ifreq ifr = { .ifr_data = (char *)&ev };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	memcpy(ifr.ifr_name, TAP, sizeof(TAP));
	assert_int_equal(ioctl(s, SIOCETHTOOL, &ifr), 0);
	close(s);
	return ev.data;
}

static void drv_init(struct fx *f, uint64_t features)
{
	bar_w(f->v, 0x14, 0, 1);
	memset(f->avail, 0, sizeof(f->avail));
	memset(gmem_ptr(&f->mem, QRING(0), 0x4000 * (2 * NPAIRS + 1)), 0,
	       0x4000 * (2 * NPAIRS + 1));
	bar_w(f->v, 0x14, 1 | 2, 1);
	bar_w(f->v, 0x08, 0, 4);
	bar_w(f->v, 0x0c, (uint32_t)features, 4);
	bar_w(f->v, 0x08, 1, 4);
	bar_w(f->v, 0x0c, 1, 4);
	bar_w(f->v, 0x14, 1 | 2 | 8, 1);
	assert_true(bar_r(f->v, 0x14, 1) & 8);
	for (unsigned q = 0; q < 2 * NPAIRS + 1; q++)
		drv_queue(f->v, (uint16_t)q, 64, -1, QRING(q), QRING(q) + 0x1000, QRING(q) + 0x2000);
	drv_ok(f->v);
}

static void offer(struct fx *f, unsigned q, uint16_t head)
{
	uint16_t *avail = gmem_ptr(&f->mem, QRING(q) + 0x1000, 4 + 2 * 64);

	avail[2 + f->avail[q] % 64] = head;
	avail[1] = ++f->avail[q];
	bar_w(f->v, VIRTIO_BAR_NOTIFY + (uint64_t)q * VIRTIO_NOTIFY_MULT, q, 2);
}

static void set_desc(struct fx *f, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, QRING(q) + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static bool queue_attached(int fd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(fd, TUNGETIFF, &ifr) == 0 && !(ifr.ifr_flags & IFF_DETACH_QUEUE);
}

static void test_offloads_follow_the_guest(void **state)
{
	struct fx *f = *state;

	if (!f)
		skip();
	assert_int_equal(ethtool_get(ETHTOOL_GTSO), 0);
	drv_init(f, F_MAC | F_GUEST_CSUM | F_GUEST_TSO4);
	set_desc(f, 0, 0, 0x180000, 0x800, 2, 0);
	offer(f, 0, 0); /* the first rx kick after DRIVER_OK sets the tap's offloads */
	assert_int_equal(ethtool_get(ETHTOOL_GTXCSUM), 1);
	assert_int_equal(ethtool_get(ETHTOOL_GTSO), 1);
	drv_init(f, F_MAC); /* a driver without offloads: the tap must not use them */
	offer(f, 1, 0); /* an (empty) tx kick */
	assert_int_equal(ethtool_get(ETHTOOL_GTSO), 0);
	assert_int_equal(ethtool_get(ETHTOOL_GTXCSUM), 0);
}

static int ctrl_pairs(struct fx *f, uint16_t pairs)
{
	uint8_t *buf = gmem_ptr(&f->mem, CTRLBUF, 0x1001);
	unsigned q = 2 * NPAIRS;

	buf[0] = 4; /* VIRTIO_NET_CTRL_MQ */
	buf[1] = 0; /* VQ_PAIRS_SET */
	pairs = htole16(pairs);
	memcpy(buf + 2, &pairs, 2);
	buf[0x1000] = 0xee;
	set_desc(f, q, 0, CTRLBUF, 4, 1, 1);
	set_desc(f, q, 1, CTRLBUF + 0x1000, 1, 2, 0);
	offer(f, q, 0);
	return buf[0x1000];
}

static void test_unused_queues_detached(void **state)
{
	struct fx *f = *state;

	if (!f)
		skip();
	drv_init(f, F_MAC | F_CTRL_VQ | F_MQ);
	/* one pair until the driver asks for more: the second tap queue is detached */
	assert_true(queue_attached(f->be.fd[0]));
	assert_false(queue_attached(f->be.fd[1]));
	assert_int_equal(ctrl_pairs(f, 2), 0);
	assert_true(queue_attached(f->be.fd[1]));
	assert_int_equal(ctrl_pairs(f, 3), 1); /* more than the device has */
	assert_int_equal(ctrl_pairs(f, 1), 0);
	assert_false(queue_attached(f->be.fd[1]));
	assert_true(queue_attached(f->be.fd[0]));
	drv_init(f, F_MAC | F_CTRL_VQ | F_MQ); /* a reset: one pair again */
	assert_false(queue_attached(f->be.fd[1]));
}

/* `ip link del TAP`, as an administrator might while the VM runs. */
static void delete_tap(void)
{
	char ip[] = "ip", link[] = "link", del[] = "del", tap[] = TAP;
	char *argv[] = { ip, link, del, tap, NULL };
	int status = -1;
	pid_t pid;

	assert_int_equal(posix_spawnp(&pid, "ip", NULL, NULL, argv, environ), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
}

/*
 * The tap deleted under a running guest: its fds poll as EPOLLERR from then on, whatever the
 * interest. The device stops reading (the read fails) and the events it then watches the fd
 * for must report that once at most, not at every epoll_wait (the I/O thread would spin).
 */
static void test_deleted_tap_quiet(void **state)
{
	struct fx *f = *state;
	struct epoll_event ev, got[2];
	int ep;

	if (!f)
		skip();
	drv_init(f, F_MAC);
	set_desc(f, 0, 0, 0x180000, 0x800, 2, 0);
	offer(f, 0, 0);
	assert_true(virtio_net_test_rx_armed(f->v, 0));
	delete_tap();
	virtio_net_test_rx(f->v, 0); /* EPOLLERR: the I/O thread calls the handler */
	assert_false(virtio_net_test_rx_armed(f->v, 0));
	ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(ep >= 0);
	ev = (struct epoll_event){ .events = virtio_net_test_rx_events(f->v, 0) };
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, f->be.fd[0], &ev), 0);
	(void)epoll_wait(ep, got, 2, 0); /* the edge, once */
	for (unsigned round = 0; round < 3; round++)
		assert_int_equal(epoll_wait(ep, got, 2, 0), 0);
	close(ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_offloads_follow_the_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unused_queues_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_tap_quiet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
