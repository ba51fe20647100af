/*
 * virtio-blk serves its queue on its own I/O thread: while a request is stuck in the disk (a
 * delay hook that blocks until the test releases it), the VM's event loop still answers
 * (what the console and the API need). Built over a VM without KVM: an event loop, a PCI bus,
 * fake guest memory; the test writes the kick eventfd as KVM's ioeventfd would.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/disk.h"
#include "vmm/loop.h"
#include "vmm/memory.h"
#include "vmm/pci.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#include "virtio-driver.h"

/* The stuck disk: the hook blocks until released (or a generous bound, so a bug fails). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool in_disk, released, api_saw_disk_busy;
static atomic_int loop_stop;

static void stuck_disk(void *opaque)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&mu);
	in_disk = true;
	pthread_cond_broadcast(&cv);
	while (!released)
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT)
			break;
	in_disk = false;
	pthread_mutex_unlock(&mu);
}

/* Stands for the API socket or the console: answered on the VM's event loop. */
static void on_api(void *opaque, int fd, uint32_t events)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&mu);
	api_saw_disk_busy = in_disk;
	pthread_mutex_unlock(&mu);
	atomic_store(&loop_stop, 1);
}

static void set_desc(struct guest_mem *m, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *d = gmem_ptr(m, DESC + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static void test_slow_disk_does_not_block_the_loop(void **state)
{
	char path[] = "/tmp/hull-test-iothread-XXXXXX";
	struct vm_disk_config cfg = { .path = path, .format = DISK_FORMAT_RAW };
	struct hull_err err = { 0 };
	struct vm *vm = calloc(1, sizeof(*vm));
	struct virtio_pci_dev *v = NULL;
	struct disk *d = NULL;
	uint16_t *avail, *used;
	uint8_t *status;
	struct timespec until;
	uint64_t one = 1;
	int fd, api_fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	vm->vm_fd = vm->kvm_fd = -1;
	vm->loop = evloop_new();
	assert_non_null(vm->loop);
	assert_int_equal(gmem_init(&vm->mem, 1U << 20), 0);
	assert_int_equal(pci_bus_create(vm, &vm->pci, &err), 0);
	assert_int_equal(disk_open(path, DISK_FORMAT_RAW, 0, &d, &err), 0);
	assert_int_equal(virtio_blk_create(vm, &cfg, &d, &v, &err), 0);
	virtio_blk_set_test_delay(v, stuck_disk, NULL);

	/* The driver: features, one queue of 16, DRIVER_OK; then a read request. */
	drv_features(v);
	drv_queue(v, 0, 16, -1, DESC, AVAIL, USED);
	drv_ok(v);
	memset(gmem_ptr(&vm->mem, HDR, 16), 0, 16); /* VIRTIO_BLK_T_IN, sector 0 */
	status = gmem_ptr(&vm->mem, STATUS, 1);
	*status = 0xee;
	set_desc(&vm->mem, 0, HDR, 16, 1, 1);
	set_desc(&vm->mem, 1, DATA, 512, 1 | 2, 2);
	set_desc(&vm->mem, 2, STATUS, 1, 2, 0);
	avail = gmem_ptr(&vm->mem, AVAIL, 4 + 2 * 16);
	avail[2] = 0;
	avail[1] = 1;
	assert_true(v->kick_fd[0] >= 0);
	assert_int_equal(write(v->kick_fd[0], &one, sizeof(one)), sizeof(one)); /* ioeventfd */

	/* The API asks while the disk is stuck: the VM's loop answers at once. */
	api_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(evloop_add(vm->loop, api_fd, EPOLLIN, on_api, NULL), 0);
	/* Bounded, so that a device served on the loop's own thread fails instead of hanging. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	pthread_mutex_lock(&mu);
	while (!in_disk && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&mu);
	assert_int_equal(write(api_fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(evloop_run(vm->loop, &loop_stop), 0);
	assert_true(api_saw_disk_busy);

	/* Released, the request completes on the I/O thread. */
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	used = gmem_ptr(&vm->mem, USED, 4 + 8 * 16);
	for (int i = 0; i < 2000 && __atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != 1; i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&used[1], __ATOMIC_ACQUIRE), 1);
	assert_int_equal(*status, 0); /* VIRTIO_BLK_S_OK */

	(void)evloop_del(vm->loop, api_fd);
	close(api_fd);
	virtio_blk_free(v);
	pci_bus_free(vm->pci);
	evloop_free(vm->loop);
	gmem_release(&vm->mem);
	free(vm);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_disk_does_not_block_the_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
