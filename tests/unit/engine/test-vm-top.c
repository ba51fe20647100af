/*
 * TOP (`hull top` on a VM container, guest/agent/proto.h) from both ends: the agent's encoder
 * (guest/agent/top.c, compiled in as the agent has it) listing this test's own child, the
 * host's decoder (engine/vm-top.h) against seeded random, generated and mutated replies (every
 * accepted one within the bounds the CLI relies on), and the host's request against a fake
 * agent's answers on a socketpair.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "engine/vm-top.h"

#define SEED 1817u
#define ENT sizeof(struct hull_agent_top_wire)

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

/* Every accepted reply holds what the CLI may print as it is. */
static void check_sane(const struct ctr_proc *v, size_t n)
{
	assert_true(n <= HULL_AGENT_TOP_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i].cmd);

		assert_true(v[i].pid > 0 && v[i].ppid >= 0);
		assert_true(l <= HULL_AGENT_TOP_CMD_MAX);
		for (size_t j = 0; j < l; j++)
			assert_true((unsigned char)v[i].cmd[j] >= 0x20 && v[i].cmd[j] != 0x7f);
	}
}

/* A valid reply of n random entries into buf: its length. */
static size_t gen(uint32_t *s, uint8_t *buf, size_t cap, uint32_t n)
{
	size_t pos = 8;

	hull_agent_put32(buf, n);
	hull_agent_put32(buf + 4, rnd(s) & 1);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t cl = rnd(s) % (HULL_AGENT_TOP_CMD_MAX + 1);

		if (pos + ENT + cl > cap)
			cl = 0;
		assert_true(pos + ENT + cl <= cap);
		hull_agent_put32(buf + pos, 1 + rnd(s) % 100000);
		hull_agent_put32(buf + pos + 4, rnd(s) % 100000);
		hull_agent_put32(buf + pos + 8, rnd(s));
		hull_agent_put32(buf + pos + 12, cl);
		hull_agent_put64(buf + pos + 16, (uint64_t)rnd(s) << 20);
		hull_agent_put64(buf + pos + 24, (uint64_t)rnd(s) << 12);
		for (uint32_t j = 0; j < cl; j++)
			buf[pos + ENT + j] = (uint8_t)(0x21 + rnd(s) % 90);
		pos += ENT + cl;
	}
	return pos;
}

/* The agent's own encoder, on this process: it lists the child and nothing else. */
static void test_agent_lists_children(void **state)
{
	static uint8_t buf[HULL_AGENT_MAX_PAYLOAD];
	struct hull_err err = { 0 };
	struct ctr_proc *v = NULL;
	size_t n = 0, len, found = 0;
	bool trunc = true;
	pid_t child = fork();

	(void)state;
	assert_true(child >= 0);
	if (child == 0) {
		execlp("sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	/* the child's cmdline is "sleep 1000" once exec happened: poll for it, no timing */
	for (int tries = 0; tries < 100000 && !found; tries++) {
		len = agent_top(buf, sizeof(buf));
		assert_int_equal(vm_top_decode(buf, (uint32_t)len, &v, &n, &trunc, &err), 0);
		check_sane(v, n);
		assert_false(trunc);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(v[i].ppid, getpid()); /* nothing but this process's children */
			if (v[i].pid == child && strcmp(v[i].cmd, "sleep 1000") == 0)
				found = 1;
		}
		ctr_procs_free(v, n);
		if (!found)
			(void)usleep(1000);
	}
	assert_true(found);
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
	/* a buffer too small for one entry: none, and the truncated flag */
	len = agent_top(buf, 8 + ENT);
	assert_int_equal(vm_top_decode(buf, (uint32_t)len, &v, &n, &trunc, &err), 0);
	ctr_procs_free(v, n);
	assert_int_equal(n, 0);
}

static void test_generated_and_mutated(void **state)
{
	static uint8_t buf[HULL_AGENT_MAX_PAYLOAD], mut[HULL_AGENT_MAX_PAYLOAD];
	uint32_t s = SEED;
	struct hull_err err = { 0 };

	(void)state;
	for (int round = 0; round < 400; round++) {
		uint32_t n = rnd(&s) % 64;
		size_t len = gen(&s, buf, sizeof(buf), n);
		struct ctr_proc *v = NULL;
		size_t got = 0;
		bool trunc;

		assert_int_equal(vm_top_decode(buf, (uint32_t)len, &v, &got, &trunc, &err), 0);
		assert_int_equal(got, n);
		check_sane(v, got);
		if (n)
			assert_int_equal(v[0].pid, (pid_t)hull_agent_get32(buf + 8));
		ctr_procs_free(v, got);
		/* mutations: flipped bytes, a cut, a longer tail; accepted ones stay sane */
		for (int m = 0; m < 40; m++) {
			size_t ml = len;
			int r;

			memcpy(mut, buf, len);
			switch (rnd(&s) % 3) {
			case 0:
				for (int k = 0; k < 4; k++)
					mut[rnd(&s) % len] = (uint8_t)rnd(&s);
				break;
			case 1:
				ml = rnd(&s) % (len + 1);
				break;
			default:
				ml = len + 1 + rnd(&s) % 64;
				for (size_t k = len; k < ml; k++)
					mut[k] = (uint8_t)rnd(&s);
			}
			v = NULL;
			got = 0;
			r = vm_top_decode(mut, (uint32_t)ml, &v, &got, &trunc, &err);
			assert_true(r == 0 || r == -EPROTO);
			if (r == 0) {
				check_sane(v, got);
				ctr_procs_free(v, got);
			}
		}
	}
	/* pure noise */
	for (int round = 0; round < 2000; round++) {
		size_t ml = rnd(&s) % 2048;
		struct ctr_proc *v = NULL;
		size_t got = 0;

		for (size_t k = 0; k < ml; k++)
			mut[k] = (uint8_t)rnd(&s);
		if (ml >= 4 && (round & 1)) /* small counts: past the first check */
			hull_agent_put32(mut, rnd(&s) % 4);
		if (vm_top_decode(mut, (uint32_t)ml, &v, &got, NULL, &err) == 0) {
			check_sane(v, got);
			ctr_procs_free(v, got);
		}
	}
}

static void test_decode_refuses(void **state)
{
	static uint8_t b[HULL_AGENT_MAX_PAYLOAD];
	struct hull_err err = { 0 };
	struct ctr_proc *v = NULL;
	size_t n = 0;
	uint32_t s = SEED;
	size_t len;

	(void)state;
	len = gen(&s, b, sizeof(b), 2);
	hull_agent_put32(b, 3); /* a count over the entries there are */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	hull_agent_put32(b, 0xffffffffu); /* a count to make the host allocate gigabytes */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	hull_agent_put32(b, 1); /* a tail after the last entry */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	hull_agent_put32(b, 2);
	hull_agent_put32(b + 4, 2); /* an unknown flag */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	hull_agent_put32(b + 4, 0);
	hull_agent_put32(b + 8 + 12, 0xfffffff0u); /* a command line past the payload */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	len = gen(&s, b, sizeof(b), 1);
	hull_agent_put32(b + 8, 0); /* pid 0 */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	hull_agent_put32(b + 8, 0x80000000u); /* not a pid_t */
	assert_int_equal(vm_top_decode(b, (uint32_t)len, &v, &n, NULL, &err), -EPROTO);
	assert_int_equal(vm_top_decode(b, 7, &v, &n, NULL, &err), -EPROTO);
	/* control bytes (a terminal escape) become '?' */
	hull_agent_put32(b + 8, 7);
	hull_agent_put32(b + 8 + 12, 4);
	memcpy(b + 8 + ENT, "\x1b[2J", 4);
	assert_int_equal(vm_top_decode(b, 8 + ENT + 4, &v, &n, NULL, &err), 0);
	assert_string_equal(v[0].cmd, "?[2J");
	ctr_procs_free(v, n);
}

/* The host's request against an answer queued on a socketpair beforehand. */
static int ask(const void *answer, size_t n, struct ctr_proc **v, size_t *got,
	       struct hull_err *err)
{
	uint8_t req[16];
	int sv[2], r;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], answer, n), (ssize_t)n);
	(void)shutdown(sv[1], SHUT_WR);
	r = vm_top_request(sv[0], 5000, v, got, err);
	/* what the agent would have read: one empty TOP frame */
	assert_int_equal(read(sv[1], req, sizeof(req)), 8);
	assert_int_equal(hull_agent_get16(req + 4), HULL_AGENT_TOP);
	assert_int_equal(hull_agent_get32(req), 0);
	(void)close(sv[0]);
	(void)close(sv[1]);
	return r;
}

static void test_host_request(void **state)
{
	static uint8_t f[8 + HULL_AGENT_MAX_PAYLOAD];
	struct hull_err err = { 0 };
	struct ctr_proc *v = NULL;
	size_t n = 0, len;
	uint32_t s = SEED;

	(void)state;
	len = gen(&s, f + 8, HULL_AGENT_MAX_PAYLOAD, 5);
	hull_agent_hdr_put(f, HULL_AGENT_TOP_REPLY, (uint32_t)len);
	assert_int_equal(ask(f, 8 + len, &v, &n, &err), 0);
	assert_int_equal(n, 5);
	ctr_procs_free(v, n);
	assert_int_equal(ask(f, 8 + len - 1, &v, &n, &err), -ECONNRESET); /* cut short */
	hull_agent_hdr_put(f, HULL_AGENT_TOP_REPLY, 4); /* under the reply's shape */
	assert_int_equal(ask(f, 12, &v, &n, &err), -EPROTO);
	hull_agent_hdr_put(f, HULL_AGENT_TOP_REPLY, HULL_AGENT_MAX_PAYLOAD + 1);
	assert_int_equal(ask(f, 8, &v, &n, &err), -EPROTO);
	hull_agent_hdr_put(f, HULL_AGENT_ERROR, 3);
	assert_int_equal(ask(f, 11, &v, &n, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "refused TOP"));
	hull_agent_hdr_put(f, HULL_AGENT_TOP, 0); /* a host's frame from the agent */
	assert_int_equal(ask(f, 8, &v, &n, &err), -EPROTO);
	assert_true(ask(f, 0, &v, &n, &err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_lists_children),
		cmocka_unit_test(test_generated_and_mutated),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_host_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
