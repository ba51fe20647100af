#include "vmm/virtio/mem.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "vmm/memory.h"
#include "vmm/state.h"
#include "vmm/virtio/pci.h"
#include "vmm/vm.h"

#define VIRTIO_ID_MEM 24
#define VMEM_QUEUE_SIZE 128
#define VMEM_CONFIG_LEN 56
/* configuration offsets (5.15.4 struct virtio_mem_config) */
#define VMEM_CFG_BLOCK_SIZE 0
#define VMEM_CFG_NODE_ID 8
#define VMEM_CFG_ADDR 16
#define VMEM_CFG_REGION_SIZE 24
#define VMEM_CFG_USABLE_SIZE 32
#define VMEM_CFG_PLUGGED_SIZE 40
#define VMEM_CFG_REQUESTED_SIZE 48
/* requests served per kick whatever the guest posts; the rest after the other devices */
#define VMEM_MAX_REQS_PER_KICK 32
#define VMEM_STATE_VERSION 1

enum { VMEM_REQ_PLUG, VMEM_REQ_UNPLUG, VMEM_REQ_UNPLUG_ALL, VMEM_REQ_STATE };
enum { VMEM_RESP_ACK, VMEM_RESP_NACK, VMEM_RESP_BUSY, VMEM_RESP_ERROR };
enum { VMEM_STATE_PLUGGED, VMEM_STATE_UNPLUGGED, VMEM_STATE_MIXED };

struct vmem_req_le {
	uint16_t type;
	uint16_t pad[3];
	uint64_t addr;
	uint16_t nb_blocks;
	uint16_t pad2[3];
} __attribute__((packed));
_Static_assert(sizeof(struct vmem_req_le) == 24, "virtio_mem_req");

struct vmem_resp_le {
	uint16_t type;
	uint16_t pad[3];
	uint16_t state;
} __attribute__((packed));
_Static_assert(sizeof(struct vmem_resp_le) == 10, "virtio_mem_resp");

struct vmem {
	struct virtio_pci_dev v; /* first */
	struct virtio_dev_ops ops;
	uint64_t nblocks;
	uint64_t *plugged; /* bit per block, (nblocks + 63) / 64 words */
	struct vmem_info info;
};

static void config_put64(struct virtio_pci_dev *v, uint32_t off, uint64_t val)
{
	val = htole64(val);
	memcpy(v->st.config + off, &val, 8);
}

static bool blk_plugged(const struct vmem *m, uint64_t b)
{
	return (m->plugged[b / 64] >> (b % 64)) & 1;
}

static void blk_set(struct vmem *m, uint64_t b, bool on)
{
	if (on)
		m->plugged[b / 64] |= 1ULL << (b % 64);
	else
		m->plugged[b / 64] &= ~(1ULL << (b % 64));
}

/* Whether every block of [first, first + n) is in state on. */
static bool range_all(const struct vmem *m, uint64_t first, uint64_t n, bool on)
{
	for (uint64_t b = first; b < first + n; b++)
		if (blk_plugged(m, b) != on)
			return false;
	return true;
}

/* Give the host pages of blocks [first, first + n) back. */
static void range_release(struct vmem *m, uint64_t first, uint64_t n)
{
	const struct guest_mem *g = m->v.mem;
	uint64_t bs = m->info.block_size;

	gmem_discard(g, g->hp_host + first * bs, n * bs);
}

static void plugged_changed(struct vmem *m)
{
	config_put64(&m->v, VMEM_CFG_PLUGGED_SIZE, m->info.plugged_size);
}

/*
 * The blocks [*first, *first + n) that addr and nb_blocks name: false unless addr is aligned
 * to the block size, inside the region, and the whole range too (written so that no sum
 * overflows: both come from the guest).
 */
static bool req_range(const struct vmem *m, uint64_t addr, uint16_t nb, uint64_t *first)
{
	uint64_t bs = m->info.block_size;

	if (nb == 0 || addr < m->info.addr || (addr - m->info.addr) % bs)
		return false;
	*first = (addr - m->info.addr) / bs;
	return *first < m->nblocks && nb <= m->nblocks - *first;
}

static void unplug_all(struct vmem *m)
{
	uint64_t run = 0;

	for (uint64_t b = 0; b <= m->nblocks; b++) {
		if (b < m->nblocks && blk_plugged(m, b)) {
			blk_set(m, b, false);
			run++;
			continue;
		}
		if (run)
			range_release(m, b - run, run);
		run = 0;
	}
	m->info.plugged_size = 0;
	plugged_changed(m);
}

/* One request (5.15.6): the response type, and *state for STATE. */
static uint16_t vmem_request(struct vmem *m, const struct vmem_req_le *q, uint16_t *state)
{
	uint16_t type = le16toh(q->type), nb = le16toh(q->nb_blocks);
	uint64_t first = 0, bytes = (uint64_t)nb * m->info.block_size;

	if (type == VMEM_REQ_UNPLUG_ALL) {
		unplug_all(m);
		return VMEM_RESP_ACK;
	}
	if (type > VMEM_REQ_STATE || !req_range(m, le64toh(q->addr), nb, &first))
		return VMEM_RESP_ERROR;
	switch (type) {
	case VMEM_REQ_PLUG:
		/* the host lowered requested_size below plugged_size: nothing more to plug */
		if (m->info.plugged_size >= m->info.requested_size ||
		    bytes > m->info.requested_size - m->info.plugged_size)
			return VMEM_RESP_NACK;
		if (!range_all(m, first, nb, false))
			return VMEM_RESP_ERROR;
		for (uint64_t b = first; b < first + nb; b++)
			blk_set(m, b, true);
		m->info.plugged_size += bytes;
		plugged_changed(m);
		return VMEM_RESP_ACK;
	case VMEM_REQ_UNPLUG:
		if (!range_all(m, first, nb, true))
			return VMEM_RESP_ERROR;
		for (uint64_t b = first; b < first + nb; b++)
			blk_set(m, b, false);
		range_release(m, first, nb);
		m->info.plugged_size -= bytes;
		plugged_changed(m);
		return VMEM_RESP_ACK;
	default: /* STATE */
		*state = range_all(m, first, nb, true)	  ? VMEM_STATE_PLUGGED
			 : range_all(m, first, nb, false) ? VMEM_STATE_UNPLUGGED
							  : VMEM_STATE_MIXED;
		return VMEM_RESP_ACK;
	}
}

/* false: the chain is too short for a request or its response (the driver is broken) */
static bool vmem_serve(struct vmem *m, struct virtq *vq, const struct virtq_elem *e)
{
	struct vmem_req_le q;
	struct vmem_resp_le resp = { 0 };
	uint16_t state = 0, type;

	if (virtq_elem_read(e, 0, &q, sizeof(q)) != sizeof(q) || e->out_len < sizeof(resp))
		return false;
	type = vmem_request(m, &q, &state);
	if (type == VMEM_RESP_ACK)
		m->info.acks++;
	else if (type == VMEM_RESP_NACK)
		m->info.nacks++;
	else
		m->info.errors++;
	resp.type = htole16(type);
	resp.state = htole16(state);
	(void)virtq_elem_write(e, 0, &resp, sizeof(resp));
	return virtq_push(vq, e->head, sizeof(resp)) == 0;
}

static void vmem_queue_notify(struct virtio_pci_dev *v, unsigned q)
{
	struct vmem *m = (struct vmem *)v;
	struct virtq *vq = &v->st.vq[q];
	struct virtq_elem e;
	unsigned served = 0;
	int r = 0;

	if (q != 0)
		return;
	while (served < VMEM_MAX_REQS_PER_KICK && (r = virtq_pop(vq, &e)) > 0) {
		served++;
		if (!vmem_serve(m, vq, &e)) {
			r = -EINVAL;
			break;
		}
	}
	if (served)
		virtio_pci_notify(v, q);
	if (r < 0) {
		virtio_pci_device_error(v);
	} else if (served == VMEM_MAX_REQS_PER_KICK && v->kick_fd[q] >= 0) {
		uint64_t one = 1;

		/* More may wait: come back after the other fds the loop has ready. */
		(void)!write(v->kick_fd[q], &one, sizeof(one));
	}
}

int virtio_mem_set_requested(struct virtio_pci_dev *v, uint64_t bytes)
{
	struct vmem *m = (struct vmem *)v;

	if (bytes > m->info.region_size)
		return -ERANGE;
	if (bytes % m->info.block_size)
		return -EINVAL;
	pthread_mutex_lock(&v->lock);
	/* below plugged_size: the guest follows by unplugging (a PLUG is refused until then) */
	m->info.requested_size = bytes;
	config_put64(v, VMEM_CFG_REQUESTED_SIZE, bytes);
	virtio_pci_config_changed(v);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void virtio_mem_info(struct virtio_pci_dev *v, struct vmem_info *ret)
{
	struct vmem *m = (struct vmem *)v;

	pthread_mutex_lock(&v->lock);
	*ret = m->info;
	pthread_mutex_unlock(&v->lock);
}

static struct vmem *vmem_alloc(const struct guest_mem *g, const struct vm_mem_hotplug_config *cfg)
{
	struct vmem *m = xcalloc(1, sizeof(*m));

	m->ops = (struct virtio_dev_ops){
		.name = "virtio-mem",
		.device_id = VIRTIO_ID_MEM,
		.class_code = 0x050000, /* memory controller */
		.features = 0, /* no ACPI_PXM (no SRAT), no UNPLUGGED_INACCESSIBLE */
		.num_queues = 1,
		.queue_max = VMEM_QUEUE_SIZE,
		.queue_notify = vmem_queue_notify,
	};
	m->info.block_size = cfg->block_size ? cfg->block_size : VM_MEM_HOTPLUG_BLOCK_DEFAULT;
	m->info.addr = g->hp_gpa;
	m->info.region_size = g->hp_size;
	m->nblocks = g->hp_size / m->info.block_size;
	m->plugged = xcalloc((size_t)(m->nblocks + 63) / 64 + 1, sizeof(uint64_t));
	m->v.st.config_len = VMEM_CONFIG_LEN;
	config_put64(&m->v, VMEM_CFG_BLOCK_SIZE, m->info.block_size);
	config_put64(&m->v, VMEM_CFG_ADDR, m->info.addr);
	config_put64(&m->v, VMEM_CFG_REGION_SIZE, m->info.region_size);
	config_put64(&m->v, VMEM_CFG_USABLE_SIZE, m->nblocks * m->info.block_size);
	return m;
}

int virtio_mem_create(struct vm *vm, const struct vm_mem_hotplug_config *cfg,
		      struct virtio_pci_dev **ret, struct hull_err *err)
{
	struct vmem *m;
	int r;

	/* vm_validate checked the size and block size; vm_prepare mapped the region */
	if (!vm->mem.hp_size)
		return hull_err_setx(err, EINVAL, "virtio-mem: no hotplug region");
	m = vmem_alloc(&vm->mem, cfg);
	r = virtio_pci_init(&m->v, vm, &vm->mem, &m->ops, err);
	if (r < 0) {
		virtio_mem_free(&m->v);
		return r;
	}
	*ret = &m->v;
	return 0;
}

struct virtio_pci_dev *virtio_mem_new_test(const struct guest_mem *g,
					   const struct vm_mem_hotplug_config *cfg)
{
	struct vmem *m = vmem_alloc(g, cfg);

	(void)virtio_pci_init(&m->v, NULL, g, &m->ops, NULL);
	return &m->v;
}

void virtio_mem_free(struct virtio_pci_dev *v)
{
	struct vmem *m = (struct vmem *)v;

	if (!v)
		return;
	virtio_pci_release(v);
	free(m->plugged);
	free(m);
}

/*
 * Version, the region's geometry (checked on load: the same --memory-hotplug), requested and
 * plugged sizes, the bitmap, then the transport's state (which must end the section).
 */
void virtio_mem_save(struct virtio_pci_dev *v, struct state_writer *w)
{
	struct vmem *m = (struct vmem *)v;

	pthread_mutex_lock(&v->lock);
	state_put_u32(w, VMEM_STATE_VERSION);
	state_put_u64(w, m->info.addr);
	state_put_u64(w, m->info.region_size);
	state_put_u64(w, m->info.block_size);
	state_put_u64(w, m->info.requested_size);
	state_put_u64(w, m->info.plugged_size);
	state_put_bytes(w, m->plugged, (size_t)(m->nblocks + 63) / 64 * 8);
	pthread_mutex_unlock(&v->lock);
	virtio_pci_save(v, w);
}

/* The loaded bitmap's plugged bytes, or UINT64_MAX when it has bits past the last block. */
static uint64_t bitmap_bytes(const struct vmem *m, const uint64_t *bm)
{
	uint64_t n = 0;

	for (uint64_t b = 0; b < (m->nblocks + 63) / 64 * 64; b++) {
		bool on = (bm[b / 64] >> (b % 64)) & 1;

		if (on && b >= m->nblocks)
			return UINT64_MAX;
		n += on;
	}
	return n * m->info.block_size;
}

int virtio_mem_load(struct virtio_pci_dev *v, struct state_reader *r)
{
	struct vmem *m = (struct vmem *)v;
	size_t words = (size_t)(m->nblocks + 63) / 64;
	uint64_t addr = 0, region = 0, bs = 0, req = 0, plugged = 0;
	cleanup_free uint64_t *bm = xcalloc(words + 1, sizeof(uint64_t));
	uint32_t ver = 0;
	int e = 0;

	e |= state_get_u32(r, &ver);
	e |= state_get_u64(r, &addr);
	e |= state_get_u64(r, &region);
	e |= state_get_u64(r, &bs);
	e |= state_get_u64(r, &req);
	e |= state_get_u64(r, &plugged);
	if (e || ver != VMEM_STATE_VERSION || addr != m->info.addr ||
	    region != m->info.region_size || bs != m->info.block_size ||
	    req > region || req % bs || state_get_bytes(r, bm, words * 8) < 0 ||
	    bitmap_bytes(m, bm) != plugged)
		return -EBADMSG;
	e = virtio_pci_load(v, r);
	if (e < 0)
		return e;
	pthread_mutex_lock(&v->lock);
	memcpy(m->plugged, bm, words * 8);
	m->info.requested_size = req;
	m->info.plugged_size = plugged;
	/* the transport loaded the stream's config bytes: the device's own values win */
	memset(v->st.config, 0, VMEM_CONFIG_LEN);
	config_put64(v, VMEM_CFG_BLOCK_SIZE, bs);
	config_put64(v, VMEM_CFG_ADDR, addr);
	config_put64(v, VMEM_CFG_REGION_SIZE, region);
	config_put64(v, VMEM_CFG_USABLE_SIZE, m->nblocks * bs);
	config_put64(v, VMEM_CFG_REQUESTED_SIZE, req);
	plugged_changed(m);
	pthread_mutex_unlock(&v->lock);
	return 0;
}
