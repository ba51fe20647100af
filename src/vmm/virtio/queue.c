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

int virtq_pop(struct virtq *q, struct virtq_elem *e)
{
	/* The ring pointers were checked by virtq_enable; the guest cannot move them after. */
	const uint8_t *avail = gmem_ptr(q->mem, q->avail_gpa, 6 + 2ULL * q->size);
	const struct vring_desc_le *desc = gmem_ptr(q->mem, q->desc_gpa, 16ULL * q->size);
	uint16_t avail_idx, idx;
	unsigned count = 0;
	bool seen_write = false;

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
	idx = e->head;
	for (;;) {
		struct vring_desc_le d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		void *p;

		/* A chain can't be longer than the table (no loop) nor than our limit. */
		if (++count > q->size || count > VIRTQ_MAX_CHAIN)
			return virtq_fail(q, -ELOOP);
		memcpy(&d, (const void *)&desc[idx], sizeof(d));
		addr = le64toh(d.addr);
		len = le32toh(d.len);
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) /* not offered */
			return virtq_fail(q, -EINVAL);
		p = gmem_ptr(q->mem, addr, len);
		if (!p)
			return virtq_fail(q, -EFAULT);
		if (flags & VRING_DESC_F_WRITE) {
			/* the device writes here: dirty for a migration (dirty.h), marked now */
			gmem_mark_dirty(q->mem, addr, len);
			seen_write = true;
			e->iov[e->n_in + e->n_out++] = (struct iovec){ p, len };
			e->out_len += len;
		} else {
			/* 2.7.4.2: readable descriptors come before writable ones. */
			if (seen_write)
				return virtq_fail(q, -EINVAL);
			e->iov[e->n_in++] = (struct iovec){ p, len };
			e->in_len += len;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		idx = le16toh(d.next);
		if (idx >= q->size)
			return virtq_fail(q, -EINVAL);
	}
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
