/*
 * Guest RAM (memory.c): a memfd mapped shared at a 2 MiB-aligned address, so that what the
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
#include <sys/stat.h>
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
		cmocka_unit_test(test_hole_bounds),
		cmocka_unit_test(test_bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
