#include "vmm/memory.h"

#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/cleanup.h"

#define GMEM_ALIGN (2ULL << 20)
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* <linux/memfd.h>, which clashes with glibc's <sys/mman.h> */
#endif

/*
 * An unnamed file of size bytes on a tmpfs instance of its own, mounted with huge=within_size
 * and never attached anywhere (fsopen/fsmount): the same shmem pages as a memfd, but with
 * transparent huge pages whatever the host's transparent_hugepage/shmem_enabled says, which
 * governs only the kernel's internal mount that memfds live on (Debian leaves it at never).
 * The instance's size limit is the guest's (tmpfs defaults to half the host's RAM). Needs
 * CAP_SYS_ADMIN: -EPERM and friends otherwise, and the caller takes a memfd.
 */
static int gmem_huge_tmpfs(uint64_t size)
{
	cleanup_close int fs = -1, mnt = -1;
	char bytes[32];
	int fd;

	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	(void)snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)size);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "huge", "within_size", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "size", bytes, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", "4", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return -errno;
	fd = openat(mnt, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = -errno;

		(void)close(fd);
		return e;
	}
	return fd; /* keeps the instance alive; it goes with the last reference */
}

/* A memfd of size bytes: hugetlbfs pages when *huge and the host has them, else shmem. */
static int gmem_memfd(uint64_t size, bool *huge)
{
	int fd;

	if (*huge) {
		fd = memfd_create("hull-guest-ram", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
		if (fd >= 0 && ftruncate(fd, (off_t)size) == 0)
			return fd;
		if (fd >= 0)
			(void)close(fd);
		*huge = false;
	}
	fd = memfd_create("hull-guest-ram", MFD_CLOEXEC);
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
 * Map fd at a 2 MiB-aligned address: reserve size + 2 MiB of address space, map the file
 * over its aligned part, give back the rest. Hugetlbfs mappings are not MAP_NORESERVE: the
 * pages are reserved now, so a host short of them fails here and not with a SIGBUS later.
 */
static void *gmem_map_aligned(int fd, uint64_t size, bool huge)
{
	uint8_t *res, *p;
	size_t head;

	res = mmap(NULL, size + GMEM_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	head = (GMEM_ALIGN - ((uintptr_t)res & (GMEM_ALIGN - 1))) & (GMEM_ALIGN - 1);
	p = mmap(res + head, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED | (huge ? 0 : MAP_NORESERVE), fd, 0);
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

int gmem_init(struct guest_mem *m, uint64_t size)
{
	bool huge;
	void *p;
	int fd;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size > (1ULL << 46))
		return -EINVAL;
	/*
	 * A memfd, so that a snapshot can write guest RAM out and a restore map it back
	 * (MAP_SHARED: the file is the memory). 2 MiB-aligned: a huge page can only back an
	 * aligned 2 MiB of the mapping, and KVM maps a guest 2 MiB page with one EPT/NPT entry
	 * only when the guest and host addresses agree modulo 2 MiB; Linux 6.1 aligns mappings
	 * to 4 KiB only, so reserve 2 MiB more and trim (QEMU aligns its RAM the same way).
	 * Huge pages: hugetlbfs when the host has enough free 2 MiB pages, else shmem with
	 * MADV_HUGEPAGE, which gives transparent huge pages when the host's
	 * /sys/kernel/mm/transparent_hugepage/shmem_enabled is advise, always or within_size.
	 */
	huge = size % GMEM_ALIGN == 0 && free_hugepages_2m() >= size / GMEM_ALIGN;
	fd = huge ? -1 : gmem_huge_tmpfs(size);
	m->thp_tmpfs = fd >= 0;
	if (fd < 0)
		fd = gmem_memfd(size, &huge);
	if (fd < 0)
		return fd;
	p = gmem_map_aligned(fd, size, huge);
	if (p == MAP_FAILED && huge) {
		/* the pages went to someone else meanwhile: shmem then */
		(void)close(fd);
		huge = false;
		fd = gmem_huge_tmpfs(size);
		m->thp_tmpfs = fd >= 0;
		if (fd < 0)
			fd = gmem_memfd(size, &huge);
		if (fd < 0)
			return fd;
		p = gmem_map_aligned(fd, size, false);
	}
	if (p == MAP_FAILED) {
		int e = -errno;

		(void)close(fd);
		return e;
	}
	if (!huge)
		(void)madvise(p, size, MADV_HUGEPAGE); /* advisory only */
	m->host = p;
	m->fd = fd;
	m->hugetlb = huge;
	m->size = size;
	m->low_size = size < GMEM_HOLE_START ? size : GMEM_HOLE_START;
	return 0;
}

void gmem_release(struct guest_mem *m)
{
	if (m->host) {
		(void)munmap(m->host, m->size);
		(void)close(m->fd);
	}
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
