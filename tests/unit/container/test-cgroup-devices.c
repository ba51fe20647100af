/*
 * Unit tests for src/container/cgroup-devices.c.
 *
 * The generator is checked without the kernel by running its programs in a small interpreter
 * of the instructions it may emit (anything else fails the test). The kernel tests attach to a
 * child of a cgroup2 mount (/sys/fs/cgroup/unified on a hybrid host, /sys/fs/cgroup on pure
 * v2), move a forked child there and check which device nodes it can open; they skip without
 * root, without a cgroup2 mount, or when bpf(2) says EPERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "container/cgroup-devices.h"

#define ACC_M BPF_DEVCG_ACC_MKNOD
#define ACC_R BPF_DEVCG_ACC_READ
#define ACC_W BPF_DEVCG_ACC_WRITE
#define DEV_B BPF_DEVCG_DEV_BLOCK
#define DEV_C BPF_DEVCG_DEV_CHAR

static struct bpf_insn prog[CGROUP_DEV_BPF_INSNS_MAX];

/* ---- a tiny interpreter for the generated programs ---------------------------------- */

/* Run prog[0..len) on one request; returns r0. Fails the test on anything unexpected. */
static int run(int len, uint32_t type, uint32_t access, uint32_t major, uint32_t minor)
{
	struct bpf_cgroup_dev_ctx ctx = { .access_type = (access << 16) | type,
					  .major = major,
					  .minor = minor };
	uint64_t reg[11] = { 0 };
	bool init[11] = { false };
	int pc = 0, steps = 0;

	init[1] = true; /* r1 = ctx; loads go through ctx below */
	while (true) {
		struct bpf_insn *i;
		uint32_t a;

		assert_true(pc >= 0 && pc < len);
		assert_true(++steps <= len); /* forward jumps only: each insn runs at most once */
		i = &prog[pc++];
		assert_true(i->dst_reg <= 10 && i->src_reg <= 10);
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, 1);
			assert_true(i->off >= 0 && i->off % 4 == 0);
			assert_true(i->off + 4 <= (int)sizeof(ctx));
			memcpy(&a, (char *)&ctx + i->off, 4);
			reg[i->dst_reg] = a;
			init[i->dst_reg] = true;
			break;
		case BPF_ALU64 | BPF_MOV | BPF_X:
			assert_true(init[i->src_reg]);
			reg[i->dst_reg] = reg[i->src_reg];
			init[i->dst_reg] = true;
			break;
		case BPF_ALU | BPF_MOV | BPF_X:
			assert_true(init[i->src_reg]);
			reg[i->dst_reg] = (uint32_t)reg[i->src_reg];
			init[i->dst_reg] = true;
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			reg[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			init[i->dst_reg] = true;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			assert_true(init[i->dst_reg]);
			reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			assert_true(init[i->dst_reg]);
			reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] & (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_XOR | BPF_K:
			assert_true(init[i->dst_reg]);
			reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] ^ (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_ADD | BPF_K:
			assert_true(init[i->dst_reg]);
			reg[i->dst_reg] = (uint32_t)((uint32_t)reg[i->dst_reg] + (uint32_t)i->imm);
			break;
		case BPF_ALU | BPF_OR | BPF_X:
			assert_true(init[i->dst_reg] && init[i->src_reg]);
			reg[i->dst_reg] = (uint32_t)(reg[i->dst_reg] | reg[i->src_reg]);
			break;
		case BPF_JMP32 | BPF_JNE | BPF_K:
		case BPF_JMP32 | BPF_JEQ | BPF_K: {
			bool eq;

			assert_true(init[i->dst_reg]);
			assert_true(i->off >= 0);
			eq = (uint32_t)reg[i->dst_reg] == (uint32_t)i->imm;
			if (BPF_OP(i->code) == BPF_JEQ ? eq : !eq)
				pc += i->off;
			break;
		}
		case BPF_JMP | BPF_EXIT:
			assert_true(init[0]);
			return (int)reg[0];
		default:
			fail_msg("unexpected opcode 0x%02x at %d", i->code, pc - 1);
		}
	}
}

/* Every instruction must be reachable (the verifier rejects dead code): walk the CFG. */
static void assert_all_reachable(int len)
{
	bool seen[CGROUP_DEV_BPF_INSNS_MAX] = { false };
	int pc;

	seen[0] = true;
	for (pc = 0; pc < len; pc++) {
		struct bpf_insn *i = &prog[pc];

		if (!seen[pc])
			fail_msg("unreachable insn %d", pc);
		if (i->code == (BPF_JMP | BPF_EXIT))
			continue;
		assert_true(pc + 1 < len); /* no falling off the end */
		seen[pc + 1] = true;
		if (BPF_CLASS(i->code) == BPF_JMP32) {
			assert_true(pc + 1 + i->off < len);
			seen[pc + 1 + i->off] = true;
		}
	}
}

static int build(const struct oci_dev_rule *rules, size_t n)
{
	struct hull_err err = { 0 };
	int len = cgroup_devices_bpf_build(rules, n, prog, CGROUP_DEV_BPF_INSNS(n), &err);

	if (len < 0)
		fail_msg("build: %s", err.msg);
	assert_true((size_t)len <= CGROUP_DEV_BPF_INSNS(n));
	assert_all_reachable(len);
	return len;
}

/* acc initializes a char array, so it must stay a bare string literal. */
/* NOLINTBEGIN(bugprone-macro-parentheses) */
#define RULE(al, t, ma, mi, acc) \
	{ .allow = (al), .type = (t), .major = (ma), .minor = (mi), .access = acc }
/* NOLINTEND(bugprone-macro-parentheses) */

/* ---- generator ---------------------------------------------------------------------- */

static void test_empty_denies_all(void **state)
{
	int len = build(NULL, 0);

	assert_int_equal(len, 2); /* the default deny */
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 3), 0);
	assert_int_equal(run(len, DEV_B, ACC_M, 8, 0), 0);
}

static void test_insn_count(void **state)
{
	const struct oci_dev_rule one[] = { RULE(true, 'c', 1, 3, "rwm") };
	const struct oci_dev_rule full[] = { RULE(false, 'b', 8, 0, "rw") };
	const struct oci_dev_rule wild_major[] = { RULE(true, 'c', -1, 3, "rwm") };

	/* load, type (3), major (3), minor (3), jump, verdict (2), default deny (2) */
	assert_int_equal(build(one, 1), 1 + 3 + 3 + 3 + 1 + 2 + 2);
	/* and a deny's access test (5): the bound CGROUP_DEV_BPF_INSNS uses */
	assert_int_equal(build(full, 1), (int)CGROUP_DEV_BPF_INSNS(1));
	assert_int_equal(build(wild_major, 1), 1 + 3 + 3 + 1 + 2 + 2);
}

static void test_allow_one_device(void **state)
{
	const struct oci_dev_rule rules[] = { RULE(true, 'c', 1, 3, "rw") };
	int len = build(rules, 1);

	assert_int_equal(run(len, DEV_C, ACC_R, 1, 3), 1);
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_W, 1, 3), 1);
	assert_int_equal(run(len, DEV_C, ACC_M, 1, 3), 0);       /* not in the rule */
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_M, 1, 3), 0); /* only part of it is */
	assert_int_equal(run(len, DEV_B, ACC_R, 1, 3), 0);       /* wrong type */
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 5), 0);       /* wrong minor */
	assert_int_equal(run(len, DEV_C, ACC_R, 2, 3), 0);       /* wrong major */
}

static void test_last_rule_wins(void **state)
{
	const struct oci_dev_rule allow_then_deny[] = {
		RULE(true, 'c', 1, -1, "rwm"),
		RULE(false, 'c', 1, 5, "rwm"),
	};
	const struct oci_dev_rule deny_then_allow[] = {
		RULE(false, 'c', 1, 5, "rwm"),
		RULE(true, 'c', 1, -1, "rwm"),
	};
	int len = build(allow_then_deny, 2);

	assert_int_equal(run(len, DEV_C, ACC_R, 1, 3), 1);
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 5), 0);
	len = build(deny_then_allow, 2);
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 3), 1);
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 5), 1);
}

static void test_deny_partial_access(void **state)
{
	/* deny w after allow rwm: any request that includes w is denied */
	const struct oci_dev_rule rules[] = {
		RULE(true, 'c', 1, 3, "rwm"),
		RULE(false, 'c', 1, 3, "w"),
	};
	int len = build(rules, 2);

	assert_int_equal(run(len, DEV_C, ACC_R, 1, 3), 1);
	assert_int_equal(run(len, DEV_C, ACC_M, 1, 3), 1);
	assert_int_equal(run(len, DEV_C, ACC_W, 1, 3), 0);
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_W, 1, 3), 0);
}

static void test_wildcards(void **state)
{
	/* The usual container list: deny all, then allow a few, with "b *:* m" style wildcards. */
	const struct oci_dev_rule rules[] = {
		RULE(false, 'a', -1, -1, "rwm"),
		RULE(true, 'c', -1, -1, "m"),
		RULE(true, 'b', -1, -1, "m"),
		RULE(true, 'c', 136, -1, "rwm"),
		RULE(true, 'c', 5, 2, "rwm"),
		RULE(true, 'a', 4000, 4000000000LL, "r"),
	};
	int len = build(rules, ARRAY_SIZE(rules));

	assert_int_equal(run(len, DEV_C, ACC_M, 10, 200), 1);
	assert_int_equal(run(len, DEV_B, ACC_M, 8, 0), 1);
	assert_int_equal(run(len, DEV_B, ACC_R, 8, 0), 0);
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_W, 136, 7), 1);
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_W, 137, 7), 0);
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_W, 5, 2), 1);
	assert_int_equal(run(len, DEV_C, ACC_R | ACC_W, 5, 1), 0);
	/* majors and minors above INT32_MAX compare as 32-bit values */
	assert_int_equal(run(len, DEV_B, ACC_R, 4000, 4000000000u), 1);
	assert_int_equal(run(len, DEV_C, ACC_R, 4000, 4000000000u), 1);
	assert_int_equal(run(len, DEV_C, ACC_R, 4000, 4000000001u), 0);
}

static void test_match_all_cuts_dead_code(void **state)
{
	const struct oci_dev_rule rules[] = {
		RULE(false, 'c', 1, 5, "rwm"),
		RULE(true, 'a', -1, -1, "rwm"),
	};
	const struct oci_dev_rule deny_last[] = {
		RULE(true, 'c', 1, 5, "rwm"),
		RULE(false, 'a', -1, -1, "rwm"),
	};
	int len = build(rules, 2);

	assert_int_equal(len, 2); /* everything after "allow a *:* rwm" is gone */
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 5), 1);
	len = build(deny_last, 2);
	assert_int_equal(len, 2);
	assert_int_equal(run(len, DEV_C, ACC_R, 1, 5), 0);
}

static void test_empty_access_matches_nothing(void **state)
{
	const struct oci_dev_rule rules[] = {
		RULE(true, 'c', 1, 3, "rwm"),
		RULE(false, 'c', 1, 3, ""),
	};
	int len = build(rules, 2);

	assert_int_equal(run(len, DEV_C, ACC_R, 1, 3), 1);
}

static void test_bad_rules(void **state)
{
	struct oci_dev_rule bad[] = {
		RULE(true, 'c', 1, 3, "rwm"),
		RULE(true, 'x', 1, 3, "rwm"),
	};
	struct hull_err err = { 0 };

	assert_int_equal(cgroup_devices_bpf_build(bad, 2, prog, ARRAY_SIZE(prog), &err), -EINVAL);
	assert_string_equal(err.msg,
			    "device rule 1: type: unknown device type 'x' (want a, b or c)");

	bad[1] = (struct oci_dev_rule)RULE(true, 'c', 1, 3, "rwx");
	assert_int_equal(cgroup_devices_bpf_build(bad, 2, prog, ARRAY_SIZE(prog), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "device rule 1: access: \"rwx\""));

	memcpy(bad[1].access, "rwmr", 4); /* no NUL */
	assert_int_equal(cgroup_devices_bpf_build(bad, 2, prog, ARRAY_SIZE(prog), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not NUL-terminated"));

	bad[1] = (struct oci_dev_rule)RULE(true, 'c', -2, 3, "r");
	assert_int_equal(cgroup_devices_bpf_build(bad, 2, prog, ARRAY_SIZE(prog), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "major: -2 is out of range"));

	bad[1] = (struct oci_dev_rule)RULE(true, 'c', 1, 1LL << 32, "r");
	assert_int_equal(cgroup_devices_bpf_build(bad, 2, prog, ARRAY_SIZE(prog), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "minor: 4294967296 is out of range"));

	bad[1] = (struct oci_dev_rule)RULE(true, '\x01', 1, 3, "r");
	assert_int_equal(cgroup_devices_bpf_build(bad, 2, prog, ARRAY_SIZE(prog), &err), -EINVAL);
	assert_string_equal(err.msg,
			    "device rule 1: type: unknown device type 0x01 (want a, b or c)");

	/* too small a buffer */
	assert_int_equal(cgroup_devices_bpf_build(bad, 1, prog, 10, &err), -ENOSPC);
	assert_int_equal(cgroup_devices_bpf_build(NULL, 0, prog, 1, &err), -ENOSPC);
}

static void test_rule_limit(void **state)
{
	struct oci_dev_rule *rules = calloc(CGROUP_DEV_RULES_MAX + 1, sizeof(*rules));
	struct hull_err err = { 0 };
	int len;

	assert_non_null(rules);
	for (size_t i = 0; i <= CGROUP_DEV_RULES_MAX; i++)
		rules[i] = (struct oci_dev_rule)RULE(i % 2, i % 3 ? 'c' : 'b', (int64_t)i, 7,
							"rw");
	assert_int_equal(cgroup_devices_bpf_build(rules, CGROUP_DEV_RULES_MAX + 1, prog,
						  ARRAY_SIZE(prog), &err),
			 -E2BIG);
	assert_non_null(strstr(err.msg, "4097 device rules, at most 4096"));
	len = build(rules, CGROUP_DEV_RULES_MAX);
	/* allow blocks 16 instructions, deny blocks 18 (the maximum), the default deny 2 */
	assert_int_equal(len, 2048 * 16 + 2048 * 18 + 2);
	assert_true((size_t)len <= CGROUP_DEV_BPF_INSNS_MAX);
	assert_int_equal(run(len, DEV_C, ACC_R, 4093, 7), 1);  /* rule 4093: allow c */
	assert_int_equal(run(len, DEV_C, ACC_R, 4094, 7), 0);  /* rule 4094: deny c */
	assert_int_equal(run(len, DEV_C, ACC_R, 4095, 7), 0);  /* rule 4095: allow b */
	assert_int_equal(run(len, DEV_B, ACC_R, 4095, 7), 1);
	free(rules);
}

/* ---- random rule lists against a reference ------------------------------------------ */

/* The semantics written the plain way: rules in order, the last match wins, deny by default. */
static int reference(const struct oci_dev_rule *rules, size_t n, uint32_t type,
		     uint32_t access, uint32_t major, uint32_t minor)
{
	int verdict = 0;

	for (size_t i = 0; i < n; i++) {
		const struct oci_dev_rule *r = &rules[i];
		uint32_t bits = 0;

		for (const char *c = r->access; *c; c++)
			bits |= *c == 'r' ? ACC_R : *c == 'w' ? ACC_W : ACC_M;
		if (r->type != 'a' && (r->type == 'c' ? DEV_C : DEV_B) != type)
			continue;
		if (r->major >= 0 && (uint32_t)r->major != major)
			continue;
		if (r->minor >= 0 && (uint32_t)r->minor != minor)
			continue;
		if (r->allow ? (access & ~bits) != 0 : (access & bits) == 0)
			continue;
		verdict = r->allow;
	}
	return verdict;
}

/* Small numbers so that rules and requests meet often; a few large ones for JMP32. */
static int64_t random_num(unsigned *seed, bool wild)
{
	static const int64_t big[] = { 0, 4095, 0x7fffffff, 0x80000000LL, 0xffffffffLL };
	int k = rand_r(seed) % 8;

	if (wild && k == 0)
		return -1;
	if (k == 1)
		return big[rand_r(seed) % 5];
	return rand_r(seed) % 3;
}

static void random_rule(unsigned *seed, struct oci_dev_rule *r)
{
	static const char *const acc[] = { "", "r", "w", "m", "rw", "rm", "wm", "rwm" };

	r->allow = rand_r(seed) % 2;
	r->type = "abc"[rand_r(seed) % 3];
	r->major = random_num(seed, true);
	r->minor = random_num(seed, true);
	(void)snprintf(r->access, sizeof(r->access), "%s", acc[rand_r(seed) % 8]);
}

static void test_random_against_reference(void **state)
{
	struct oci_dev_rule rules[12];
	unsigned seed = 12345;

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand_r(&seed) % 13);
		int len;

		for (size_t i = 0; i < n; i++)
			random_rule(&seed, &rules[i]);
		len = build(rules, n);
		for (int q = 0; q < 50; q++) {
			uint32_t type = rand_r(&seed) % 2 ? DEV_C : DEV_B;
			uint32_t access = (uint32_t)(rand_r(&seed) % 7 + 1);
			uint32_t major = (uint32_t)random_num(&seed, false);
			uint32_t minor = (uint32_t)random_num(&seed, false);
			int want = reference(rules, n, type, access, major, minor);
			int got = run(len, type, access, major, minor);

			if (got != want)
				fail_msg("round %d: %u %u %u:%u: program says %d, rules say %d", round,
					 type, access, major, minor, got, want);
		}
	}
}

/* ---- JSON --------------------------------------------------------------------------- */

static int parse(const char *text, struct oci_dev_rule **rules, size_t *n,
		 struct hull_err *err)
{
	json_t *v = json_loads(text, 0, NULL);
	int r;

	assert_non_null(v);
	r = spec_dev_rules_from_json(v, "config.json: linux.resources.devices", rules, n, err);
	json_decref(v);
	return r;
}

static void test_json_ok(void **state)
{
	struct oci_dev_rule *rules = NULL;
	struct hull_err err = { 0 };
	char buf[32];
	size_t n = 0;

	assert_int_equal(parse("[{\"allow\": false, \"access\": \"rwm\"},"
			       " {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3,"
			       "  \"access\": \"mwr\"},"
			       " {\"allow\": true, \"type\": \"b\", \"major\": 8},"
			       " {\"allow\": true, \"access\": \"rr\"}]",
			       &rules, &n, &err),
			 0);
	assert_int_equal(n, 4);
	assert_false(rules[0].allow);
	assert_int_equal(rules[0].type, 'a');
	assert_int_equal(rules[0].major, -1);
	assert_int_equal(rules[0].minor, -1);
	assert_string_equal(cgroup_dev_rule_to_v1(&rules[0], buf, sizeof(buf)), "a *:* rwm");
	assert_string_equal(rules[1].access, "rwm"); /* canonical order, no repeats */
	assert_string_equal(cgroup_dev_rule_to_v1(&rules[1], buf, sizeof(buf)), "c 1:3 rwm");
	assert_string_equal(rules[2].access, "");
	assert_string_equal(cgroup_dev_rule_to_v1(&rules[2], buf, sizeof(buf)), "b 8:* ");
	assert_string_equal(rules[3].access, "r");
	free(rules);

	rules = NULL;
	assert_int_equal(spec_dev_rules_from_json(NULL, "x", &rules, &n, &err), 0);
	assert_int_equal(n, 0);
	free(rules);
}

static void expect_json_error(const char *text, int code, const char *msg)
{
	struct oci_dev_rule *rules = NULL;
	struct hull_err err = { 0 };
	size_t n = 99;

	assert_int_equal(parse(text, &rules, &n, &err), -code);
	assert_null(rules);
	assert_int_equal(n, 99);
	if (!strstr(err.msg, msg))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, msg);
}

static void test_json_bad(void **state)
{
	expect_json_error("[{\"allow\": true, \"access\": \"rw\"}, {\"allow\": true},"
			  " {\"allow\": true, \"access\": \"rwx\"}]",
			  EINVAL, "config.json: linux.resources.devices[2].access: \"rwx\" is not");
	expect_json_error("[{\"allow\": true, \"access\": \"rwmr\"}]", EINVAL,
			  "devices[0].access: \"rwmr\" is not a combination of r, w, m");
	expect_json_error("[{\"allow\": true, \"type\": \"u\"}]", EINVAL,
			  "config.json: linux.resources.devices[0].type: unknown device type \"u\"");
	expect_json_error("[{\"allow\": true, \"type\": \"cc\"}]", EINVAL, "devices[0].type");
	expect_json_error("[{\"type\": \"c\"}]", EINVAL,
			  "config.json: linux.resources.devices[0].allow: required field is missing");
	expect_json_error("[{\"allow\": \"yes\"}]", EINVAL, "devices[0].allow: expected a boolean");
	expect_json_error("[{\"allow\": true, \"major\": \"1\"}]", EINVAL,
			  "devices[0].major: expected an integer, got string");
	expect_json_error("[{\"allow\": true, \"minor\": -2}]", ERANGE,
			  "devices[0].minor: -2 is out of range");
	expect_json_error("[{\"allow\": true, \"major\": 4294967296}]", ERANGE,
			  "devices[0].major: 4294967296 is out of range");
	expect_json_error("[1]", EINVAL,
			  "config.json: linux.resources.devices[0]: expected an object");
	expect_json_error("{}", EINVAL, "config.json: linux.resources.devices: expected an array");
}

static void test_json_too_many(void **state)
{
	json_t *arr = json_array();
	struct oci_dev_rule *rules = NULL;
	struct hull_err err = { 0 };
	size_t n = 0;

	for (int i = 0; i <= CGROUP_DEV_RULES_MAX; i++)
		json_array_append_new(arr, json_pack("{s:b}", "allow", 1));
	assert_int_equal(spec_dev_rules_from_json(arr, "config.json: linux.resources.devices",
						    &rules, &n, &err),
			 -E2BIG);
	assert_non_null(strstr(err.msg, "devices: 4097 rules, at most 4096"));
	assert_null(rules);
	json_decref(arr);
}

/* ---- the kernel --------------------------------------------------------------------- */

struct kfix {
	char path[256];
	int dirfd;
};

static bool is_cgroup2(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static int kernel_setup(void **state)
{
	static struct kfix fix;
	static int seq;
	const char *root;

	*state = NULL;
	if (geteuid() != 0) {
		print_message("# kernel tests skipped: not root\n");
		return 0;
	}
	if (is_cgroup2("/sys/fs/cgroup/unified"))
		root = "/sys/fs/cgroup/unified";
	else if (is_cgroup2("/sys/fs/cgroup"))
		root = "/sys/fs/cgroup";
	else {
		print_message("# kernel tests skipped: no cgroup2 at /sys/fs/cgroup[/unified]\n");
		return 0;
	}
	(void)snprintf(fix.path, sizeof(fix.path), "%s/hull-test-devices-%d-%d", root,
		       (int)getpid(), ++seq);
	if (mkdir(fix.path, 0755) < 0) {
		print_message("# kernel tests skipped: mkdir %s: %s\n", fix.path, strerror(errno));
		return 0;
	}
	fix.dirfd = open(fix.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fix.dirfd >= 0);
	*state = &fix;
	return 0;
}

static int kernel_teardown(void **state)
{
	struct kfix *fix = *state;

	if (!fix)
		return 0;
	(void)close(fix->dirfd);
	/* The children have exited; the programs go with the cgroup. */
	if (rmdir(fix->path) < 0)
		fail_msg("rmdir %s: %s", fix->path, strerror(errno));
	return 0;
}

/* Apply, or skip when bpf(2) is not allowed here; fail on any other error. */
static void apply_or_skip(struct kfix *fix, const struct oci_dev_rule *rules, size_t n)
{
	struct hull_err err = { 0 };
	int r = cgroup_devices_bpf_apply(fix->dirfd, rules, n, &err);

	if (r == -EPERM) {
		print_message("# skipped: %s\n", err.msg);
		skip();
	}
	if (r < 0)
		fail_msg("cgroup_devices_bpf_apply: %s", err.msg);
}

/*
 * In a forked child moved into the cgroup, open path with flags: 0 when it opens, else the
 * errno. The child moves itself ("0" in cgroup.procs) so no pid races.
 */
static int open_in_cgroup(struct kfix *fix, const char *path, int flags)
{
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = openat(fix->dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(200);
		(void)close(fd);
		fd = open(path, flags | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : errno);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 200)
		fail_msg("could not move the child into %s", fix->path);
	return WEXITSTATUS(status);
}

/* How many programs are attached to the cgroup (BPF_CGROUP_DEVICE). */
static int attached_count(struct kfix *fix)
{
	uint32_t ids[64];
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)fix->dirfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = 64;
	assert_int_equal(syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)), 0);
	return (int)attr.query.prog_cnt;
}

static void test_kernel_enforce_and_replace(void **state)
{
	struct kfix *fix = *state;
	const struct oci_dev_rule null_only[] = { RULE(true, 'c', 1, 3, "rw") };
	const struct oci_dev_rule null_zero[] = {
		RULE(true, 'c', 1, 3, "rw"),
		RULE(true, 'c', 1, 5, "r"),
	};
	const struct oci_dev_rule deny_w[] = {
		RULE(true, 'c', 1, -1, "rwm"),
		RULE(false, 'c', 1, 3, "w"),
	};

	if (!fix)
		skip();
	/* No program yet: everything opens. */
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), 0);

	apply_or_skip(fix, null_only, ARRAY_SIZE(null_only));
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/null", O_RDWR), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), EPERM);

	/* Replacement: still one program, and the new rules hold. */
	apply_or_skip(fix, null_zero, ARRAY_SIZE(null_zero));
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/null", O_RDWR), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_WRONLY), EPERM);

	/* A partial deny after a wildcard allow: O_RDWR includes the denied w. */
	apply_or_skip(fix, deny_w, ARRAY_SIZE(deny_w));
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/null", O_RDONLY), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/null", O_RDWR), EPERM);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDWR), 0);
}

static void test_kernel_max_rules(void **state)
{
	struct kfix *fix = *state;
	struct oci_dev_rule *rules;
	struct timespec t0, t1;

	if (!fix)
		skip();
	rules = calloc(CGROUP_DEV_RULES_MAX, sizeof(*rules));
	assert_non_null(rules);
	/* Deny all, a long run of rules for other majors, and /dev/null last. */
	rules[0] = (struct oci_dev_rule)RULE(false, 'a', -1, -1, "rwm");
	for (size_t i = 1; i < CGROUP_DEV_RULES_MAX - 1; i++)
	{
		rules[i] = (struct oci_dev_rule)RULE(true, i % 2 ? 'c' : 'b',
							(int64_t)(i + 1000), (int64_t)i, "rw");
		if (i % 3 == 0)
			memcpy(rules[i].access, "m", 2);
	}
	rules[CGROUP_DEV_RULES_MAX - 1] = (struct oci_dev_rule)RULE(true, 'c', 1, 3, "rw");
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	apply_or_skip(fix, rules, CGROUP_DEV_RULES_MAX);
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("# %d rules applied in %.1f ms\n", CGROUP_DEV_RULES_MAX,
		      (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			      (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	free(rules);
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/null", O_RDWR), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), EPERM);
}

/* Load an allow-all device program named name (not hull's unless name says so). */
static int load_allow_all(const char *name)
{
	const struct bpf_insn allow[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)allow;
	attr.insn_cnt = 2;
	attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
	(void)snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", name);
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd < 0 && errno == EPERM)
		skip();
	assert_true(fd >= 0);
	return fd;
}

static void attach_raw(struct kfix *fix, int prog_fd, uint32_t flags)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)fix->dirfd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = flags;
	assert_int_equal(syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)), 0);
}

static const struct oci_dev_rule rules_null[] = { RULE(true, 'c', 1, 3, "rw") };
static const struct oci_dev_rule rules_null_zero[] = {
	RULE(true, 'c', 1, 3, "rw"),
	RULE(true, 'c', 1, 5, "rw"),
};

/* Someone else's program in multi mode stays; both must allow. */
static void test_kernel_foreign_program_kept(void **state)
{
	struct kfix *fix = *state;
	int fd;

	if (!fix)
		skip();
	fd = load_allow_all("other");
	attach_raw(fix, fd, BPF_F_ALLOW_MULTI);
	(void)close(fd);
	apply_or_skip(fix, rules_null, 1);
	assert_int_equal(attached_count(fix), 2);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), EPERM);
	apply_or_skip(fix, rules_null_zero, 2);
	assert_int_equal(attached_count(fix), 2);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/full", O_RDONLY), EPERM);
}

/* Several earlier hull programs (say, from an interrupted update): all are replaced. */
static void test_kernel_several_old_programs(void **state)
{
	struct kfix *fix = *state;
	int fd;

	if (!fix)
		skip();
	for (int i = 0; i < 3; i++) {
		fd = load_allow_all(CGROUP_DEV_BPF_PROG_NAME);
		attach_raw(fix, fd, BPF_F_ALLOW_MULTI);
		(void)close(fd);
	}
	assert_int_equal(attached_count(fix), 3);
	apply_or_skip(fix, rules_null, 1);
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/null", O_RDWR), 0);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), EPERM);
}

/* A cgroup in single-program mode: the program there is swapped for ours. */
static void test_kernel_single_mode(void **state)
{
	struct kfix *fix = *state;
	int fd;

	if (!fix)
		skip();
	fd = load_allow_all("other");
	attach_raw(fix, fd, 0);
	(void)close(fd);
	apply_or_skip(fix, rules_null, 1);
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), EPERM);
	apply_or_skip(fix, rules_null_zero, 2);
	assert_int_equal(attached_count(fix), 1);
	assert_int_equal(open_in_cgroup(fix, "/dev/zero", O_RDONLY), 0);
}

/*
 * No gap during replacement: a child in the cgroup keeps opening /dev/full, which neither
 * rule set allows, while the parent replaces the program over and over (BPF_F_REPLACE after
 * the first round, attach-then-detach in the first, which starts from two old programs).
 */
static void test_kernel_no_gap(void **state)
{
	struct kfix *fix = *state;
	int stop[2], res[2], fd, n = 0;
	unsigned long got[2] = { 0, 0 };
	pid_t pid;

	if (!fix)
		skip();
	for (int i = 0; i < 2; i++) {
		fd = load_allow_all(CGROUP_DEV_BPF_PROG_NAME);
		attach_raw(fix, fd, BPF_F_ALLOW_MULTI);
		(void)close(fd);
	}
	apply_or_skip(fix, rules_null, 1);
	fd = load_allow_all(CGROUP_DEV_BPF_PROG_NAME); /* two again: the first round detaches */
	attach_raw(fix, fd, BPF_F_ALLOW_MULTI);
	(void)close(fd);
	assert_int_equal(pipe2(stop, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(res, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned long tries = 0, opened = 0, out[2];
		char c;

		fd = openat(fix->dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(1);
		(void)close(fd);
		(void)close(res[0]);
		if (write(res[1], "r", 1) != 1) /* in the cgroup now */
			_exit(1);
		while (read(stop[0], &c, 1) < 0) {
			fd = open("/dev/full", O_RDONLY | O_CLOEXEC);
			tries++;
			if (fd >= 0) {
				opened++;
				(void)close(fd);
			}
		}
		out[0] = tries;
		out[1] = opened;
		_exit(write(res[1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
	}
	(void)close(res[1]);
	{
		char c;

		assert_int_equal(read(res[0], &c, 1), 1);
	}
	for (n = 0; n < 200; n++)
		apply_or_skip(fix, n % 2 ? rules_null : rules_null_zero, n % 2 ? 1 : 2);
	assert_int_equal(write(stop[1], "x", 1), 1);
	assert_int_equal(read(res[0], got, sizeof(got)), (ssize_t)sizeof(got));
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	(void)close(stop[0]);
	(void)close(stop[1]);
	(void)close(res[0]);
	print_message("# %lu opens of /dev/full during 200 replacements, %lu succeeded\n", got[0],
		      got[1]);
	assert_true(got[0] > 0);
	assert_int_equal(got[1], 0);
	assert_int_equal(attached_count(fix), 1);
}

/* Every shape of rule the generator makes passes the kernel's verifier. */
static void test_kernel_verifier_accepts_random(void **state)
{
	struct oci_dev_rule rules[40];
	struct hull_err err = { 0 };
	unsigned seed = 777;
	int len, fd;

	if (geteuid() != 0)
		skip();
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)(rand_r(&seed) % 41);

		for (size_t i = 0; i < n; i++)
			random_rule(&seed, &rules[i]);
		len = build(rules, n);
		fd = cgroup_devices_bpf_load(prog, (size_t)len, &err);
		if (fd == -EPERM)
			skip();
		if (fd < 0)
			fail_msg("round %d (%zu rules): %s", round, n, err.msg);
		(void)close(fd);
	}
}

/* A program the verifier rejects: the error quotes the verifier. */
static void test_kernel_verifier_error(void **state)
{
	const struct bpf_insn bad_ctx[] = {
		/* r0 = *(u32 *)(r1 + 12): past the end of struct bpf_cgroup_dev_ctx */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 0, .src_reg = 1, .off = 12 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	const struct bpf_insn no_r0[] = { { .code = BPF_JMP | BPF_EXIT } };
	struct hull_err err = { 0 };
	int r;

	if (geteuid() != 0)
		skip();
	r = cgroup_devices_bpf_load(bad_ctx, 2, &err);
	if (r == -EPERM)
		skip();
	assert_true(r < 0);
	print_message("# %s\n", err.msg);
	assert_non_null(strstr(err.msg, "verifier: "));
	assert_non_null(strstr(err.msg, "invalid bpf_context access"));
	r = cgroup_devices_bpf_load(no_r0, 1, &err);
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "R0 !read_ok"));
	assert_int_equal(cgroup_devices_bpf_load(no_r0, 0, &err), -E2BIG);
}

static void test_kernel_bad_fd(void **state)
{
	const struct oci_dev_rule rules[] = { RULE(true, 'c', 1, 3, "rw") };
	struct hull_err err = { 0 };
	int fd, r;

	if (geteuid() != 0)
		skip();
	/* Not a cgroup directory: an error naming the step, nothing attached anywhere. */
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	r = cgroup_devices_bpf_apply(fd, rules, 1, &err);
	(void)close(fd);
	if (r == -EPERM && strstr(err.msg, "BPF_PROG_LOAD"))
		skip();
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "bpf(BPF_PROG_QUERY) on the cgroup"));
}

#define KERNEL_TEST(f) cmocka_unit_test_setup_teardown(f, kernel_setup, kernel_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_denies_all),
		cmocka_unit_test(test_insn_count),
		cmocka_unit_test(test_allow_one_device),
		cmocka_unit_test(test_last_rule_wins),
		cmocka_unit_test(test_deny_partial_access),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_match_all_cuts_dead_code),
		cmocka_unit_test(test_empty_access_matches_nothing),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_rule_limit),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_json_ok),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_json_too_many),
		KERNEL_TEST(test_kernel_enforce_and_replace),
		KERNEL_TEST(test_kernel_max_rules),
		KERNEL_TEST(test_kernel_foreign_program_kept),
		KERNEL_TEST(test_kernel_several_old_programs),
		KERNEL_TEST(test_kernel_single_mode),
		KERNEL_TEST(test_kernel_no_gap),
		cmocka_unit_test(test_kernel_verifier_accepts_random),
		cmocka_unit_test(test_kernel_verifier_error),
		cmocka_unit_test(test_kernel_bad_fd),
	};

	return cmocka_run_group_tests_name("cgroup-devices", tests, NULL, NULL);
}
