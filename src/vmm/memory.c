#include "vmm/memory.h"

#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"

#define GMEM_ALIGN (2ULL << 20)
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* <linux/memfd.h>, which clashes with glibc's <sys/mman.h> */
#endif

/*
 * Whether the host gives shmem (a memfd) transparent huge pages in an MADV_HUGEPAGE mapping:
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled is always, within_size, advise or force
 * (the bracketed one). Debian leaves it at never, and a memfd there runs the guest on 4 KiB
 * pages: a nested page fault per 4 KiB, an 8-vCPU boot half again as long in the sandbox.
 */
static bool shmem_thp_allowed(void)
{
	cleanup_close int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
				    O_RDONLY | O_CLOEXEC);
	char buf[128] = { 0 };
	const char *sel;

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return false;
	sel = strchr(buf, '[');
	if (!sel)
		return false;
	return strncmp(sel, "[always]", 8) == 0 || strncmp(sel, "[within_size]", 13) == 0 ||
	       strncmp(sel, "[advise]", 8) == 0 || strncmp(sel, "[force]", 7) == 0;
}

/* A memfd of size bytes, of hugetlbfs 2 MiB pages when hugetlb, else of shmem; or -errno. */
static int gmem_memfd(uint64_t size, bool hugetlb)
{
	unsigned flags = MFD_CLOEXEC | (hugetlb ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	int fd = memfd_create("hull-guest-ram", flags);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = -errno;

		(void)close(fd);
		return e;
	}
	return fd;
}

/*
 * Map fd (or, when fd is -1, anonymous private memory) at a 2 MiB-aligned address: reserve
 * size + 2 MiB of address space, map over its aligned part, give back the rest. Hugetlbfs
 * mappings are not MAP_NORESERVE: the pages are reserved now, so a host short of them fails
 * here and not with a SIGBUS later.
 */
static void *gmem_map_aligned_flags(int fd, uint64_t size, bool huge, int share)
{
	uint8_t *res, *p;
	size_t head;

	res = mmap(NULL, size + GMEM_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	head = (GMEM_ALIGN - ((uintptr_t)res & (GMEM_ALIGN - 1))) & (GMEM_ALIGN - 1);
	p = mmap(res + head, size, PROT_READ | PROT_WRITE,
		 (fd >= 0 ? share : MAP_PRIVATE | MAP_ANONYMOUS) | MAP_FIXED |
			 (huge ? 0 : MAP_NORESERVE),
		 fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		(void)munmap(res, size + GMEM_ALIGN);
		errno = e;
		return MAP_FAILED;
	}
	if (head)
		(void)munmap(res, head);
	if (GMEM_ALIGN - head)
		(void)munmap(p + size, GMEM_ALIGN - head);
	return p;
}

static void *gmem_map_aligned(int fd, uint64_t size, bool huge)
{
	return gmem_map_aligned_flags(fd, size, huge, MAP_SHARED);
}

/* Free 2 MiB hugetlbfs pages on the host (0 when none are configured). */
static uint64_t free_hugepages_2m(void)
{
	cleanup_close int fd = open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
				    O_RDONLY | O_CLOEXEC);
	char buf[32] = { 0 };

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/*
 * The backing, in order: a hugetlbfs memfd when the host has enough free 2 MiB pages; a
 * shmem memfd when the host gives shmem transparent huge pages; else anonymous memory, whose
 * transparent huge pages MADV_HUGEPAGE asks for under Debian's default (enabled=madvise).
 * A memfd lets a snapshot write guest RAM out and a restore map it back (MAP_SHARED: the file
 * is the memory); anonymous RAM is written out and read back through the mapping instead.
 * No private huge=within_size tmpfs any more (the previous version): with it the clean-clone
 * CI's sandbox boot test hung in a soft lockup of the sandbox kernel, and as root only.
 * Returns the fd, or -1 with *ret_anon, or -errno; clears *huge unless it is hugetlbfs.
 */
static int gmem_backing(uint64_t size, bool *huge, bool *ret_anon, bool need_fd)
{
	int fd;

	*ret_anon = false;
	if (*huge) {
		fd = gmem_memfd(size, true);
		if (fd >= 0)
			return fd;
		*huge = false;
	}
	if (need_fd || shmem_thp_allowed())
		return gmem_memfd(size, false);
	*ret_anon = true;
	return -1;
}

int gmem_init(struct guest_mem *m, uint64_t size)
{
	return gmem_init_shared(m, size, false);
}

int gmem_init_shared(struct guest_mem *m, uint64_t size, bool need_fd)
{
	bool huge, anon;
	void *p;
	int fd;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size > (1ULL << 46))
		return -EINVAL;
	/*
	 * 2 MiB-aligned: a huge page can only back an aligned 2 MiB of the mapping, and KVM maps
	 * a guest 2 MiB page with one EPT/NPT entry only when the guest and host addresses agree
	 * modulo 2 MiB; Linux 6.1 aligns mappings to 4 KiB only, so reserve 2 MiB more and trim
	 * (QEMU aligns its RAM the same way).
	 */
	huge = size % GMEM_ALIGN == 0 && free_hugepages_2m() >= size / GMEM_ALIGN;
	fd = gmem_backing(size, &huge, &anon, need_fd);
	if (fd < 0 && !anon)
		return fd;
	p = gmem_map_aligned(fd, size, huge);
	if (p == MAP_FAILED && huge) {
		/* the pages went to someone else meanwhile: the next backing then */
		(void)close(fd);
		huge = false;
		fd = gmem_backing(size, &huge, &anon, need_fd);
		if (fd < 0 && !anon)
			return fd;
		p = gmem_map_aligned(fd, size, false);
	}
	if (p == MAP_FAILED) {
		int e = -errno;

		if (fd >= 0)
			(void)close(fd);
		return e;
	}
	if (!huge)
		(void)madvise(p, size, MADV_HUGEPAGE); /* advisory only */
	m->dev_dirty = calloc((size / 4096 + 63) / 64 + 1, sizeof(uint64_t));
	if (!m->dev_dirty)
		abort(); /* OOM aborts (STYLE.md) */
	m->host = p;
	m->fd = fd;
	m->hugetlb = huge;
	m->size = size;
	m->low_size = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;
	return 0;
}

int gmem_init_file(struct guest_mem *m, uint64_t size, int fd)
{
	void *p;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size > (1ULL << 46))
		return -EINVAL;
	/* MAP_PRIVATE: pages come from the file's page cache and are copied on first write */
	p = gmem_map_aligned_flags(fd, size, false, MAP_PRIVATE);
	if (p == MAP_FAILED)
		return -errno;
	m->dev_dirty = calloc((size / 4096 + 63) / 64 + 1, sizeof(uint64_t));
	if (!m->dev_dirty)
		abort();
	m->host = p;
	m->size = size;
	m->low_size = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;
	return 0;
}

uint64_t gmem_hotplug_gpa(const struct guest_mem *m)
{
	uint64_t end = GMEM_HIGH_START + gmem_high_size(m), gib = 1ULL << 30;

	return (end + gib - 1) & ~(gib - 1);
}

int gmem_hotplug_init(struct guest_mem *m, uint64_t size)
{
	void *p;

	if (size == 0 || size % GMEM_ALIGN || size > (1ULL << 40) || m->hp_host)
		return -EINVAL;
	p = gmem_map_aligned(-1, size, false);
	if (p == MAP_FAILED)
		return -errno;
	(void)madvise(p, size, MADV_HUGEPAGE); /* advisory only */
	m->hp_host = p;
	m->hp_gpa = gmem_hotplug_gpa(m);
	m->hp_size = size;
	return 0;
}

void gmem_discard(const struct guest_mem *m, void *p, uint64_t len)
{
	uint8_t *b = p;

	/*
	 * A memfd's pages are its page cache: only a punched hole frees them (MADV_DONTNEED
	 * would drop the mapping and keep the page). Hugetlbfs rounds the hole inward to whole
	 * 2 MiB pages. The virtio-mem region is always anonymous.
	 */
	if (m->host && b >= m->host && len <= m->size && (uint64_t)(b - m->host) <= m->size - len) {
		if (m->fd >= 0)
			(void)fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)(b - m->host), (off_t)len);
		else
			(void)madvise(b, len, MADV_DONTNEED);
	} else if (m->hp_host && b >= m->hp_host && len <= m->hp_size &&
		   (uint64_t)(b - m->hp_host) <= m->hp_size - len) {
		(void)madvise(b, len, MADV_DONTNEED);
	}
}

void gmem_release(struct guest_mem *m)
{
	if (m->hp_host)
		(void)munmap(m->hp_host, m->hp_size);
	if (m->host) {
		(void)munmap(m->host, m->size);
		if (m->fd >= 0)
			(void)close(m->fd);
	}
	free(m->dev_dirty);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
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
	if (m->hp_size && gpa >= m->hp_gpa && gpa - m->hp_gpa < m->hp_size) {
		uint64_t off = gpa - m->hp_gpa;

		if (len > m->hp_size - off)
			return NULL;
		return m->hp_host + off;
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

void gmem_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = len ? gmem_ptr(m, gpa, len) : NULL;
	uint64_t first, last;

	if (!p || !m->dev_dirty)
		return;
	first = (uint64_t)(p - m->host) / 4096;
	last = ((uint64_t)(p - m->host) + len - 1) / 4096;
	for (uint64_t pg = first; pg <= last; pg++)
		__atomic_fetch_or(&m->dev_dirty[pg / 64], 1ULL << (pg % 64), __ATOMIC_RELAXED);
}
