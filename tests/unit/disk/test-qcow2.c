/* Unit tests for the QCOW2 back end: header parsing, hostile headers, refcount widths, the
 * L2 cache under eviction, compression, block status, check and repair. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "disk/disk.h"
#include "disk/qcow2.h"

static char *tmp_path(void)
{
	char *p = strdup("/tmp/hull-test-qcow2-XXXXXX");
	int fd = mkstemp(p);

	assert_true(fd >= 0);
	close(fd);
	unlink(p);
	return p;
}

static struct disk *make(const char *path, struct disk_create_opts o)
{
	struct hull_err err = { 0 };
	struct disk *d = NULL;

	o.format = DISK_FORMAT_QCOW2;
	assert_int_equal(disk_create(path, &o, &err), 0);
	assert_int_equal(disk_open(path, DISK_FORMAT_AUTO, 0, &d, &err), 0);
	assert_int_equal(disk_get_format(d), DISK_FORMAT_QCOW2);
	return d;
}

static void assert_clean(struct disk *d)
{
	struct qcow2_check_result res;

	assert_int_equal(disk_flush(d), 0);
	assert_int_equal(qcow2_check(to_qcow2(d), 0, &res), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static void test_header_fields(void **state)
{
	char *path = tmp_path();
	struct disk *d = make(path, (struct disk_create_opts){ .size = 1000000, .cluster_bits = 12,
							       .refcount_bits = 8 });
	struct qcow2 *q = to_qcow2(d);

	assert_int_equal(disk_size(d), 1000448); /* rounded up to 512 like qemu-img */
	assert_int_equal(q->version, 3);
	assert_int_equal(q->cluster_size, 4096);
	assert_int_equal(q->refcount_bits, 8);
	assert_int_equal(q->refblock_entries, 4096);
	assert_int_equal(q->header_length, 112);
	assert_true(q->l1_size * 512ull * 4096 >= disk_size(d));
	assert_true(q->nb_features > 0);
	assert_clean(d);
	disk_close(d);
	unlink(path);
	free(path);
}

static void roundtrip(struct disk_create_opts o)
{
	char *path = tmp_path();
	struct disk *d = make(path, o);
	uint64_t size = disk_size(d);
	size_t n = 300000;
	uint8_t *a = malloc(n), *b = malloc(n);
	struct hull_err err = { 0 };

	for (unsigned i = 0; i < 12; i++) {
		uint64_t off = (size - n) / 12 * i + i * 13;

		fill(a, n, i);
		assert_int_equal(disk_write(d, off, a, n), 0);
		assert_int_equal(disk_read(d, off, b, n), 0);
		assert_memory_equal(a, b, n);
	}
	assert_int_equal(disk_write_zeroes(d, 0, size / 2, DISK_ZEROES_MAY_UNMAP), 0);
	assert_int_equal(disk_read(d, 1000, b, 4096), 0);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(b[i], 0);
	assert_clean(d);
	disk_close(d);
	/* reopen: what was flushed is there */
	assert_int_equal(disk_open(path, DISK_FORMAT_QCOW2, DISK_OPEN_RDONLY, &d, &err), 0);
	fill(a, n, 11);
	assert_int_equal(disk_read(d, (size - n) / 12 * 11 + 11 * 13, b, n), 0);
	assert_memory_equal(a, b, n);
	disk_close(d);
	unlink(path);
	free(path);
	free(a);
	free(b);
}

static void test_refcount_widths(void **state)
{
	for (unsigned bits = 1; bits <= 64; bits *= 2)
		roundtrip((struct disk_create_opts){ .size = 4 << 20, .cluster_bits = 9,
						     .refcount_bits = bits });
	roundtrip((struct disk_create_opts){ .size = 16 << 20, .compat_v2 = true });
	roundtrip((struct disk_create_opts){ .size = 64 << 20, .cluster_bits = 21 });
}

static void test_refcount_math(void **state)
{
	char *path = tmp_path();

	for (unsigned bits = 1; bits <= 64; bits *= 2) {
		struct disk *d = make(path, (struct disk_create_opts){ .size = 1 << 20,
								       .cluster_bits = 12,
								       .refcount_bits = bits });
		struct qcow2 *q = to_qcow2(d);
		uint64_t v, max = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;

		assert_int_equal(q->refcount_max, max);
		/* neighbours of a changed entry keep their value */
		for (uint64_t c = 100; c < 140; c++)
			assert_int_equal(qcow2_refcount_set(q, c, c % 2 ? max : (c & max)), 0);
		for (uint64_t c = 100; c < 140; c++) {
			assert_int_equal(qcow2_refcount_get(q, c, &v), 0);
			assert_int_equal(v, c % 2 ? max : (c & max));
		}
		if (bits < 64)
			assert_int_equal(qcow2_refcount_set(q, 100, max + 1), -ERANGE);
		assert_int_equal(qcow2_refcount_add(q, 101, 1), bits == 64 ? -ERANGE : -ERANGE);
		for (uint64_t c = 100; c < 140; c++)
			assert_int_equal(qcow2_refcount_set(q, c, 0), 0);
		/* a cluster far away gets a new refcount block (and a bigger table) */
		assert_int_equal(qcow2_refcount_set(q, 5000000, 1), 0);
		assert_int_equal(qcow2_refcount_get(q, 5000000, &v), 0);
		assert_int_equal(v, 1);
		assert_int_equal(qcow2_refcount_set(q, 5000000, 0), 0);
		disk_close(d);
		unlink(path);
	}
	free(path);
}

static void test_l2_cache_eviction(void **state)
{
	/* 512-byte clusters: 64 entries per L2, so 8 MiB spans 256 tables; the cache holds 512
	 * tables at most, 8 at least: force eviction with a tiny cache */
	char *path = tmp_path();
	struct disk *d = make(path, (struct disk_create_opts){ .size = 8 << 20, .cluster_bits = 9 });
	struct qcow2 *q = to_qcow2(d);
	uint8_t a[512], b[512];

	qcow2_cache_fini(&q->l2_cache);
	qcow2_cache_init(&q->l2_cache, 2, q->cluster_size);
	for (unsigned i = 0; i < 300; i++) {
		fill(a, sizeof(a), i);
		assert_int_equal(disk_write(d, (uint64_t)i * 24576, a, sizeof(a)), 0);
	}
	for (unsigned i = 0; i < 300; i++) {
		fill(a, sizeof(a), i);
		assert_int_equal(disk_read(d, (uint64_t)i * 24576, b, sizeof(b)), 0);
		assert_memory_equal(a, b, sizeof(a));
	}
	assert_clean(d);
	disk_close(d);
	unlink(path);
	free(path);
}

static void test_compressed_roundtrip(void **state)
{
	char *path = tmp_path();
	struct disk *d = make(path, (struct disk_create_opts){ .size = 1 << 20 });
	struct qcow2 *q = to_qcow2(d);
	uint8_t *a = calloc(1, 65536), *b = malloc(65536);
	uint64_t len, host;
	unsigned flags, depth;

	memset(a, 'x', 30000);
	assert_int_equal(qcow2_write_compressed(q, 1, a), 0);
	assert_int_equal(qcow2_write_compressed(q, 2, a), 0); /* packed after the first */
	assert_int_equal(disk_read(d, 65536, b, 65536), 0);
	assert_memory_equal(a, b, 65536);
	assert_int_equal(disk_block_status(d, 65536, 65536, &len, &flags, &host, &depth), 0);
	assert_true(flags & DISK_STATUS_COMPRESSED);
	assert_clean(d);
	/* partial write over a compressed cluster: copy-on-write */
	assert_int_equal(disk_write(d, 65536 + 10, "hello", 5), 0);
	assert_int_equal(disk_read(d, 65536, b, 65536), 0);
	assert_memory_equal(b + 10, "hello", 5);
	assert_memory_equal(b + 15, a + 15, 65536 - 15);
	assert_int_equal(disk_read(d, 131072, b, 65536), 0);
	assert_memory_equal(a, b, 65536);
	assert_clean(d);
	disk_close(d);
	unlink(path);
	free(path);
	free(a);
	free(b);
}

/* Write a v3 header with one field changed and expect a named error. */
static void hostile(size_t off, const void *val, size_t len, const char *needle)
{
	char *path = tmp_path();
	struct disk *d = make(path, (struct disk_create_opts){ .size = 1 << 20 });
	struct hull_err err = { 0 };
	int fd;

	disk_close(d);
	fd = open(path, O_RDWR);
	assert_int_equal(pwrite(fd, val, len, (off_t)off), (ssize_t)len);
	close(fd);
	assert_true(disk_open(path, DISK_FORMAT_QCOW2, 0, &d, &err) < 0);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' not in '%s'", needle, err.msg);
	assert_non_null(strstr(err.msg, path));
	unlink(path);
	free(path);
}

static void test_hostile_headers(void **state)
{
	uint64_t big = htobe64(1ull << 50), one = htobe64(1);
	uint32_t v;

	hostile(40, &big, 8, "l1_table_offset");
	hostile(48, &big, 8, "refcount_table_offset");
	hostile(24, &big, 8, "l1_size");
	v = htobe32(8);
	hostile(20, &v, 4, "cluster_bits");
	v = htobe32(0xffffffffu);
	hostile(36, &v, 4, "l1_size");
	hostile(56, &v, 4, "refcount_table_clusters");
	big = htobe64(1ull << 33);
	hostile(72, &big, 8, "incompatible feature bit 33");
	one = htobe64(2);
	hostile(72, &one, 8, "marked corrupt");
	v = htobe32(7);
	hostile(96, &v, 4, "refcount_order");
}

static void test_backing_and_status(void **state)
{
	char *base = tmp_path(), *top = tmp_path();
	struct disk *d = make(base, (struct disk_create_opts){ .size = 1 << 20 });
	struct disk_create_opts o = { .format = DISK_FORMAT_QCOW2, .backing_file = base };
	struct hull_err err = { 0 };
	uint8_t b[4096];
	uint64_t len, host;
	unsigned flags, depth;

	memset(b, 7, sizeof(b));
	assert_int_equal(disk_write(d, 0, b, sizeof(b)), 0);
	disk_close(d);
	assert_int_equal(disk_create(top, &o, &err), 0);
	assert_int_equal(disk_open(top, DISK_FORMAT_AUTO, 0, &d, &err), 0);
	assert_int_equal(disk_size(d), 1 << 20);
	assert_int_equal(disk_block_status(d, 0, 1 << 20, &len, &flags, &host, &depth), 0);
	assert_int_equal(depth, 1);
	assert_true(flags & DISK_STATUS_DATA);
	assert_true(flags & DISK_STATUS_BACKING);
	memset(b, 9, 10);
	assert_int_equal(disk_write(d, 100, b, 10), 0); /* COW from the backing file */
	assert_int_equal(disk_read(d, 0, b, sizeof(b)), 0);
	assert_int_equal(b[0], 7);
	assert_int_equal(b[100], 9);
	assert_int_equal(b[4095], 7);
	assert_int_equal(disk_block_status(d, 0, 1 << 20, &len, &flags, &host, &depth), 0);
	assert_int_equal(depth, 0);
	assert_int_equal(len, 65536);
	assert_clean(d);
	disk_close(d);
	unlink(base);
	unlink(top);
	free(base);
	free(top);
}

static void test_repair(void **state)
{
	char *path = tmp_path();
	struct disk *d = make(path, (struct disk_create_opts){ .size = 1 << 20 });
	struct qcow2 *q = to_qcow2(d);
	struct qcow2_check_result res;
	uint8_t b[65536] = { 1 };

	assert_int_equal(disk_write(d, 0, b, sizeof(b)), 0);
	assert_int_equal(disk_flush(d), 0);
	assert_int_equal(qcow2_refcount_set(q, 40, 1), 0); /* a leak */
	assert_int_equal(qcow2_refcount_set(q, 4, 0), 0);  /* an error: data cluster at 4 */
	assert_int_equal(qcow2_check(q, 0, &res), 0);
	assert_int_equal(res.leaks, 1);
	assert_int_equal(res.corruptions, 1);
	assert_int_equal(qcow2_check(q, QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res), 0);
	assert_int_equal(res.leaks_fixed, 1);
	assert_int_equal(res.corruptions_fixed, 1);
	assert_clean(d);
	disk_close(d);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_refcount_widths),
		cmocka_unit_test(test_refcount_math),
		cmocka_unit_test(test_l2_cache_eviction),
		cmocka_unit_test(test_compressed_roundtrip),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_backing_and_status),
		cmocka_unit_test(test_repair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
