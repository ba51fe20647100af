#pragma once
/*
 * Guest physical memory: one 2 MiB-aligned mapping, of a memfd where that gets huge pages
 * (a snapshot can write the file out, a restore map it back), else of anonymous memory,
 * presented to the guest as RAM below the PCI hole ([0, 3 GiB)) and, for larger guests, the
 * rest from 4 GiB up.
 *
 * Every guest-supplied address goes through gmem_ptr(), which returns NULL unless the whole
 * range lies inside one RAM region: device code never reads or writes host memory outside
 * the guest's.
 */
#include <stdbool.h>
#include <stdint.h>

#define GMEM_HOLE_START 0xC0000000ULL /* 3 GiB: start of the 32-bit PCI/MMIO hole */
#define GMEM_HIGH_START 0x100000000ULL /* 4 GiB */

struct guest_mem {
	uint8_t *host;     /* mapping of size bytes */
	uint64_t size;     /* RAM bytes in total */
	uint64_t low_size; /* bytes mapped at [0, low_size) */
	int fd;            /* the memfd behind host (offset = host offset), -1: anonymous */
	bool hugetlb;      /* backed by hugetlbfs 2 MiB pages (else THP if the host allows) */
	/*
	 * The virtio-mem region (gmem_hotplug_init): hp_size bytes at guest address hp_gpa,
	 * anonymous MAP_NORESERVE memory at hp_host; hp_size 0: none. Devices may reach all of
	 * it (a plugged block holds ordinary guest pages, virtqueue buffers included).
	 */
	uint8_t *hp_host;
	uint64_t hp_gpa, hp_size;
	/*
	 * A bit per 4 KiB page (host offset order) the VMM itself wrote for the guest (virtqueue
	 * buffers and used rings: gmem_mark_dirty): KVM's dirty log sees only the vCPUs' writes.
	 * Set atomically by any thread, taken by dirty.c; NULL in a hand-built guest_mem.
	 */
	uint64_t *dev_dirty;
};

/*
 * size bytes of guest RAM at a 2 MiB-aligned address: a hugetlbfs memfd (MAP_SHARED) when the
 * host has enough free 2 MiB pages; else a shmem memfd with MADV_HUGEPAGE when the host's
 * transparent_hugepage/shmem_enabled gives shmem huge pages; else anonymous private memory
 * with MADV_HUGEPAGE (m->fd = -1; what Debian's defaults give huge pages). 0 or -errno.
 */
int gmem_init(struct guest_mem *m, uint64_t size);
/*
 * The same, with need_fd always a memfd mapped MAP_SHARED (hugetlbfs, else shmem even without
 * shmem huge pages): what a vhost-user backend (virtiofsd) needs to map guest RAM itself.
 */
int gmem_init_shared(struct guest_mem *m, uint64_t size, bool need_fd);
/*
 * size bytes of guest RAM mapped copy-on-write (MAP_PRIVATE) from fd, a snapshot's memory
 * file of exactly that size (the caller checks): a restore reads only the pages the guest
 * touches, and never writes the file. m->fd stays -1 (fd is the caller's). 0 or -errno.
 */
int gmem_init_file(struct guest_mem *m, uint64_t size, int fd);
void gmem_release(struct guest_mem *m);
/*
 * The virtio-mem region of m (after gmem_init): size bytes (a multiple of 2 MiB) of anonymous
 * memory, MAP_NORESERVE so that only what the guest touches costs the host, at the first
 * 1 GiB boundary above RAM and above 4 GiB (Linux adds hotplugged memory in memory blocks of
 * 128 MiB or more: an aligned start wastes none). Not in the e820 map. 0 or -errno.
 */
int gmem_hotplug_init(struct guest_mem *m, uint64_t size);
/* Where gmem_hotplug_init puts a region for guest RAM m. */
uint64_t gmem_hotplug_gpa(const struct guest_mem *m);
/*
 * Give the host pages behind [p, p + len) (inside guest RAM or the virtio-mem region) back
 * to the host: a punched hole in a memfd, MADV_DONTNEED on anonymous memory. The guest reads
 * zeros there afterwards.
 */
void gmem_discard(const struct guest_mem *m, void *p, uint64_t len);

/* Host pointer for [gpa, gpa + len) or NULL when any byte is outside guest RAM. */
void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Copy into / out of guest memory; -EFAULT when the range is not RAM. */
int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len);
int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len);

/* Mark [gpa, gpa + len) as written by the VMM (dev_dirty); a range outside RAM is ignored. */
void gmem_mark_dirty(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* End of RAM below the hole, and the size of RAM above 4 GiB. */
static inline uint64_t gmem_high_size(const struct guest_mem *m)
{
	return m->size - m->low_size;
}
