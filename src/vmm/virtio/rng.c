#include "vmm/virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "common/alloc.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_RNG 4
#define RNG_MAX_PER_REQUEST 4096 /* bytes per buffer: entropy is cheap, time is not */

static void rng_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	struct virtq *vq = &v->st.vq[q];
	struct virtq_elem e;
	bool done = false;
	int r;

	while ((r = virtq_pop(vq, &e)) > 0) {
		uint32_t written = 0;

		for (unsigned i = e.n_in; i < e.n_in + e.n_out && written < RNG_MAX_PER_REQUEST; i++) {
			size_t want = e.iov[i].iov_len;
			ssize_t got;

			if (want > RNG_MAX_PER_REQUEST - written)
				want = RNG_MAX_PER_REQUEST - written;
			got = getrandom(e.iov[i].iov_base, want, 0);
			if (got <= 0)
				break;
			written += (uint32_t)got;
		}
		(void)virtq_push(vq, e.head, written);
		done = true;
	}
	if (done)
		virtio_pci_notify(v, q);
	if (r < 0)
		virtio_pci_device_error(v);
}

static const struct virtio_dev_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.class_code = 0xff0000,
	.num_queues = 1,
	.queue_max = 64,
	.queue_notify = rng_queue_notify,
};

int virtio_rng_create(struct vm *vm, struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct virtio_pci_dev *v = xcalloc(1, sizeof(*v));
	int r = virtio_pci_init(v, vm, &vm->mem, &rng_ops, err);

	if (r < 0) {
		virtio_rng_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

struct virtio_pci_dev *virtio_rng_new_test(const struct guest_mem *mem)
{
	struct virtio_pci_dev *v = xcalloc(1, sizeof(*v));

	(void)virtio_pci_init(v, NULL, mem, &rng_ops, NULL);
	return v;
}

void virtio_rng_free(struct virtio_pci_dev *v)
{
	if (!v)
		return;
	virtio_pci_release(v);
	free(v);
}
