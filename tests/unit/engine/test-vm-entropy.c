/*
 * ENTROPY (cloud18: a clone of the warm snapshot gets fresh random state without VMGENID):
 * the engine's encoder (src/engine/vm-agent.c) against the protocol's header and shape checks
 * and the agent's builder of RNDADDENTROPY's struct (guest/agent/entropy.c, compiled in as the
 * agent has it), with seeded random lengths, buffer sizes and bytes: a length out of bounds
 * or a buffer too small is refused, nothing is ever written past a buffer, what is accepted
 * arrives byte for byte and credited in full. The frame the engine sends, read off a socket.
 */
#include <errno.h>
#include <linux/random.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "engine/vm-agent.h"
#include "proto.h"

#define SEED 1819u
#define CANARY 0xa5
#define HDR sizeof(struct hull_agent_hdr)

void agent_log(const char *fmt, ...)
{
	(void)fmt;
}

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static bool untouched(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != CANARY)
			return false;
	return true;
}

/* Generated lengths and capacities through the encoder, then the receiver's checks and the
 * agent's builder, as a frame travels. */
static void test_encode_to_pool(void **state)
{
	static uint8_t bytes[2 * HULL_AGENT_ENTROPY_MAX], frame[HDR + 2 * HULL_AGENT_ENTROPY_MAX + 64];
	static int pool_mem[(sizeof(struct rand_pool_info) + 2 * HULL_AGENT_ENTROPY_MAX) /
			    sizeof(int) + 16];
	uint8_t *pool = (uint8_t *)pool_mem;
	uint32_t s = SEED, len = 0;
	uint16_t type = 0;
	int ok = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		size_t n = rnd(&s) % (HULL_AGENT_ENTROPY_MAX + 40);
		size_t cap = i % 3 ? sizeof(frame) - 64 : HDR + rnd(&s) % (HULL_AGENT_ENTROPY_MAX + 40);
		size_t pcap = i % 5 ? sizeof(pool_mem) - 64
				    : sizeof(struct rand_pool_info) + rnd(&s) % 300;
		struct rand_pool_info *info = (struct rand_pool_info *)pool;
		int r;

		if (i % 7 == 0) /* the edges */
			n = (size_t[]){ 0, HULL_AGENT_ENTROPY_MIN - 1, HULL_AGENT_ENTROPY_MIN,
					HULL_AGENT_ENTROPY_MAX, HULL_AGENT_ENTROPY_MAX + 1 }[i % 5];
		bool fits = n >= HULL_AGENT_ENTROPY_MIN && n <= HULL_AGENT_ENTROPY_MAX;
		for (size_t k = 0; k < n; k++)
			bytes[k] = (uint8_t)rnd(&s);
		memset(frame, CANARY, sizeof(frame));
		r = vm_agent_entropy_encode(bytes, n, frame, cap);
		if (!fits || cap < HDR + n) {
			assert_int_equal(r, -EINVAL);
			assert_true(untouched(frame, sizeof(frame)));
			continue;
		}
		assert_int_equal(r, (int)(HDR + n));
		assert_true(untouched(frame + r, sizeof(frame) - (size_t)r));
		assert_int_equal(hull_agent_hdr_get(frame, &type, &len), 0);
		assert_int_equal(type, HULL_AGENT_ENTROPY);
		assert_int_equal(len, n);
		assert_true(hull_agent_from_host(type));
		assert_true(hull_agent_shape_ok(type, len));
		assert_memory_equal(frame + HDR, bytes, n);

		memset(pool, CANARY, sizeof(pool_mem));
		size_t got = agent_entropy_pool(frame + HDR, len, pool, pcap);
		if (pcap < sizeof(*info) + n) {
			assert_int_equal(got, 0);
			assert_true(untouched(pool, sizeof(pool_mem)));
			continue;
		}
		assert_int_equal(got, sizeof(*info) + n);
		assert_int_equal(info->entropy_count, (int)(8 * n));
		assert_int_equal(info->buf_size, (int)n);
		assert_memory_equal(info->buf, bytes, n);
		assert_true(untouched(pool + got, sizeof(pool_mem) - got));
		ok++;
	}
	assert_true(ok > 5000); /* the generator reached the accepting path often */
}

/* Mutated lengths straight at the agent (a hostile or broken host): out of bounds is 0 with
 * nothing written; the shape check agrees with the builder on every length. */
static void test_pool_lengths(void **state)
{
	static uint8_t pl[HULL_AGENT_MAX_PAYLOAD];
	static int pool_mem[(sizeof(struct rand_pool_info) + HULL_AGENT_ENTROPY_MAX) /
			    sizeof(int) + 1];
	uint32_t s = SEED;

	(void)state;
	for (size_t k = 0; k < sizeof(pl); k++)
		pl[k] = (uint8_t)rnd(&s);
	for (int i = 0; i < 5000; i++) {
		uint32_t len = i < 600 ? (uint32_t)i : rnd(&s) % (HULL_AGENT_MAX_PAYLOAD + 1);
		bool fits;

		if (i % 11 == 0)
			len ^= 1u << (rnd(&s) % 32); /* a flipped bit, possibly huge */
		fits = len >= HULL_AGENT_ENTROPY_MIN && len <= HULL_AGENT_ENTROPY_MAX;
		assert_int_equal(!!hull_agent_shape_ok(HULL_AGENT_ENTROPY, len), fits);
		memset(pool_mem, CANARY, sizeof(pool_mem));
		size_t got = agent_entropy_pool(fits ? pl : NULL, len, pool_mem, sizeof(pool_mem));
		assert_int_equal(got, fits ? sizeof(struct rand_pool_info) + len : 0);
		if (!fits) {
			assert_true(untouched((uint8_t *)pool_mem, sizeof(pool_mem)));
			assert_int_equal(agent_entropy(pl, len), -EINVAL);
		}
	}
}

/* What the engine writes on the agent's connection: one ENTROPY frame of SEND fresh bytes,
 * different each time. */
static void test_entropy_frame(void **state)
{
	uint8_t a[HDR + HULL_AGENT_ENTROPY_SEND], b[sizeof(a)];
	struct hull_err err = { 0 };
	uint16_t type = 0;
	uint32_t len = 0;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vm_agent_entropy(sv[0], &err), 0);
	assert_int_equal(vm_agent_entropy(sv[0], &err), 0);
	close(sv[0]);
	assert_int_equal(read(sv[1], a, sizeof(a)), (ssize_t)sizeof(a));
	assert_int_equal(read(sv[1], b, sizeof(b)), (ssize_t)sizeof(b));
	assert_int_equal(read(sv[1], b + HDR, 1), 0); /* nothing more */
	assert_int_equal(hull_agent_hdr_get(a, &type, &len), 0);
	assert_int_equal(type, HULL_AGENT_ENTROPY);
	assert_int_equal(len, HULL_AGENT_ENTROPY_SEND);
	assert_memory_equal(a, b, HDR);
	assert_memory_not_equal(a + HDR, b + HDR, HULL_AGENT_ENTROPY_SEND);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_to_pool),
		cmocka_unit_test(test_pool_lengths),
		cmocka_unit_test(test_entropy_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
