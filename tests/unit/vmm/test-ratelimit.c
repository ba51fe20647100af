/*
 * The token buckets (src/vmm/ratelimit.c) on generated request streams with made-up clocks,
 * and virtio-blk's use of them through BAR0: a throttled request stays on the ring (never
 * lost, never failed) until the limits let it go.
 */
#include <errno.h>
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
#include "vmm/memory.h"
#include "vmm/ratelimit.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/pci.h"

#include "virtio-driver.h"

#define SEEDS 300
#define REQUESTS 400

static uint64_t rng_state;

/* splitmix64: the same sequence for a seed on every machine */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_in(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

/* Most a bucket may have given by now: burst + size + refills + one request's overdraft. */
static unsigned __int128 bucket_bound(const struct token_bucket_config *c, uint64_t elapsed,
				      uint64_t max_req)
{
	uint64_t period = (c->refill_ms ? c->refill_ms : 1000) * 1000000ULL;
	unsigned __int128 b = (unsigned __int128)c->one_time_burst + c->size;

	b += (unsigned __int128)elapsed * c->size / period;
	if (max_req > c->size)
		b += max_req - c->size;
	return b;
}

static void random_bucket(struct token_bucket_config *c)
{
	c->size = rnd() % 4 == 0 ? 0 : rnd_in(1, rnd() % 2 ? 1000 : 10000000);
	c->one_time_burst = rnd() % 2 ? 0 : rnd_in(0, 3 * (c->size + 1));
	c->refill_ms = rnd_in(1, 3000);
}

static uint64_t when[REQUESTS];
static unsigned __int128 cum_bytes[REQUESTS + 1], cum_ops[REQUESTS + 1];

/* Every window of the run (from request i to request j) within what the buckets allow. */
static void check_windows(const struct ratelimit_config *c, uint64_t max_bytes)
{
	for (unsigned i = 0; i < REQUESTS; i++)
		for (unsigned j = i; j < REQUESTS; j++) {
			uint64_t span = when[j] - when[i];

			if (c->bytes.size)
				assert_true(cum_bytes[j + 1] - cum_bytes[i] <=
					    bucket_bound(&c->bytes, span, max_bytes));
			if (c->ops.size)
				assert_true(cum_ops[j + 1] - cum_ops[i] <=
					    bucket_bound(&c->ops, span, 1));
		}
}

/*
 * Requests in order, each retried until it goes: the clock moves to a random point before
 * the wait the limiter names (the request must still be refused), then to the wait (it must
 * go: nothing is stuck), sometimes after idle time. Then every window of the run, not only
 * the whole, stays within what the buckets could give in it (a bucket that filled beyond
 * its size while idle would break a short window after the idle time).
 */
static void run_seed(uint64_t seed)
{
	struct ratelimit_config c = { 0 };
	struct ratelimit rl;
	uint64_t t, max_bytes = 0, served = 0;
	unsigned __int128 bytes = 0, ops = 0;

	rng_state = seed;
	random_bucket(&c.bytes);
	random_bucket(&c.ops);
	t = rnd() % (1ULL << 50);
	assert_int_equal(ratelimit_config_check(&c), 0);
	ratelimit_init(&rl, &c, t);
	for (unsigned i = 0; i < REQUESTS; i++) {
		uint64_t len = rnd_in(0, 3 * (c.bytes.size + 1)), tries = 0;

		if (len > max_bytes)
			max_bytes = len;
		if (rnd() % 8 == 0)
			t += rnd_in(0, 5000000000ULL); /* idle */
		while (!ratelimit_consume(&rl, len, 1, t)) {
			uint64_t w = ratelimit_wait_ns(&rl, len, 1, t);

			assert_true(w >= 1);
			if (w > 1 && rnd() % 2) {
				uint64_t early = rnd_in(1, w - 1);

				assert_false(ratelimit_consume(&rl, len, 1, t + early));
				w -= early;
				t += early;
				assert_true(ratelimit_wait_ns(&rl, len, 1, t) <= w + 2); /* + rounding */
				w = ratelimit_wait_ns(&rl, len, 1, t);
			}
			t += w;
			assert_true(++tries < 4); /* at the named time it goes (or nearly: rounding) */
		}
		when[served++] = t;
		bytes += len;
		ops += 1;
		cum_bytes[served] = bytes;
		cum_ops[served] = ops;
	}
	assert_int_equal(served, REQUESTS); /* none lost */
	check_windows(&c, max_bytes);
}

static void test_generated_streams(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		run_seed(seed);
}

static void test_inactive_never_limits(void **state)
{
	struct ratelimit_config c = { 0 };
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, &c, 0);
	assert_false(ratelimit_active(&rl));
	for (unsigned i = 0; i < 1000; i++)
		assert_true(ratelimit_consume(&rl, UINT64_MAX / 2, 1000, 0));
	assert_int_equal(ratelimit_wait_ns(&rl, UINT64_MAX, UINT64_MAX, 0), 0);
}

static void test_burst_then_rate(void **state)
{
	/* 1000 bytes per second, 500 more once: 1500 at t=0, then 1000 per second */
	struct ratelimit_config c = { .bytes = { .size = 1000, .one_time_burst = 500,
						 .refill_ms = 1000 } };
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, &c, 0);
	assert_true(ratelimit_consume(&rl, 1500, 0, 0));
	assert_false(ratelimit_consume(&rl, 1, 0, 0));
	assert_int_equal(ratelimit_wait_ns(&rl, 500, 0, 0), 500000000ULL);
	assert_false(ratelimit_consume(&rl, 500, 0, 499999999ULL));
	assert_true(ratelimit_consume(&rl, 500, 0, 500000000ULL));
	/* a request above the size waits for a full bucket, then leaves a debt */
	assert_false(ratelimit_consume(&rl, 3000, 0, 1000000000ULL));
	assert_true(ratelimit_consume(&rl, 3000, 0, 1500000000ULL));
	assert_false(ratelimit_consume(&rl, 1, 0, 3400000000ULL));
	assert_true(ratelimit_consume(&rl, 1, 0, 3501000000ULL));
}

static void test_config_limits(void **state)
{
	struct ratelimit_config c = { .ops = { .size = RATELIMIT_MAX_SIZE + 1, .refill_ms = 1 } };

	(void)state;
	assert_int_equal(ratelimit_config_check(&c), -EINVAL);
	c.ops.size = 1;
	c.bytes.refill_ms = RATELIMIT_MAX_REFILL_MS + 1;
	assert_int_equal(ratelimit_config_check(&c), -EINVAL);
	c.bytes.refill_ms = RATELIMIT_MAX_REFILL_MS;
	c.bytes.size = RATELIMIT_MAX_SIZE;
	assert_int_equal(ratelimit_config_check(&c), 0);
}

/* ---- virtio-blk with a limiter, driven through BAR0 ---- */

#define QSIZE 16

struct fx {
	char path[64];
	struct guest_mem mem;
	struct virtio_pci_dev *v;
	uint16_t avail_idx;
};

static int setup(void **state)
{
	static struct fx f;
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	char buf[4096] = { 0 };
	int fd;

	memset(&f, 0, sizeof(f));
	strcpy(f.path, "/tmp/hull-test-rl-XXXXXX");
	fd = mkstemp(f.path);
	assert_true(fd >= 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	close(fd);
	assert_int_equal(disk_open(f.path, DISK_FORMAT_RAW, 0, &d, &err), 0);
	assert_int_equal(gmem_init(&f.mem, 1U << 20), 0);
	f.v = virtio_blk_new_test(&f.mem, d, NULL);
	bar_w(f.v, 0x14, 0, 1);
	drv_features(f.v);
	drv_queue(f.v, 0, QSIZE, -1, DESC, AVAIL, USED);
	drv_ok(f.v);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_blk_free(f->v);
	gmem_release(&f->mem);
	unlink(f->path);
	return 0;
}

static void set_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = gmem_ptr(&f->mem, DESC + 16ULL * i, 16);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Post n 4 KiB reads (chains at descriptors 3k..3k+2), one kick; returns the used index. */
static uint16_t post_reads(struct fx *f, unsigned n)
{
	uint16_t *avail = gmem_ptr(&f->mem, AVAIL, 4 + 2 * QSIZE);
	uint8_t *hdr = gmem_ptr(&f->mem, HDR, 16);

	memset(hdr, 0, 16); /* BLK_T_IN, sector 0 */
	for (unsigned k = 0; k < n; k++) {
		uint16_t h = (uint16_t)(3 * k);

		set_desc(f, h, HDR, 16, 1, (uint16_t)(h + 1));
		set_desc(f, (uint16_t)(h + 1), DATA, 4096, 1 | 2, (uint16_t)(h + 2));
		set_desc(f, (uint16_t)(h + 2), STATUS + k, 1, 2, 0);
		avail[2 + (f->avail_idx % QSIZE)] = h;
		avail[1] = ++f->avail_idx;
	}
	bar_w(f->v, VIRTIO_BAR_NOTIFY, 0, 2);
	return *(uint16_t *)gmem_ptr(&f->mem, USED + 2, 2);
}

static uint16_t used_idx(struct fx *f)
{
	bar_w(f->v, VIRTIO_BAR_NOTIFY, 0, 2); /* a kick more: the throttled ones stay */
	return *(uint16_t *)gmem_ptr(&f->mem, USED + 2, 2);
}

static void test_blk_throttles_without_loss(void **state)
{
	struct fx *f = *state;
	/* 8 KiB, never refilled within the test (a day): two reads go, the rest wait */
	struct ratelimit_config day = { .bytes = { .size = 8192,
						   .refill_ms = RATELIMIT_MAX_REFILL_MS } };
	struct ratelimit_config none = { 0 };
	uint8_t *status = gmem_ptr(&f->mem, STATUS, 4);

	memset(status, 0xee, 4);
	virtio_blk_set_rate_limit(f->v, &day);
	assert_int_equal(post_reads(f, 4), 2);
	assert_int_equal(status[0], 0);
	assert_int_equal(status[1], 0);
	assert_int_equal(status[2], 0xee); /* waiting, not failed */
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(used_idx(f), 2);
	/* the limits change (the API): what waited goes, in order, none lost */
	virtio_blk_set_rate_limit(f->v, &none);
	assert_int_equal(used_idx(f), 4);
	assert_int_equal(status[2], 0);
	assert_int_equal(status[3], 0);
	assert_int_equal(f->v->st.vq[0].last_avail, 4);
}

static void test_blk_ops_limit(void **state)
{
	struct fx *f = *state;
	struct ratelimit_config c = { .ops = { .size = 3, .one_time_burst = 2,
					       .refill_ms = RATELIMIT_MAX_REFILL_MS } };

	virtio_blk_set_rate_limit(f->v, &c);
	assert_int_equal(post_reads(f, 5), 5); /* 3 + the burst of 2 */
	assert_int_equal(post_reads(f, 1), 5);
	assert_int_equal(f->v->st.vq[0].last_avail, 5); /* the sixth is still on the ring */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_streams),
		cmocka_unit_test(test_inactive_never_limits),
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_config_limits),
		cmocka_unit_test_setup_teardown(test_blk_throttles_without_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blk_ops_limit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
