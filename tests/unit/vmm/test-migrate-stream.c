/*
 * The live-migration stream's parser (migrate-stream.c): a stream built here lands in RAM
 * page by page; each hostile variant (a page past RAM, absurd counts, unknown versions and
 * records, a cut anywhere, a flipped byte) is one error and writes nothing outside RAM (the
 * RAM buffer has a guard page's worth of canary after it); the CPUID check names the
 * missing feature; reply lines.
 */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "vmm/migrate.h"
#include "vmm/migrate-stream.h"
#include "vmm/state.h"

#define PAGES 16U

struct buf {
	uint8_t *p;
	size_t len, cap, pos;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void u32(struct buf *b, uint32_t v)
{
	v = htole32(v);
	put(b, &v, 4);
}

static void u64(struct buf *b, uint64_t v)
{
	v = htole64(v);
	put(b, &v, 8);
}

static int rd(void *ctx, void *out, size_t n)
{
	struct buf *b = ctx;

	if (n > b->len - b->pos)
		return -EPIPE;
	memcpy(out, b->p + b->pos, n);
	b->pos += n;
	return 0;
}

/* A STATE record holding a state stream of no section (version 1, its header's CRC). */
static void state_record(struct buf *b)
{
	uint8_t st[VM_STATE_HDR_SIZE + 4];
	uint32_t crc;

	memcpy(st, VM_STATE_MAGIC, 8);
	crc = htole32(1);
	memcpy(st + 8, &crc, 4);
	crc = htole32((uint32_t)crc32(0, st, VM_STATE_HDR_SIZE));
	memcpy(st + VM_STATE_HDR_SIZE, &crc, 4);
	u32(b, MIG_REC_STATE);
	u32(b, sizeof(st));
	put(b, st, sizeof(st));
}

/* A header, pages 0 and 15 (filled with 0xa0 + page), a ZERO of page 3, a state, the end. */
static struct buf stream(uint32_t version, uint64_t bad_page)
{
	struct buf b = { 0 };
	uint8_t page[MIG_PAGE];

	put(&b, MIG_MAGIC, 8);
	u32(&b, version);
	u64(&b, PAGES * MIG_PAGE);
	u32(&b, 1);
	u32(&b, 1);
	u32(&b, 7); u32(&b, 0); u32(&b, 0); u32(&b, 1U << 16); u32(&b, 0); u32(&b, 0);
	u32(&b, MIG_REC_PAGES);
	u32(&b, 2);
	for (uint64_t pg = 0; pg < 2; pg++) {
		uint64_t n = pg ? (bad_page ? bad_page : PAGES - 1) : 0;

		u64(&b, n);
		memset(page, 0xa0 + (int)n, sizeof(page));
		put(&b, page, sizeof(page));
	}
	u32(&b, MIG_REC_ZERO);
	u32(&b, 1);
	u64(&b, 3);
	state_record(&b);
	u32(&b, MIG_REC_END);
	u32(&b, (uint32_t)crc32(0, b.p, (uInt)b.len));
	return b;
}

/* Parse b into a fresh RAM with a canary after it: 0 or the error; the canary is checked. */
static int parse(struct buf *b, uint8_t *ram_out)
{
	uint8_t *ram = malloc((PAGES + 1) * MIG_PAGE), *state = NULL;
	struct mig_in in = { .read = rd, .ctx = b };
	struct mig_header *h = calloc(1, sizeof(*h));
	struct hull_err err = { 0 };
	size_t len = 0;
	int r;

	memset(ram, 0x11, (PAGES + 1) * MIG_PAGE);
	b->pos = 0;
	r = mig_recv_header(&in, h, &err);
	if (r == 0)
		r = mig_recv_body(&in, ram, PAGES * MIG_PAGE, &state, &len, &err);
	for (size_t i = PAGES * MIG_PAGE; i < (PAGES + 1) * MIG_PAGE; i++)
		assert_int_equal(ram[i], 0x11);
	assert_true(r < 0 || (state && len == VM_STATE_HDR_SIZE + 4));
	if (r < 0)
		assert_true(err.msg[0] != '\0');
	if (ram_out)
		memcpy(ram_out, ram, PAGES * MIG_PAGE);
	free(state);
	free(ram);
	free(h);
	return r;
}

static void test_good_stream(void **state)
{
	struct buf b = stream(MIG_VERSION, 0);
	uint8_t *ram = malloc(PAGES * MIG_PAGE);

	(void)state;
	assert_int_equal(parse(&b, ram), 0);
	assert_int_equal(ram[0], 0xa0);
	assert_int_equal(ram[(PAGES - 1) * MIG_PAGE + 4095], 0xa0 + PAGES - 1);
	assert_int_equal(ram[3 * MIG_PAGE], 0);
	assert_int_equal(ram[2 * MIG_PAGE], 0x11); /* untouched */
	free(ram);
	free(b.p);
}

static int syncs;

static int count_sync(void *ctx)
{
	(void)ctx;
	syncs++;
	return syncs > 3 ? -EPIPE : 0; /* the 4th: the source has gone */
}

/*
 * SYNC records (a pre-copy round's end): each one answered through the callback, in the
 * stream's order, and none after the state; a failed answer ends the stream. n_sync SYNCs
 * after the header, then a page, then the state (and one more SYNC when after_state).
 */
static int parse_syncs(unsigned n_sync, bool after_state)
{
	struct buf b = { 0 };
	uint8_t page[MIG_PAGE], *state = NULL;
	uint8_t *ram = calloc(PAGES, MIG_PAGE);
	struct mig_in in = { .read = rd, .sync = count_sync, .ctx = &b };
	struct mig_header *h = calloc(1, sizeof(*h));
	struct hull_err err = { 0 };
	size_t len = 0;
	int r;

	put(&b, MIG_MAGIC, 8);
	u32(&b, MIG_VERSION);
	u64(&b, PAGES * MIG_PAGE);
	u32(&b, 1);
	u32(&b, 0);
	for (unsigned i = 0; i < n_sync; i++)
		u32(&b, MIG_REC_SYNC);
	u32(&b, MIG_REC_PAGES);
	u32(&b, 1);
	u64(&b, 5);
	memset(page, 0x5a, sizeof(page));
	put(&b, page, sizeof(page));
	state_record(&b);
	if (after_state)
		u32(&b, MIG_REC_SYNC);
	u32(&b, MIG_REC_END);
	u32(&b, (uint32_t)crc32(0, b.p, (uInt)b.len));
	syncs = 0;
	r = mig_recv_header(&in, h, &err);
	if (r == 0)
		r = mig_recv_body(&in, ram, PAGES * MIG_PAGE, &state, &len, &err);
	if (r == 0)
		assert_int_equal(ram[5 * MIG_PAGE + 17], 0x5a);
	else
		assert_true(err.msg[0] != '\0');
	free(state);
	free(ram);
	free(h);
	free(b.p);
	return r;
}

static void test_sync_records(void **state)
{
	(void)state;
	assert_int_equal(parse_syncs(3, false), 0);
	assert_int_equal(syncs, 3);
	assert_int_equal(parse_syncs(0, false), 0);
	assert_int_equal(syncs, 0);
	assert_int_equal(parse_syncs(1, true), -EBADMSG); /* none after the state */
	assert_int_equal(syncs, 1);
	assert_int_equal(parse_syncs(5, false), -EPIPE); /* the 4th answer failed */
	assert_int_equal(syncs, 4);
}

static void test_refusals(void **state)
{
	struct buf b;

	(void)state;
	b = stream(MIG_VERSION, PAGES); /* one page past RAM */
	assert_int_equal(parse(&b, NULL), -EBADMSG);
	free(b.p);
	b = stream(MIG_VERSION, UINT64_MAX / MIG_PAGE + 1); /* its offset would wrap */
	assert_int_equal(parse(&b, NULL), -EBADMSG);
	free(b.p);
	b = stream(2, 0);
	assert_int_equal(parse(&b, NULL), -EPROTONOSUPPORT);
	free(b.p);
	/* every cut of a good stream, and a flipped byte at seeded places */
	b = stream(MIG_VERSION, 0);
	for (size_t cut = 0; cut < b.len; cut += 1 + cut / 7) {
		size_t len = b.len;

		b.len = cut;
		assert_true(parse(&b, NULL) < 0);
		b.len = len;
	}
	srand(1717);
	for (int i = 0; i < 300; i++) {
		size_t at = (size_t)rand() % b.len;
		uint8_t old = b.p[at];

		b.p[at] ^= (uint8_t)(1 + rand() % 255);
		(void)parse(&b, NULL); /* an error or, in page data, a CRC error: never a crash */
		assert_true(parse(&b, NULL) < 0);
		b.p[at] = old;
	}
	free(b.p);
}

static void test_absurd_counts(void **state)
{
	uint32_t counts[] = { 0, MIG_PAGES_MAX + 1, UINT32_MAX };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct buf b = { 0 };

		put(&b, MIG_MAGIC, 8);
		u32(&b, MIG_VERSION);
		u64(&b, PAGES * MIG_PAGE);
		u32(&b, 1);
		u32(&b, 0);
		u32(&b, MIG_REC_PAGES);
		u32(&b, counts[i]);
		assert_int_equal(parse(&b, NULL), -EBADMSG);
		free(b.p);
	}
	{
		struct buf b = { 0 };

		put(&b, MIG_MAGIC, 8);
		u32(&b, MIG_VERSION);
		u64(&b, PAGES * MIG_PAGE);
		u32(&b, 1);
		u32(&b, MIG_CPUID_MAX + 1);
		assert_int_equal(parse(&b, NULL), -EBADMSG);
		free(b.p);
	}
}

static void test_cpuid_check(void **state)
{
	struct mig_header h = { .n_cpuid = 2 };
	struct mig_cpuid local[] = { { 7, 0, 0, 0, 0, 0 }, { 1, 0, 0, 0, 1U << 20, 0 } };
	struct hull_err err = { 0 };

	(void)state;
	h.cpuid[0] = (struct mig_cpuid){ 7, 0, 0, 1U << 16, 0, 0 };
	h.cpuid[1] = (struct mig_cpuid){ 1, 0, 0, 0, 1U << 20, 0 };
	assert_int_equal(mig_cpuid_check(&h, local, 2, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "avx512f"));
	assert_non_null(strstr(err.msg, "7.ebx bit 16"));
	local[0].ebx = 1U << 16 | 1U << 5; /* more here than there: fine */
	assert_int_equal(mig_cpuid_check(&h, local, 2, &err), 0);
	h.cpuid[0].ebx = 0;
	h.cpuid[1].edx = 1U << 2; /* a flag without a name here */
	assert_int_equal(mig_cpuid_check(&h, local, 2, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "1.edx bit 2"));
}

static void test_replies(void **state)
{
	char line[MIG_REPLY_MAX];
	struct hull_err err = { 0 };
	size_t n;

	(void)state;
	n = mig_reply_format(line, true, NULL);
	assert_int_equal(mig_reply_parse(line, n - 1, &err), 0);
	n = mig_reply_format(line, false, "no\x01way");
	assert_int_equal(mig_reply_parse(line, n - 1, &err), -EREMOTEIO);
	assert_non_null(strstr(err.msg, "no?way"));
	assert_int_equal(mig_reply_parse("HELLO", 5, &err), -EBADMSG);
}

/* The destination's announce (migrate-net.c): the bytes a bridge learns the MAC from. */
static void test_rarp_frame(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x17, 0xaa, 0xbb, 0xcc, 0xdd };
	static const uint8_t want[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x17, 0xaa, 0xbb, 0xcc, 0xdd, 0x80, 0x35,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03,
		0x02, 0x17, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0,
		0x02, 0x17, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0,
	};
	static const uint8_t zeros[MIGRATE_RARP_LEN];
	uint8_t f[MIGRATE_RARP_LEN];

	(void)state;
	memset(f, 0x5a, sizeof(f));
	migrate_rarp_frame(f, mac);
	assert_memory_equal(f, zeros, 12); /* vnet header: no offloads */
	assert_memory_equal(f + 12, want, sizeof(want));
	assert_memory_equal(f + 12 + sizeof(want), zeros, 60 - sizeof(want)); /* padding */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_stream),
		cmocka_unit_test(test_sync_records),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_absurd_counts),
		cmocka_unit_test(test_cpuid_check),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_rarp_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
