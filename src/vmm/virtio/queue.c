#include "vmm/virtio/queue.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* virtio 1.2, 2.7.5 */
struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));
_Static_assert(sizeof(struct vring_desc_le) == 16, "vring desc");

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4

void virtq_reset(struct virtq *q, const struct guest_mem *mem, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->max_size = max_size;
	q->size = max_size;
	q->msix_vector = 0xffff;
}

int virtq_enable(struct virtq *q)
{
	uint64_t n = q->size;

	if (n == 0 || n > q->max_size || (n & (n - 1)))
		return -EINVAL;
	/* Alignment (2.7): descriptors 16, driver area 2, device area 4. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EFAULT;
	if (!gmem_ptr(q->mem, q->desc_gpa, 16 * n) || !gmem_ptr(q->mem, q->avail_gpa, 6 + 2 * n) ||
	    !gmem_ptr(q->mem, q->used_gpa, 6 + 8 * n))
		return -EFAULT;
	q->ready = true;
	q->broken = false;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	return 0;
}

static uint16_t ld16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static int virtq_fail(struct virtq *q, int err)
{
	q->broken = true;
	return err;
}

/* The used ring's avail_event, after its ring (checked by virtq_enable): last_avail. */
static void virtq_set_avail_event(struct virtq *q)
{
	uint8_t *used = gmem_ptr(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	uint16_t v = htole16(q->last_avail);

	if (!used)
		return;
	memcpy(used + 4 + 8ULL * q->size, &v, 2);
	/* the write before the re-read of avail->idx: pairs with the driver's full barrier */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_need_notify(struct virtq *q)
{
	const uint8_t *avail = gmem_ptr(q->mem, q->avail_gpa, 6 + 2ULL * q->size);
	uint16_t old = q->signalled_used, now = q->used_idx, event;
	bool valid = q->signalled_valid;

	if (!q->event_idx || !avail)
		return true;
	/* the used index (written by the push) before used_event is read */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = ld16(avail + 4 + 2ULL * q->size);
	q->signalled_used = now;
	q->signalled_valid = true;
	/* 2.7.10: vring_need_event(used_event, new, old), modulo 2^16 */
	return !valid || (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

/* One descriptor's buffer into e, readable ones before writable ones (2.7.4.2). */
static int virtq_take(const struct virtq *q, struct virtq_elem *e, uint64_t addr, uint32_t len,
		      bool write)
{
	void *p = gmem_ptr(q->mem, addr, len);

	if (!p)
		return -EFAULT;
	if (e->n_in + e->n_out >= VIRTQ_MAX_CHAIN)
		return -ELOOP;
	if (write) {
		/* the device writes here: dirty for a migration (dirty.h), marked now */
		gmem_mark_dirty(q->mem, addr, len);
		e->iov[e->n_in + e->n_out++] = (struct iovec){ p, len };
		e->out_len += len;
	} else {
		if (e->n_out)
			return -EINVAL;
		e->iov[e->n_in++] = (struct iovec){ p, len };
		e->in_len += len;
	}
	return 0;
}

/*
 * The chain from idx in the n-entry table desc (the ring's, or an indirect one: top false).
 * An indirect descriptor (2.7.5.3, only with VIRTQ_F_INDIRECT_DESC negotiated) ends its
 * chain in the ring's table (no NEXT), its table a whole number of descriptors
 * inside guest RAM, at most VIRTQ_MAX_CHAIN of them, and holds no indirect one itself. The
 * chain visits at most n descriptors (no loop) and VIRTQ_MAX_CHAIN buffers in all.
 */
static int virtq_walk(const struct virtq *q, struct virtq_elem *e,
		      const struct vring_desc_le *desc, unsigned n, uint16_t idx, bool top)
{
	unsigned count = 0;
	int r;

	for (;;) {
		struct vring_desc_le d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;

		if (++count > n || count > VIRTQ_MAX_CHAIN)
			return -ELOOP;
		memcpy(&d, (const void *)&desc[idx], sizeof(d));
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			const struct vring_desc_le *t;

			if (!top || !q->indirect || (flags & VRING_DESC_F_NEXT) ||
			    !len || (len & 15) || len / 16 > VIRTQ_MAX_CHAIN)
				return -EINVAL;
			t = gmem_ptr(q->mem, addr, len);
			if (!t || (addr & 15))
				return -EFAULT;
			return virtq_walk(q, e, t, len / 16, 0, false);
		}
		r = virtq_take(q, e, addr, len, flags & VRING_DESC_F_WRITE);
		if (r < 0)
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
		if (idx >= n)
			return -EINVAL;
	}
}

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	/* The ring pointers were checked by virtq_enable; the guest cannot move them after. */
	const uint8_t *avail = gmem_ptr(q->mem, q->avail_gpa, 6 + 2ULL * q->size);
	const struct vring_desc_le *desc = gmem_ptr(q->mem, q->desc_gpa, 16ULL * q->size);
	uint16_t avail_idx;
	int r;

	if (!q->ready || q->broken || !avail || !desc)
		return -EIO;
	avail_idx = le16toh(__atomic_load_n((const uint16_t *)(const void *)(avail + 2), __ATOMIC_ACQUIRE));
	if (avail_idx == q->last_avail) {
		if (!q->event_idx)
			return 0;
		/*
		 * Empty: ask for a kick at the next entry (avail_event), then look again, so that
		 * an entry the driver added before it could see avail_event is not left waiting.
		 */
		virtq_set_avail_event(q);
		avail_idx = le16toh(__atomic_load_n((const uint16_t *)(const void *)(avail + 2),
						    __ATOMIC_ACQUIRE));
		if (avail_idx == q->last_avail)
			return 0;
	}
	/* More entries than the ring holds: the index is garbage. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return virtq_fail(q, -EINVAL);
	/* Read the ring entry only after the index (pairs with the driver's write barrier). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	e->head = ld16(avail + 4 + 2 * (q->last_avail & (q->size - 1)));
	if (e->head >= q->size)
		return virtq_fail(q, -EINVAL);
	e->n_in = e->n_out = 0;
	e->in_len = e->out_len = 0;
	r = virtq_walk(q, e, desc, q->size, e->head, true);
	if (r < 0)
		return virtq_fail(q, r);
	q->last_avail++;
	return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	uint8_t *used = gmem_ptr(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	uint8_t *slot;
	uint32_t v;
	uint16_t idx;

	if (!q->ready || !used)
		return -EIO;
	gmem_mark_dirty(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	slot = used + 4 + 8 * (q->used_idx & (q->size - 1));
	v = htole32(head);
	memcpy(slot, &v, 4);
	v = htole32(len);
	memcpy(slot + 4, &v, 4);
	/* The entry must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx++;
	idx = htole16(q->used_idx);
	memcpy(used + 2, &idx, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int virtq_push_n(struct virtq *q, const uint16_t *heads, const uint32_t *lens, unsigned n)
{
	uint8_t *used = gmem_ptr(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	uint16_t idx;

	if (!q->ready || !used || n > q->size)
		return -EIO;
	gmem_mark_dirty(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *slot = used + 4 + 8 * ((uint16_t)(q->used_idx + i) & (q->size - 1));
		uint32_t v = htole32(heads[i]);

		memcpy(slot, &v, 4);
		v = htole32(lens[i]);
		memcpy(slot + 4, &v, 4);
	}
	/* The entries must be visible before the index that publishes them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx = (uint16_t)(q->used_idx + n);
	idx = htole16(q->used_idx);
	memcpy(used + 2, &idx, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

void virtq_unpop(struct virtq *q, unsigned n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

size_t virtq_elem_write(const struct virtq_elem *e, uint64_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = e->n_in; i < e->n_in + e->n_out && done < len; i++) {
		size_t l = e->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= (size_t)off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)e->iov[i].iov_base + off, (const uint8_t *)src + done, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t virtq_elem_read(const struct virtq_elem *e, uint64_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < e->n_in && done < len; i++) {
		size_t l = e->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)e->iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}
