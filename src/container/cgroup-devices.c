/*
 * cgroup v2 device controller: an eBPF program built from the OCI device rules.
 * See cgroup-devices.h for the semantics and the replacement strategy.
 */
#include "container/cgroup-devices.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/log.h"

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
/* The kernel keeps at most 64 programs per cgroup and attach type (BPF_CGROUP_MAX_PROGS). */
#define CGROUP_PROGS_MAX 64
#define VERIFIER_LOG_SIZE ((size_t)256 * 1024)

/* ---- rule validation ---------------------------------------------------------------- */

/* Access letters to BPF_DEVCG_ACC_* bits; -1 on a letter outside "rwm". */
static int access_bits(const char *access)
{
	int bits = 0;

	for (const char *p = access; *p; p++) {
		switch (*p) {
		case 'r':
			bits |= BPF_DEVCG_ACC_READ;
			break;
		case 'w':
			bits |= BPF_DEVCG_ACC_WRITE;
			break;
		case 'm':
			bits |= BPF_DEVCG_ACC_MKNOD;
			break;
		default:
			return -1;
		}
	}
	return bits;
}

static bool is_devnum_ok(int64_t v)
{
	return v == -1 || (v >= 0 && v <= (int64_t)UINT32_MAX);
}

int cgroup_dev_rule_check(const struct oci_dev_rule *rule, struct hull_err *err)
{
	if (rule->type != 'a' && rule->type != 'b' && rule->type != 'c') {
		unsigned char t = (unsigned char)rule->type;

		if (isgraph(t))
			return hull_err_setx(err, EINVAL,
					     "type: unknown device type '%c' (want a, b or c)", t);
		return hull_err_setx(err, EINVAL,
				     "type: unknown device type 0x%02x (want a, b or c)", t);
	}
	if (!memchr(rule->access, '\0', sizeof(rule->access)))
		return hull_err_setx(err, EINVAL, "access: not NUL-terminated");
	if (access_bits(rule->access) < 0)
		return hull_err_setx(err, EINVAL, "access: \"%s\" is not a combination of r, w, m",
				     rule->access);
	if (!is_devnum_ok(rule->major))
		return hull_err_setx(err, EINVAL,
				     "major: %" PRId64 " is out of range (-1 or 0..%u)",
				     rule->major, UINT32_MAX);
	if (!is_devnum_ok(rule->minor))
		return hull_err_setx(err, EINVAL,
				     "minor: %" PRId64 " is out of range (-1 or 0..%u)",
				     rule->minor, UINT32_MAX);
	return 0;
}

/* ---- program generation ------------------------------------------------------------- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off,
				   .imm = imm };
}

/*
 * Registers: r1 the context throughout, r2..r4 scratch within one rule's block, r0 the
 * verdict.
 *
 * Shaped for the verifier, which explores every path and keeps a stack of branches still to
 * explore (at most 8192, "The sequence of 8193 jumps is too complex") under a budget of 1M
 * processed instructions:
 *   - One conditional jump per rule. The tests compute a word that is 0 exactly when the
 *     rule matches ((type ^ T) | (access & ~allowed) | (major ^ M) | (minor ^ m)) and a
 *     single "if w3 != 0 goto next rule" follows. A jump per test would leave the other tests'
 *     branches pending on the verifier's stack, three per rule, too many for 4096 rules.
 *   - Each block loads the context fields it tests afresh: the scratch registers are dead at
 *     every block start, so the verifier finds the states there equal and prunes them instead
 *     of carrying "w4 == 1" facts from block to block (which made it quadratic).
 */
enum { R0, R1, R2, R3, R4 };

struct prog {
	struct bpf_insn *insns;
	size_t len, max;
};

static void emit(struct prog *p, struct bpf_insn i)
{
	/* The caller checks the room for a whole block before emitting it. */
	p->insns[p->len++] = i;
}

static struct bpf_insn load_ctx(uint8_t dst, size_t off)
{
	return insn(BPF_LDX | BPF_MEM | BPF_W, dst, R1, (int16_t)off, 0);
}

static struct bpf_insn alu32_k(uint8_t op, uint8_t dst, int32_t imm)
{
	return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}

/* Fold a test's result (0 = match) into w3, the rule's mismatch word. */
static struct bpf_insn fold(uint8_t src, bool first)
{
	return insn(BPF_ALU | (first ? BPF_MOV : BPF_OR) | BPF_X, R3, src, 0, 0);
}

/* How a rule's access test looks: none (matches any request), or a mask test. */
static bool rule_needs_access_test(const struct oci_dev_rule *r)
{
	return access_bits(r->access) != ACC_ALL;
}

static size_t rule_block_len(const struct oci_dev_rule *r)
{
	bool type = r->type != 'a', access = rule_needs_access_test(r);
	bool any = type || access || r->major >= 0 || r->minor >= 0;

	return (type || access) + 3 * type + (access ? (r->allow ? 3 : 5) : 0) +
	       3 * (r->major >= 0) + 3 * (r->minor >= 0) + any + 2;
}

/*
 * One rule: its tests, one jump past the block on a mismatch, then the verdict.
 * access_type is (BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_* (struct bpf_cgroup_dev_ctx).
 * 32-bit ALU throughout, so majors and minors above INT32_MAX compare right.
 */
static void emit_rule(struct prog *p, const struct oci_dev_rule *r)
{
	size_t end = p->len + rule_block_len(r);
	int bits = access_bits(r->access);
	bool type = r->type != 'a', access = rule_needs_access_test(r), first = true;

	if (type || access)
		emit(p, load_ctx(R2, offsetof(struct bpf_cgroup_dev_ctx, access_type)));
	if (type) {
		emit(p, fold(R2, first));
		emit(p, alu32_k(BPF_AND, R3, 0xffff));
		emit(p, alu32_k(BPF_XOR, R3,
				r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
		first = false;
	}
	if (access) {
		emit(p, alu32_k(BPF_RSH, R2, 16));
		if (r->allow) {
			/* allow: every requested access allowed, requested & ~allowed == 0 */
			emit(p, alu32_k(BPF_AND, R2, ACC_ALL & ~bits));
		} else {
			/* deny: any requested access denied; (x - 1) >> 31 is 1 for x == 0 only */
			emit(p, alu32_k(BPF_AND, R2, bits));
			emit(p, alu32_k(BPF_ADD, R2, -1));
			emit(p, alu32_k(BPF_RSH, R2, 31));
		}
		emit(p, fold(R2, first));
		first = false;
	}
	if (r->major >= 0) {
		emit(p, load_ctx(R4, offsetof(struct bpf_cgroup_dev_ctx, major)));
		emit(p, alu32_k(BPF_XOR, R4, (int32_t)(uint32_t)r->major));
		emit(p, fold(R4, first));
		first = false;
	}
	if (r->minor >= 0) {
		emit(p, load_ctx(R4, offsetof(struct bpf_cgroup_dev_ctx, minor)));
		emit(p, alu32_k(BPF_XOR, R4, (int32_t)(uint32_t)r->minor));
		emit(p, fold(R4, first));
		first = false;
	}
	if (!first)
		emit(p, insn(BPF_JMP32 | BPF_JNE | BPF_K, R3, 0, (int16_t)(end - (p->len + 1)), 0));
	emit(p, insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, r->allow ? 1 : 0));
	emit(p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

/* A rule whose block has no test matches every request: nothing before it can matter. */
static bool rule_matches_all(const struct oci_dev_rule *r)
{
	return rule_block_len(r) == 2;
}

static int nospace(size_t max_insns, struct hull_err *err)
{
	return hull_err_setx(err, ENOSPC, "device program: %zu instructions are not enough",
			     max_insns);
}

int cgroup_devices_bpf_build(const struct oci_dev_rule *rules, size_t n,
			     struct bpf_insn *insns, size_t max_insns, struct hull_err *err)
{
	struct prog p = { .insns = insns, .len = 0, .max = max_insns };
	size_t i;
	int r;

	if (n > CGROUP_DEV_RULES_MAX)
		return hull_err_setx(err, E2BIG, "%zu device rules, at most %d are supported", n,
				     CGROUP_DEV_RULES_MAX);
	for (i = 0; i < n; i++) {
		r = cgroup_dev_rule_check(&rules[i], err);
		if (r < 0)
			return hull_err_prefix(err, "device rule %zu", i);
	}
	if (max_insns < CGROUP_DEV_BPF_INSNS(0))
		return nospace(max_insns, err);

	/*
	 * The last matching rule wins, so test the rules from the last one back: the first hit
	 * decides. A rule that matches everything ends the program; the rules before it (and the
	 * default deny) would be dead code, which the verifier rejects ("unreachable insn").
	 */
	for (i = n; i-- > 0;) {
		if (!rules[i].access[0])
			continue; /* matches nothing */
		if (p.len + rule_block_len(&rules[i]) + 2 > p.max)
			return nospace(max_insns, err);
		emit_rule(&p, &rules[i]);
		if (rule_matches_all(&rules[i]))
			return (int)p.len;
	}
	emit(&p, insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0));
	emit(&p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	return (int)p.len;
}

const char *cgroup_dev_rule_to_v1(const struct oci_dev_rule *rule, char *buf, size_t len)
{
	char maj[16] = "*", min[16] = "*";

	if (rule->major >= 0)
		(void)snprintf(maj, sizeof(maj), "%" PRId64, rule->major);
	if (rule->minor >= 0)
		(void)snprintf(min, sizeof(min), "%" PRId64, rule->minor);
	(void)snprintf(buf, len, "%c %s:%s %s", rule->type, maj, min, rule->access);
	return buf;
}

/* ---- the kernel side: bpf(2) -------------------------------------------------------- */

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	/* glibc has no wrapper; the size argument lets the kernel reject unknown fields. */
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* Cut the verifier log to "first line ... last meaningful line" for a one-line error. */
static void verifier_summary(char *log, char *out, size_t len)
{
	char *first, *last = NULL, *line, *save = NULL;

	first = strtok_r(log, "\n", &save);
	for (line = first; line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "processed ", 10) != 0 && line[0])
			last = line;
	if (!first)
		(void)snprintf(out, len, "(empty verifier log)");
	else if (last && last != first)
		(void)snprintf(out, len, "%s ... %s", first, last);
	else
		(void)snprintf(out, len, "%s", first);
}

int cgroup_devices_bpf_load(const struct bpf_insn *insns, size_t n, struct hull_err *err)
{
	union bpf_attr attr;
	cleanup_free char *log = NULL;
	char summary[512];
	int fd, saved;

	if (n == 0 || n > CGROUP_DEV_BPF_INSNS_MAX)
		return hull_err_setx(err, E2BIG, "device program: %zu instructions (1..%zu)", n,
				     CGROUP_DEV_BPF_INSNS_MAX);
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n;
	/* No GPL-only helpers are called, so any license string loads. */
	attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
	(void)snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", CGROUP_DEV_BPF_PROG_NAME);
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;
	saved = errno;
	/* No privilege or no memory: the verifier has nothing to say. */
	if (saved == EPERM || saved == ENOMEM || saved == ENOSYS)
		return hull_err_set(err, saved, "bpf(BPF_PROG_LOAD) of the device program");

	/*
	 * Load again with a log only now: a verbose verifier run costs time on every start.
	 * Report the first attempt's errno: a log that overflows the buffer turns the second
	 * one into ENOSPC on older kernels. Kernels before 6.4 keep the head of a long log,
	 * later ones the tail, so the summary shows both ends.
	 */
	log = xcalloc(1, VERIFIER_LOG_SIZE);
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = VERIFIER_LOG_SIZE;
	attr.log_level = 1;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd; /* the first failure was transient */
	log[VERIFIER_LOG_SIZE - 1] = '\0';
	verifier_summary(log, summary, sizeof(summary));
	return hull_err_setx(err, saved,
			     "bpf(BPF_PROG_LOAD) of the device program (%zu insns): %s: "
			     "verifier: %s",
			     n, strerror(saved), summary);
}

/*
 * An attached program's fd from its id if it is one of hull's device programs; -ENOENT if it
 * is not, or went away meanwhile; another -errno when the kernel will not say (then hull
 * cannot tell its programs from others', and must not pile up new ones).
 */
static int hull_prog_fd_by_id(uint32_t id)
{
	cleanup_close int fd = -1;
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return -errno; /* ENOENT: detached meanwhile, nothing to replace */
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
		return -errno;
	if (info.type != BPF_PROG_TYPE_CGROUP_DEVICE ||
	    strncmp(info.name, CGROUP_DEV_BPF_PROG_NAME, sizeof(info.name)) != 0)
		return -ENOENT;
	return steal_fd(&fd);
}

struct attached {
	uint32_t flags;                      /* the cgroup's attach mode for BPF_CGROUP_DEVICE */
	size_t n_progs;                      /* all programs attached there */
	int hull_fds[CGROUP_PROGS_MAX];      /* hull's among them */
	size_t n_hull;
};

static void attached_clear(struct attached *a)
{
	for (size_t i = 0; i < a->n_hull; i++)
		(void)close(a->hull_fds[i]);
	a->n_hull = 0;
}

static int query_attached(int cgroup_dirfd, struct attached *a, struct hull_err *err)
{
	uint32_t ids[CGROUP_PROGS_MAX];
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgroup_dirfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = CGROUP_PROGS_MAX;
	if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
		return hull_err_set(err, errno, "bpf(BPF_PROG_QUERY) on the cgroup");
	a->flags = attr.query.attach_flags;
	a->n_progs = attr.query.prog_cnt;
	if (a->n_progs > CGROUP_PROGS_MAX)
		a->n_progs = CGROUP_PROGS_MAX;
	for (size_t i = 0; i < a->n_progs; i++) {
		fd = hull_prog_fd_by_id(ids[i]);
		if (fd >= 0)
			a->hull_fds[a->n_hull++] = fd;
		else if (fd != -ENOENT)
			return hull_err_set(err, -fd, "bpf: looking at the cgroup's device program %u",
					    ids[i]);
	}
	return 0;
}

static int prog_attach(int cgroup_dirfd, int prog_fd, uint32_t flags, int replace_fd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_dirfd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = flags;
	if (replace_fd >= 0)
		attr.replace_bpf_fd = (uint32_t)replace_fd;
	return sys_bpf(BPF_PROG_ATTACH, &attr) < 0 ? -errno : 0;
}

static int prog_detach(int cgroup_dirfd, int prog_fd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_dirfd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	return sys_bpf(BPF_PROG_DETACH, &attr) < 0 ? -errno : 0;
}

/* Swap prog_fd in for hull's earlier programs; see cgroup-devices.h for the order. */
static int attach_replacing(int cgroup_dirfd, int prog_fd, struct attached *a,
			    struct hull_err *err)
{
	int r;

	if (a->n_progs > 0 && !(a->flags & BPF_F_ALLOW_MULTI)) {
		/* Single-program mode: attaching with the same flags replaces it in place. */
		r = prog_attach(cgroup_dirfd, prog_fd, a->flags, -1);
		if (r < 0)
			return hull_err_set(err, -r,
					    "bpf(BPF_PROG_ATTACH) replacing the device program");
		return 0;
	}
	if (a->n_hull == 1) {
		r = prog_attach(cgroup_dirfd, prog_fd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE,
				a->hull_fds[0]);
		if (r == 0)
			return 0;
		/* EINVAL: a kernel before 5.6 without BPF_F_REPLACE; ENOENT: detached meanwhile. */
		if (r != -EINVAL && r != -ENOENT)
			return hull_err_set(err, -r,
					    "bpf(BPF_PROG_ATTACH, BPF_F_REPLACE) of the device "
					    "program");
		log_debug("cgroup devices: BPF_F_REPLACE failed (%s), attach then detach",
			  strerror(-r));
	}
	r = prog_attach(cgroup_dirfd, prog_fd, BPF_F_ALLOW_MULTI, -1);
	if (r < 0)
		return hull_err_set(err, -r, "bpf(BPF_PROG_ATTACH) of the device program");
	for (size_t i = 0; i < a->n_hull; i++) {
		r = prog_detach(cgroup_dirfd, a->hull_fds[i]);
		/* ENOENT: already gone (replaced above, or by a concurrent update). */
		if (r < 0 && r != -ENOENT)
			return hull_err_set(err, -r,
					    "bpf(BPF_PROG_DETACH) of the previous device program "
					    "(the new one is attached; both apply)");
	}
	return 0;
}

int cgroup_devices_bpf_apply(int cgroup_dirfd, const struct oci_dev_rule *rules, size_t n,
			     struct hull_err *err)
{
	cleanup_free struct bpf_insn *insns = NULL;
	cleanup_close int prog_fd = -1;
	struct attached a = { 0 };
	size_t max;
	int len, r;

	if (n > CGROUP_DEV_RULES_MAX)
		return hull_err_setx(err, E2BIG, "%zu device rules, at most %d are supported", n,
				     CGROUP_DEV_RULES_MAX);
	max = CGROUP_DEV_BPF_INSNS(n);
	insns = xcalloc(max, sizeof(*insns));
	len = cgroup_devices_bpf_build(rules, n, insns, max, err);
	if (len < 0)
		return len;
	prog_fd = cgroup_devices_bpf_load(insns, (size_t)len, err);
	if (prog_fd < 0)
		return prog_fd;
	r = query_attached(cgroup_dirfd, &a, err);
	if (r == 0)
		r = attach_replacing(cgroup_dirfd, prog_fd, &a, err);
	attached_clear(&a);
	/* The cgroup now holds the program; our fd can go. */
	return r;
}
