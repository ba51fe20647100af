/*
 * vhost-net's host side, what runs without /dev/vhost-net: vhost=on|off|auto against a
 * device path that does not open (auto falls back to the user-space datapath, on is an
 * error naming --net) or does (/dev/null stands in: the fds are opened, one per pair), a
 * rate limit keeping auto in user space and refused with on, and a vhost worker bound to a
 * queue pair that is not the device's first (vhost_attach_at).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"
#include "vmm/vhost.h"
#include "vmm/virtio/net-backend.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/pci.h"

#define MISSING "/nonexistent-hull-test/vhost-net"

static void fds_none(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(fds[i], -1);
}

static void fds_close(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		assert_true(fds[i] >= 0);
		assert_int_equal(close(fds[i]), 0);
	}
}

static void test_missing_device(void **state)
{
	struct vm_net_config c = { .tap = "t0" };
	struct hull_err err = { 0 };
	int fds[VM_NET_MAX_QUEUE_PAIRS];

	(void)state;
	memset(fds, 0x55, sizeof(fds));
	c.vhost = VM_NET_VHOST_AUTO;
	assert_int_equal(net_vhost_open(MISSING, &c, 4, fds, &err), 0);
	fds_none(fds, 4);
	c.vhost = VM_NET_VHOST_OFF;
	assert_int_equal(net_vhost_open(MISSING, &c, 4, fds, &err), 0);
	fds_none(fds, 4);
	c.vhost = VM_NET_VHOST_ON;
	assert_int_equal(net_vhost_open(MISSING, &c, 4, fds, &err), -ENOENT);
	fds_none(fds, 4);
	assert_non_null(strstr(err.msg, "--net tap=t0,vhost=on: " MISSING));
	assert_null(strchr(err.msg, '\n'));
}

static void test_device_opens(void **state)
{
	struct vm_net_config c = { .tap = "t0" };
	struct hull_err err = { 0 };
	int fds[VM_NET_MAX_QUEUE_PAIRS];

	(void)state;
	for (unsigned n = 1; n <= VM_NET_MAX_QUEUE_PAIRS; n++) {
		c.vhost = n % 2 ? VM_NET_VHOST_AUTO : VM_NET_VHOST_ON;
		assert_int_equal(net_vhost_open("/dev/null", &c, n, fds, &err), 0);
		fds_close(fds, n);
	}
	c.vhost = VM_NET_VHOST_OFF;
	assert_int_equal(net_vhost_open("/dev/null", &c, 2, fds, &err), 0);
	fds_none(fds, 2);
	/* a rate limit: the kernel could not keep it, so auto stays in user space */
	c.vhost = VM_NET_VHOST_AUTO;
	c.tx_rate.ops.size = 100;
	assert_int_equal(net_vhost_open("/dev/null", &c, 2, fds, &err), 0);
	fds_none(fds, 2);
}

static void test_on_with_rate_limit(void **state)
{
	struct vm_net_config c = { .tap = "t0", .vhost = VM_NET_VHOST_ON };
	struct vm_config cfg = { .cpus = 1, .nets = &c, .n_nets = 1 };
	struct hull_err err = { 0 };

	(void)state;
	assert_int_equal(virtio_net_config_check(&cfg, &err), 0);
	c.rx_rate.bytes.size = 1 << 20;
	assert_int_equal(virtio_net_config_check(&cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--net tap=t0: vhost=on: rate limits need the "
					"user-space datapath"));
	c.vhost = VM_NET_VHOST_AUTO;
	assert_int_equal(virtio_net_config_check(&cfg, &err), 0);
}

/* A worker for queue pair 1 of a 2-pair NIC: queues 2 and 3, not beyond the device's. */
static void test_attach_at(void **state)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 16 };
	struct guest_mem mem;
	struct hull_err err = { 0 };
	struct vhost_dev d;
	int sp[2][2], fds[2];
	struct virtio_pci_dev *v;

	(void)state;
	assert_int_equal(gmem_init(&mem, 1 << 20), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp[i]), 0);
		fds[i] = sp[i][0];
	}
	v = virtio_net_new_test(&mem, mac, fds, 2); /* 5 queues: 2 pairs and the control queue */
	assert_false(virtio_net_is_vhost(v));
	vhost_init(&d);
	assert_int_equal(vhost_attach_at(&d, v, 4, 2, &err), -EINVAL);
	assert_int_equal(vhost_attach_at(&d, v, 6, 0, &err), -EINVAL);
	vhost_release(&d);
	assert_int_equal(vhost_attach_at(&d, v, 2, 2, &err), 0);
	assert_int_equal(d.first, 2);
	assert_int_equal(d.nvqs, 2);
	assert_int_equal(d.cb[0].q, 2);
	assert_int_equal(d.cb[1].q, 3);
	assert_true(d.call_fd[1] >= 0 && d.err_fd[1] >= 0);
	assert_int_equal(d.call_fd[2], -1);
	/* without a kernel behind it (fd -1) a start and a stop do nothing */
	assert_int_equal(vhost_start(&d), 0);
	vhost_stop(&d);
	vhost_release(&d);
	assert_int_equal(d.call_fd[0], -1);
	virtio_net_free(v);
	for (unsigned i = 0; i < 2; i++)
		close(sp[i][1]);
	gmem_release(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_device),
		cmocka_unit_test(test_device_opens),
		cmocka_unit_test(test_on_with_rate_limit),
		cmocka_unit_test(test_attach_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
