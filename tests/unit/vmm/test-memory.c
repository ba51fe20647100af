/*
 * Guest RAM (memory.c): a shmem file (memfd, or a private huge tmpfs's as root) mapped shared at a 2 MiB-aligned address, so that what the
 * guest wrote can be read back from the file (a snapshot) and a second mapping of the file
 * sees it (a restore); gmem_ptr's bounds around the PCI hole.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/memory.h"

static void test_memfd_backed_and_aligned(void **state)
{
	struct guest_mem m;
	uint8_t buf[16];
	struct stat st;
	uint8_t *again;

	assert_int_equal(gmem_init(&m, 64ULL << 20), 0);
	assert_true(m.fd >= 0);
	assert_int_equal((uintptr_t)m.host & ((2U << 20) - 1), 0);
	assert_int_equal(fstat(m.fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, 64ULL << 20);
	assert_true(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
	/* The guest's writes are in the file (a snapshot writes it out)... */
	assert_int_equal(gmem_write(&m, 0x123456, "guest wrote this", 16), 0);
	assert_int_equal(pread(m.fd, buf, 16, 0x123456), 16);
	assert_memory_equal(buf, "guest wrote this", 16);
	/* ...and the file's content is the guest's memory (a restore maps it back). */
	assert_int_equal(pwrite(m.fd, "restored", 8, 0x200000), 8);
	assert_int_equal(gmem_read(&m, 0x200000, buf, 8), 0);
	assert_memory_equal(buf, "restored", 8);
	again = mmap(NULL, 4096, PROT_READ, MAP_SHARED, m.fd, 0x123000);
	assert_true(again != MAP_FAILED);
	assert_memory_equal(again + 0x456, "guest wrote this", 16);
	(void)munmap(again, 4096);
	gmem_release(&m);
	assert_int_equal(m.fd, -1);
	assert_null(m.host);
}

/* The smaps field (kB) of the mapping that starts at addr, or -1. */
static long smaps_kb(const void *addr, const char *field)
{
	char line[256], start[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in = false;
	long v = -1;

	(void)snprintf(start, sizeof(start), "%lx-", (unsigned long)(uintptr_t)addr);
	while (f && fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' '))
			in = strncmp(line, start, strlen(start)) == 0;
		else if (in && strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field), NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

/*
 * As root, guest RAM is a file on a private tmpfs mounted huge=within_size: shmem that gets
 * transparent huge pages even where the host's shmem_enabled is never (Debian's default),
 * which a memfd would not (4 KiB nested page faults: the boot-time regression of the first
 * memfd version). The instance is attached nowhere.
 */
static void test_huge_tmpfs_as_root(void **state)
{
	struct guest_mem m;
	struct statfs sfs;
	char line[512];
	bool listed = false;
	FILE *f;

	if (geteuid() != 0)
		skip();
	assert_int_equal(gmem_init(&m, 64ULL << 20), 0);
	if (m.hugetlb) { /* the host had 2 MiB pages free: hugetlbfs comes first */
		gmem_release(&m);
		skip();
	}
	assert_true(m.thp_tmpfs);
	assert_int_equal(fstatfs(m.fd, &sfs), 0);
	assert_int_equal(sfs.f_type, TMPFS_MAGIC);
	assert_int_equal((uint64_t)sfs.f_blocks * (uint64_t)sfs.f_bsize, 64ULL << 20);
	f = fopen("/proc/self/mountinfo", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		listed |= strstr(line, "huge=within_size") != NULL && strstr(line, "size=65536k");
	fclose(f);
	assert_false(listed);
	/* Touch 4 MiB: a huge page when the host has a free 2 MiB block (not asserted). */
	memset(m.host, 1, 4U << 20);
	print_message("ShmemPmdMapped after 4 MiB: %ld kB\n", smaps_kb(m.host, "ShmemPmdMapped:"));
	gmem_release(&m);
}

static void test_hole_bounds(void **state)
{
	struct guest_mem m;
	uint64_t size = GMEM_HOLE_START + (64ULL << 20); /* sparse: nothing is touched */

	assert_int_equal(gmem_init(&m, size), 0);
	assert_int_equal(m.low_size, GMEM_HOLE_START);
	assert_non_null(gmem_ptr(&m, GMEM_HOLE_START - 8, 8));
	assert_null(gmem_ptr(&m, GMEM_HOLE_START - 8, 9));
	assert_null(gmem_ptr(&m, GMEM_HOLE_START, 1));
	assert_ptr_equal(gmem_ptr(&m, GMEM_HIGH_START, 1), m.host + GMEM_HOLE_START);
	assert_non_null(gmem_ptr(&m, GMEM_HIGH_START + (64ULL << 20) - 1, 1));
	assert_null(gmem_ptr(&m, GMEM_HIGH_START + (64ULL << 20), 1));
	assert_null(gmem_ptr(&m, UINT64_MAX, 2));
	gmem_release(&m);
}

static void test_bad_sizes(void **state)
{
	struct guest_mem m;

	assert_int_equal(gmem_init(&m, 0), -EINVAL);
	assert_int_equal(m.fd, -1);
	assert_int_equal(gmem_init(&m, 1ULL << 50), -EINVAL);
	gmem_release(&m); /* harmless after a failed init */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memfd_backed_and_aligned),
		cmocka_unit_test(test_huge_tmpfs_as_root),
		cmocka_unit_test(test_hole_bounds),
		cmocka_unit_test(test_bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
