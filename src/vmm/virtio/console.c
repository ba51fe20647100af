#include "vmm/virtio/console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_CONSOLE 3
#define CON_RXQ 0 /* receiveq(port0): device to driver */
#define CON_TXQ 1 /* transmitq(port0): driver to device */

struct con {
	int out_fd;
	uint8_t pending[VIRTIO_CONSOLE_PENDING];
	size_t head, len;
};

/* With v->lock held: move held input into the guest's receive buffers. */
static void con_rx_fill(struct virtio_pci_dev *v)
{
	struct con *c = v->priv;
	struct virtq *vq = &v->st.vq[CON_RXQ];
	struct virtq_elem e;
	bool done = false;
	int r = 0;

	if (!(v->st.status & VIRTIO_STATUS_DRIVER_OK) || !vq->ready || vq->broken)
		return;
	while (c->len && (r = virtq_pop(vq, &e)) > 0) {
		uint32_t written = 0;

		for (unsigned i = e.n_in; i < e.n_in + e.n_out && c->len; i++) {
			uint8_t *dst = e.iov[i].iov_base;
			size_t room = e.iov[i].iov_len;

			while (room && c->len) {
				size_t run = VIRTIO_CONSOLE_PENDING - c->head;

				if (run > c->len)
					run = c->len;
				if (run > room)
					run = room;
				memcpy(dst, c->pending + c->head, run);
				dst += run;
				room -= run;
				written += (uint32_t)run;
				c->head = (c->head + run) % VIRTIO_CONSOLE_PENDING;
				c->len -= run;
			}
		}
		(void)virtq_push(vq, e.head, written);
		done = true;
	}
	if (done)
		virtio_pci_notify(v, CON_RXQ);
	if (r < 0)
		virtio_pci_device_error(v);
}

/* With v->lock held: the guest's output, written in order; the buffers go back unwritten. */
static void con_tx(struct virtio_pci_dev *v)
{
	struct con *c = v->priv;
	struct virtq *vq = &v->st.vq[CON_TXQ];
	struct virtq_elem e;
	bool done = false;
	int r;

	while ((r = virtq_pop(vq, &e)) > 0) {
		for (unsigned i = 0; i < e.n_in; i++)
			if (c->out_fd >= 0)
				(void)fd_write_all(c->out_fd, e.iov[i].iov_base, e.iov[i].iov_len);
		if (v->vm && e.in_len &&
		    !atomic_load_explicit(&v->vm->first_output_ns, memory_order_relaxed))
			atomic_store_explicit(&v->vm->first_output_ns, vm_now_ns(),
					      memory_order_relaxed);
		(void)virtq_push(vq, e.head, 0);
		done = true;
	}
	if (done)
		virtio_pci_notify(v, CON_TXQ);
	if (r < 0)
		virtio_pci_device_error(v);
}

static void con_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	if (q == CON_TXQ)
		con_tx(v);
	else
		con_rx_fill(v);
}

size_t virtio_console_input(struct virtio_pci_dev *v, const uint8_t *buf, size_t len)
{
	struct con *c = v->priv;
	size_t n;

	pthread_mutex_lock(&v->lock);
	n = VIRTIO_CONSOLE_PENDING - c->len;
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		c->pending[(c->head + c->len + i) % VIRTIO_CONSOLE_PENDING] = buf[i];
	c->len += n;
	con_rx_fill(v);
	pthread_mutex_unlock(&v->lock);
	return n;
}

static const struct virtio_dev_ops con_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.class_code = 0x078000, /* simple communication controller, other */
	.num_queues = 2,
	.queue_max = 64,
	/*
	 * Linux's virtio_console spins after each transmit kick until the buffer comes back
	 * (__send_to_port): serving the kick in the vCPU's own MMIO exit is the shortest path;
	 * through an ioeventfd the vCPU spins while the event loop thread is woken (measured
	 * in the sandbox: docs/performance.md).
	 */
	.sync_kick_queues = 1U << CON_TXQ,
	.queue_notify = con_queue_notify,
};

static struct virtio_pci_dev *con_alloc(int out_fd)
{
	struct virtio_pci_dev *v = xcalloc(1, sizeof(*v));
	struct con *c = xcalloc(1, sizeof(*c));

	c->out_fd = out_fd;
	v->priv = c;
	return v;
}

int virtio_console_create(struct vm *vm, int out_fd, struct virtio_pci_dev **ret,
			  struct hull_err *err)
{
	struct virtio_pci_dev *v = con_alloc(out_fd);
	int r = virtio_pci_init(v, vm, &vm->mem, &con_ops, err);

	if (r < 0) {
		virtio_console_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

struct virtio_pci_dev *virtio_console_new_test(const struct guest_mem *mem, int out_fd)
{
	struct virtio_pci_dev *v = con_alloc(out_fd);

	(void)virtio_pci_init(v, NULL, mem, &con_ops, NULL);
	return v;
}

void virtio_console_free(struct virtio_pci_dev *v)
{
	if (!v)
		return;
	virtio_pci_release(v);
	free(v->priv);
	free(v);
}
