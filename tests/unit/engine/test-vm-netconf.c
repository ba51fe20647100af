/*
 * NETCONF (guest/agent/proto.h) from both ends: the engine's encoder (engine/vm-net.h)
 * against the agent's decoder (guest/agent/netconf.c, compiled in as the agent has it), the
 * decoder against seeded random and mutated payloads (every accepted one within the bounds
 * the applier relies on), and the host's request against a fake agent's answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/vm-agent.h"
#include "engine/vm-net.h"
#include "netconf.h"
#include "wire.h"

#define SEED 1814u

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void test_roundtrip(void **state)
{
	uint8_t buf[VM_NETCONF_MAX];
	struct agent_nic nics[HULL_AGENT_MAX_NICS];
	size_t n = 0;
	int len = vm_netconf_encode("10.88.0.7", 16, "10.88.0.1", "AA:bb:cc:dd:ee:0f", 1400, buf,
				    sizeof(buf));
	const uint8_t mac[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f };
	const uint8_t a[4] = { 10, 88, 0, 7 }, g[4] = { 10, 88, 0, 1 };

	(void)state;
	assert_int_equal(len, 4 + 52);
	assert_null(agent_netconf_decode(buf, (uint32_t)len, nics, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(nics[0].mac, mac, 6);
	assert_memory_equal(nics[0].addr4, a, 4);
	assert_memory_equal(nics[0].gw4, g, 4);
	assert_int_equal(nics[0].prefix4, 16);
	assert_int_equal(nics[0].prefix6, 0);
	assert_int_equal(nics[0].mtu, 1400);
	/* no gateway: no route */
	len = vm_netconf_encode("192.168.1.2", 24, "", "02:00:00:00:00:01", 0, buf, sizeof(buf));
	assert_int_equal(len, 56);
	assert_null(agent_netconf_decode(buf, (uint32_t)len, nics, &n));
	assert_memory_equal(nics[0].gw4, "\0\0\0\0", 4);
	/* every strict prefix and every longer size is refused */
	for (uint32_t cut = 0; cut < 4 + 52 * 9 + 3; cut++) {
		static uint8_t big[4 + 52 * 10];

		memcpy(big, buf, 56);
		if (cut != 56)
			assert_non_null(agent_netconf_decode(big, cut, nics, &n));
	}
}

static void test_encode_refuses(void **state)
{
	uint8_t buf[VM_NETCONF_MAX];
	static const char *const bad[][3] = {
		{ "10.0.0.300", "10.0.0.1", "02:00:00:00:00:01" },
		{ "0.0.0.0", "10.0.0.1", "02:00:00:00:00:01" },
		{ NULL, "10.0.0.1", "02:00:00:00:00:01" },
		{ "10.0.0.2", "gateway", "02:00:00:00:00:01" },
		{ "10.0.0.2", "10.0.0.1", "01:00:5e:00:00:01" }, /* multicast */
		{ "10.0.0.2", "10.0.0.1", "00:00:00:00:00:00" },
		{ "10.0.0.2", "10.0.0.1", "02:00:00:00:00" },
		{ "10.0.0.2", "10.0.0.1", "02-00-00-00-00-01" },
		{ "10.0.0.2", "10.0.0.1", "0g:00:00:00:00:01" },
		{ "10.0.0.2", "10.0.0.1", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vm_netconf_encode(bad[i][0], 24, bad[i][1], bad[i][2], 0, buf,
						   sizeof(buf)), -EINVAL);
	assert_int_equal(vm_netconf_encode("10.0.0.2", 0, "", "02:00:00:00:00:01", 0, buf, 64),
			 -EINVAL);
	assert_int_equal(vm_netconf_encode("10.0.0.2", 33, "", "02:00:00:00:00:01", 0, buf, 64),
			 -EINVAL);
	assert_int_equal(vm_netconf_encode("10.0.0.2", 8, "", "02:00:00:00:00:01", 67, buf, 64),
			 -EINVAL);
	assert_int_equal(vm_netconf_encode("10.0.0.2", 8, "", "02:00:00:00:00:01", 0, buf, 55),
			 -EINVAL);
}

/* A valid entry at e, from the generator. */
static void gen_nic(uint8_t *e, uint32_t *s, unsigned i)
{
	memset(e, 0, 52);
	e[0] = (uint8_t)((rnd(s) & 0xfe) | 2);
	e[5] = (uint8_t)i; /* distinct MACs */
	e[6] = (uint8_t)(1 + rnd(s) % 32);
	e[12] = (uint8_t)(1 + rnd(s) % 254);
	if (rnd(s) & 1)
		e[16] = e[12] ^ 1;
	if (rnd(s) & 1) {
		e[7] = (uint8_t)(1 + rnd(s) % 128);
		e[20] = 0xfd;
		e[36] = (rnd(s) & 1) ? 0xfd : 0;
	}
	hull_agent_put32(e + 8, (rnd(s) & 1) ? 68 + rnd(s) % 65468 : 0);
}

/* What the applier relies on holds for every accepted payload. */
static void check_accepted(const struct agent_nic *nics, size_t n)
{
	assert_true(n >= 1 && n <= HULL_AGENT_MAX_NICS);
	for (size_t i = 0; i < n; i++) {
		assert_true(nics[i].prefix4 <= 32 && nics[i].prefix6 <= 128);
		assert_true(nics[i].mtu == 0 || (nics[i].mtu >= 68 && nics[i].mtu <= 65535));
		assert_false(nics[i].mac[0] & 1);
		for (size_t k = 0; k < i; k++)
			assert_memory_not_equal(nics[k].mac, nics[i].mac, 6);
	}
}

static void test_generated_and_mutated(void **state)
{
	static uint8_t buf[4 + 52 * HULL_AGENT_MAX_NICS + 64];
	struct agent_nic nics[HULL_AGENT_MAX_NICS];
	uint32_t s = SEED;
	unsigned accepted = 0, refused = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		unsigned n = 1 + rnd(&s) % HULL_AGENT_MAX_NICS;
		uint32_t len = 4 + 52 * n;
		size_t got = 99;
		const char *why;

		hull_agent_put16(buf, (uint16_t)n);
		hull_agent_put16(buf + 2, 0);
		for (unsigned i = 0; i < n; i++)
			gen_nic(buf + 4 + 52 * i, &s, i);
		why = agent_netconf_decode(buf, len, nics, &got);
		assert_null(why);
		assert_int_equal(got, n);
		check_accepted(nics, got);
		/* then 1..4 random bytes changed, or the count, or the length */
		for (unsigned k = 1 + rnd(&s) % 4; k > 0; k--)
			buf[rnd(&s) % len] = (uint8_t)rnd(&s);
		if (rnd(&s) % 8 == 0)
			len = rnd(&s) % sizeof(buf);
		why = agent_netconf_decode(buf, len, nics, &got);
		if (why) {
			assert_int_equal(got, 0);
			refused++;
		} else {
			check_accepted(nics, got);
			accepted++;
		}
	}
	/* both kinds happened: the mutations reach the checks */
	assert_true(accepted > 100 && refused > 100);
}

static void test_decode_refuses(void **state)
{
	uint8_t buf[4 + 52 * 2];
	struct agent_nic nics[HULL_AGENT_MAX_NICS];
	size_t n;
	uint32_t s = SEED;
	uint8_t *e = buf + 4;

	(void)state;
	hull_agent_put16(buf, 1);
	hull_agent_put16(buf + 2, 0);
	gen_nic(e, &s, 0);
	e[6] = 24;
	assert_null(agent_netconf_decode(buf, 56, nics, &n));
#define REFUSED(stmt)                                                                       \
	do {                                                                                \
		uint8_t keep[56];                                                           \
		memcpy(keep, buf, 56);                                                      \
		stmt;                                                                       \
		assert_non_null(agent_netconf_decode(buf, 56, nics, &n));                   \
		memcpy(buf, keep, 56);                                                      \
	} while (0)
	REFUSED(hull_agent_put16(buf, 2));          /* the count is not the size's */
	REFUSED(hull_agent_put16(buf, 0));
	REFUSED(buf[2] = 1);                        /* reserved */
	REFUSED(e[0] |= 1);                         /* multicast MAC */
	REFUSED(memset(e, 0, 6));                   /* zero MAC */
	REFUSED(e[6] = 33);
	REFUSED(e[7] = 129);
	REFUSED(hull_agent_put32(e + 8, 67));
	REFUSED(hull_agent_put32(e + 8, 65536));
	REFUSED(memset(e + 12, 0, 4));              /* a prefix without an address */
	REFUSED((e[6] = 0));                        /* an address without a prefix */
	REFUSED((e[7] = 0, e[20] = 1));             /* an IPv6 address without a prefix */
	REFUSED((e[7] = 0, e[20] = 0, e[36] = 1));  /* an IPv6 route without an address */
	REFUSED((e[7] = 64, memset(e + 20, 0, 16))); /* an IPv6 prefix without an address */
	/* two NICs, one MAC */
	hull_agent_put16(buf, 2);
	memcpy(buf + 56, e, 52);
	assert_non_null(agent_netconf_decode(buf, sizeof(buf), nics, &n));
	buf[56 + 5] ^= 1;
	assert_null(agent_netconf_decode(buf, sizeof(buf), nics, &n));
	assert_int_equal(n, 2);
}

/* The agent's frame reader: NETCONF is a host frame, its size checked with the header. */
static void test_rx_netconf(void **state)
{
	static struct agent_rx rx;
	uint8_t *at;
	uint16_t type;
	const uint8_t *pl;
	uint32_t len;
	const uint32_t sizes[] = { 56, 4 + 52 * 8 };
	const uint32_t bad[] = { 0, 4, 55, 57, 4 + 52 * 9 };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		agent_rx_next(&rx);
		(void)agent_rx_want(&rx, &at);
		hull_agent_hdr_put(at, HULL_AGENT_NETCONF, sizes[i]);
		assert_int_equal(agent_rx_got(&rx, 8, &type, &pl, &len), 0);
		(void)agent_rx_want(&rx, &at);
		memset(at, 0, sizes[i]);
		assert_int_equal(agent_rx_got(&rx, sizes[i], &type, &pl, &len), 1);
		assert_int_equal(type, HULL_AGENT_NETCONF);
		assert_int_equal(len, sizes[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		agent_rx_next(&rx);
		(void)agent_rx_want(&rx, &at);
		hull_agent_hdr_put(at, HULL_AGENT_NETCONF, bad[i]);
		assert_int_equal(agent_rx_got(&rx, 8, &type, &pl, &len), -1);
	}
}

/* IPv6 (guest18, --ipv6 networks): seeded random addresses, prefixes and gateways through the
 * encoder and the agent's decoder; what the wire cannot carry is refused. */
static void test_ipv6_roundtrip(void **state)
{
	uint8_t buf[VM_NETCONF_MAX];
	struct agent_nic nics[HULL_AGENT_MAX_NICS];
	uint32_t s = SEED + 6;
	size_t n = 0;

	(void)state;
	for (int round = 0; round < 500; round++) {
		uint8_t a[16], g[16];
		char as[64], gs[64];
		int prefix = 1 + (int)(rnd(&s) % 128);
		bool route = rnd(&s) & 1;
		int len = vm_netconf_encode("10.1.2.3", 24, "10.1.2.1", "02:00:00:00:00:09", 0, buf,
					    sizeof(buf));

		assert_int_equal(len, 56);
		for (int k = 0; k < 16; k++) {
			a[k] = (uint8_t)rnd(&s);
			g[k] = (uint8_t)rnd(&s);
		}
		a[0] = 0xfd;
		assert_non_null(inet_ntop(AF_INET6, a, as, sizeof(as)));
		assert_non_null(inet_ntop(AF_INET6, g, gs, sizeof(gs)));
		assert_int_equal(vm_netconf_encode6(as, prefix, route ? gs : "", buf, (uint32_t)len,
						    0), 0);
		assert_null(agent_netconf_decode(buf, (uint32_t)len, nics, &n));
		assert_int_equal(n, 1);
		assert_int_equal(nics[0].prefix6, prefix);
		assert_memory_equal(nics[0].addr6, a, 16);
		if (route)
			assert_memory_equal(nics[0].gw6, g, 16);
		else
			assert_memory_equal(nics[0].gw6, (uint8_t[16]){ 0 }, 16);
		assert_int_equal(nics[0].prefix4, 24); /* IPv4 untouched */
		/* refused: a prefix out of range, no address, ::, a NIC past the payload */
		assert_int_equal(vm_netconf_encode6(as, 0, gs, buf, (uint32_t)len, 0), -EINVAL);
		assert_int_equal(vm_netconf_encode6(as, 129 + (int)(rnd(&s) % 1000), gs, buf,
						    (uint32_t)len, 0), -EINVAL);
		assert_int_equal(vm_netconf_encode6(NULL, prefix, gs, buf, (uint32_t)len, 0),
				 -EINVAL);
		assert_int_equal(vm_netconf_encode6("::", prefix, gs, buf, (uint32_t)len, 0),
				 -EINVAL);
		assert_int_equal(vm_netconf_encode6("10.0.0.1", prefix, gs, buf, (uint32_t)len, 0),
				 -EINVAL);
		assert_int_equal(vm_netconf_encode6(as, prefix, "gw", buf, (uint32_t)len, 0),
				 -EINVAL);
		assert_int_equal(vm_netconf_encode6(as, prefix, gs, buf, (uint32_t)len,
						    1 + rnd(&s) % 8), -EINVAL);
	}
}

/* The host's request against answers queued on a socketpair beforehand. */
static int ask(const void *answer, size_t n, struct hull_err *err)
{
	uint8_t pl[56];
	int sv[2], r;

	assert_int_equal(vm_netconf_encode("10.0.0.2", 24, "10.0.0.1", "02:00:00:00:00:01", 0,
					   pl, sizeof(pl)), 56);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], answer, n), (ssize_t)n);
	(void)shutdown(sv[1], SHUT_WR);
	r = vm_agent_netconf(sv[0], pl, sizeof(pl), 5000, err);
	{
		uint8_t got[8 + 56];

		/* what the agent would have read: the frame, whole */
		assert_int_equal(read(sv[1], got, sizeof(got)), (ssize_t)sizeof(got));
		assert_int_equal(hull_agent_get16(got + 4), HULL_AGENT_NETCONF);
		assert_int_equal(hull_agent_get32(got), 56);
	}
	(void)close(sv[0]);
	(void)close(sv[1]);
	return r;
}

static void test_host_request(void **state)
{
	struct hull_err err = { 0 };
	uint8_t f[8 + 64];

	(void)state;
	hull_agent_hdr_put(f, HULL_AGENT_ACK, 4);
	hull_agent_put32(f + 8, 0);
	assert_int_equal(ask(f, 12, &err), 0);
	hull_agent_put32(f + 8, (uint32_t)-EINVAL);
	assert_int_equal(ask(f, 12, &err), -EPROTO);
	hull_agent_hdr_put(f, HULL_AGENT_ERROR, 9);
	memcpy(f + 8, "no\x01 iface", 9);
	assert_int_equal(ask(f, 17, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "the guest agent refused: no? iface"));
	hull_agent_hdr_put(f, HULL_AGENT_EXIT, 4); /* not an answer to NETCONF */
	assert_int_equal(ask(f, 12, &err), -EPROTO);
	hull_agent_hdr_put(f, HULL_AGENT_ACK, 5);
	assert_int_equal(ask(f, 13, &err), -EPROTO);
	hull_agent_hdr_put(f, HULL_AGENT_ERROR, 4000); /* over what an answer may be */
	assert_int_equal(ask(f, 8, &err), -EPROTO);
	assert_true(ask(f, 5, &err) < 0); /* the agent went away mid-header */
	assert_true(ask(f, 0, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_generated_and_mutated),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_rx_netconf),
		cmocka_unit_test(test_host_request),
		cmocka_unit_test(test_ipv6_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
