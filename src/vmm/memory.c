#include "vmm/memory.h"

#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>

#define GMEM_ALIGN (2ULL << 20)

int gmem_init(struct guest_mem *m, uint64_t size)
{
	void *p;
	size_t head;

	memset(m, 0, sizeof(*m));
	if (size == 0 || size > (1ULL << 46))
		return -EINVAL;
	/*
	 * 2 MiB-aligned: a transparent huge page can only back an aligned 2 MiB of the mapping,
	 * and KVM maps a guest 2 MiB page with one EPT/NPT entry only when the guest and host
	 * addresses agree modulo 2 MiB. Linux 6.1 aligns anonymous mappings to 4 KiB only, so
	 * map 2 MiB more and trim (QEMU aligns its RAM the same way).
	 */
	p = mmap(NULL, size + GMEM_ALIGN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	head = (GMEM_ALIGN - ((uintptr_t)p & (GMEM_ALIGN - 1))) & (GMEM_ALIGN - 1);
	if (head)
		(void)munmap(p, head);
	if (GMEM_ALIGN - head)
		(void)munmap((uint8_t *)p + head + size, GMEM_ALIGN - head);
	p = (uint8_t *)p + head;
	/* Transparent huge pages cut EPT/NPT misses; advisory only. */
	(void)madvise(p, size, MADV_HUGEPAGE);
	m->host = p;
	m->size = size;
	m->low_size = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;
	return 0;
}

void gmem_release(struct guest_mem *m)
{
	if (m->host)
		(void)munmap(m->host, m->size);
	memset(m, 0, sizeof(*m));
}

void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t high = gmem_high_size(m);

	if (!m->host)
		return NULL;
	/* Written so that no sum can overflow: gpa and len are guest-controlled. */
	if (gpa < m->low_size) {
		if (len > m->low_size - gpa)
			return NULL;
		return m->host + gpa;
	}
	if (gpa >= GMEM_HIGH_START && gpa - GMEM_HIGH_START < high) {
		uint64_t off = gpa - GMEM_HIGH_START;

		if (len > high - off)
			return NULL;
		return m->host + m->low_size + off;
	}
	return NULL;
}

int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
