/*
 * cgroup v2 device controller: an eBPF program built from the OCI device rules.
 * See cgroup-devices.h for the semantics and the replacement strategy.
 */
#include "container/cgroup-devices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"

#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)
/* The kernel keeps at most 64 programs per cgroup and attach type (BPF_CGROUP_MAX_PROGS). */
#define CGROUP_PROGS_MAX 64
#define VERIFIER_LOG_SIZE (256 * 1024)

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

int cgroup_dev_rule_check(const struct cgroup_dev_rule *rule, struct hull_err *err)
{
	if (rule->type != 'a' && rule->type != 'b' && rule->type != 'c')
		return hull_err_setx(err, EINVAL, "type: unknown device type '%c' (want a, b or c)",
				     rule->type ? rule->type : '?');
	if (!memchr(rule->access, '\0', sizeof(rule->access)))
		return hull_err_setx(err, EINVAL, "access: not NUL-terminated");
	if (access_bits(rule->access) < 0)
		return hull_err_setx(err, EINVAL, "access: \"%s\" is not a combination of r, w, m",
				     rule->access);
	if (!is_devnum_ok(rule->major))
		return hull_err_setx(err, EINVAL, "major: %" PRId64 " is out of range (-1 or 0..%u)",
				     rule->major, UINT32_MAX);
	if (!is_devnum_ok(rule->minor))
		return hull_err_setx(err, EINVAL, "minor: %" PRId64 " is out of range (-1 or 0..%u)",
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
 * Registers: r1 ctx (free after the prologue, then scratch), r2 device type, r3 requested
 * access, r4 major, r5 minor, r0 the verdict.
 */
enum { R0, R1, R2, R3, R4, R5 };

struct prog {
	struct bpf_insn *insns;
	size_t len, max;
};

static void emit(struct prog *p, struct bpf_insn i)
{
	/* The caller checks the room for a whole block before emitting it. */
	p->insns[p->len++] = i;
}

static void emit_prologue(struct prog *p)
{
	emit(p, insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1,
		     offsetof(struct bpf_cgroup_dev_ctx, access_type), 0));
	emit(p, insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R2, 0, 0));
	emit(p, insn(BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16));
	emit(p, insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff));
	emit(p, insn(BPF_LDX | BPF_MEM | BPF_W, R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major),
		     0));
	emit(p, insn(BPF_LDX | BPF_MEM | BPF_W, R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor),
		     0));
}

/* How a rule's access test looks: none (matches any request), or a mask test. */
static bool rule_needs_access_test(const struct cgroup_dev_rule *r)
{
	return access_bits(r->access) != ACC_ALL;
}

static size_t rule_block_len(const struct cgroup_dev_rule *r)
{
	return (r->type != 'a') + 3 * rule_needs_access_test(r) + (r->major >= 0) +
	       (r->minor >= 0) + 2;
}

/*
 * One rule: a chain of tests that each jump past the block on a mismatch, then the verdict.
 * JMP32 compares the low 32 bits, so majors and minors above INT32_MAX work too.
 */
static void emit_rule(struct prog *p, const struct cgroup_dev_rule *r)
{
	size_t end = p->len + rule_block_len(r);
	int bits = access_bits(r->access);

#define SKIP_OFF() ((int16_t)(end - (p->len + 1)))
	if (r->type != 'a')
		emit(p, insn(BPF_JMP32 | BPF_JNE | BPF_K, R2, 0, SKIP_OFF(),
			     r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
	if (rule_needs_access_test(r)) {
		emit(p, insn(BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0));
		if (r->allow) {
			/* requested & ~allowed must be empty */
			emit(p, insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, ACC_ALL & ~bits));
			emit(p, insn(BPF_JMP32 | BPF_JNE | BPF_K, R1, 0, SKIP_OFF(), 0));
		} else {
			/* requested & denied must not be empty */
			emit(p, insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, bits));
			emit(p, insn(BPF_JMP32 | BPF_JEQ | BPF_K, R1, 0, SKIP_OFF(), 0));
		}
	}
	if (r->major >= 0)
		emit(p, insn(BPF_JMP32 | BPF_JNE | BPF_K, R4, 0, SKIP_OFF(), (int32_t)(uint32_t)r->major));
	if (r->minor >= 0)
		emit(p, insn(BPF_JMP32 | BPF_JNE | BPF_K, R5, 0, SKIP_OFF(), (int32_t)(uint32_t)r->minor));
#undef SKIP_OFF
	emit(p, insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, r->allow ? 1 : 0));
	emit(p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

/* A rule whose block has no test matches every request: nothing before it can matter. */
static bool rule_matches_all(const struct cgroup_dev_rule *r)
{
	return rule_block_len(r) == 2;
}

int cgroup_devices_bpf_build(const struct cgroup_dev_rule *rules, size_t n,
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
		goto nospace;

	emit_prologue(&p);
	/*
	 * The last matching rule wins, so test the rules from the last one back: the first hit
	 * decides. A rule that matches everything ends the program; the rules before it (and the
	 * default deny) would be dead code, which the verifier rejects ("unreachable insn").
	 */
	for (i = n; i-- > 0;) {
		if (!rules[i].access[0])
			continue; /* matches nothing */
		if (p.len + rule_block_len(&rules[i]) + 2 > p.max)
			goto nospace;
		emit_rule(&p, &rules[i]);
		if (rule_matches_all(&rules[i]))
			return (int)p.len;
	}
	emit(&p, insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0));
	emit(&p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	return (int)p.len;

nospace:
	return hull_err_setx(err, ENOSPC, "device program: %zu instructions are not enough",
			     max_insns);
}

/* ---- JSON --------------------------------------------------------------------------- */

int cgroup_dev_rule_from_json(json_t *item, const char *where, struct cgroup_dev_rule *ret,
			      struct hull_err *err)
{
	struct cgroup_dev_rule rule = { .type = 'a', .major = -1, .minor = -1 };
	const char *type = NULL, *access = NULL;
	int bits, r;

	if (!json_is_object(item))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", where,
				     hjson_type_name(item));
	r = hjson_get_bool(item, "allow", where, true, &rule.allow, err);
	if (r >= 0)
		r = hjson_get_str(item, "type", where, false, &type, err);
	if (r >= 0)
		r = hjson_get_int(item, "major", where, false, -1, UINT32_MAX, &rule.major, err);
	if (r >= 0)
		r = hjson_get_int(item, "minor", where, false, -1, UINT32_MAX, &rule.minor, err);
	if (r >= 0)
		r = hjson_get_str(item, "access", where, false, &access, err);
	if (r < 0)
		return r;

	if (type) {
		if (strcmp(type, "a") && strcmp(type, "b") && strcmp(type, "c"))
			return hull_err_setx(err, EINVAL,
					     "%s.type: unknown device type \"%s\" (want a, b or c)",
					     where, type);
		rule.type = type[0];
	}
	if (access) {
		bits = access_bits(access);
		if (bits < 0 || strlen(access) > 3)
			return hull_err_setx(err, EINVAL,
					     "%s.access: \"%s\" is not a combination of r, w, m",
					     where, access);
		(void)snprintf(rule.access, sizeof(rule.access), "%s%s%s",
			       bits & BPF_DEVCG_ACC_READ ? "r" : "",
			       bits & BPF_DEVCG_ACC_WRITE ? "w" : "",
			       bits & BPF_DEVCG_ACC_MKNOD ? "m" : "");
	}
	*ret = rule;
	return 0;
}

int cgroup_dev_rules_from_json(json_t *arr, const char *where, struct cgroup_dev_rule **ret_rules,
			       size_t *ret_n, struct hull_err *err)
{
	cleanup_free struct cgroup_dev_rule *rules = NULL;
	char w[256];
	size_t i, n;
	json_t *item;
	int r;

	if (arr && !json_is_array(arr))
		return hull_err_setx(err, EINVAL, "%s: expected an array, got %s", where,
				     hjson_type_name(arr));
	n = arr ? json_array_size(arr) : 0;
	if (n > CGROUP_DEV_RULES_MAX)
		return hull_err_setx(err, E2BIG, "%s: %zu rules, at most %d are supported", where, n,
				     CGROUP_DEV_RULES_MAX);
	rules = xcalloc(n ? n : 1, sizeof(*rules));
	json_array_foreach(arr, i, item) {
		(void)snprintf(w, sizeof(w), "%s[%zu]", where, i);
		r = cgroup_dev_rule_from_json(item, w, &rules[i], err);
		if (r < 0)
			return r;
	}
	*ret_rules = steal_ptr(&rules);
	*ret_n = n;
	return 0;
}

const char *cgroup_dev_rule_to_v1(const struct cgroup_dev_rule *rule, char *buf, size_t len)
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

static int prog_load(const struct bpf_insn *insns, size_t n, struct hull_err *err)
{
	union bpf_attr attr;
	cleanup_free char *log = NULL;
	char summary[512];
	int fd, saved;

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
	if (saved != EINVAL && saved != EACCES)
		return hull_err_set(err, saved, "bpf(BPF_PROG_LOAD) of the device program");

	/* Load again with a log only now: a verbose verifier run costs time on every start. */
	log = xcalloc(1, VERIFIER_LOG_SIZE);
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = VERIFIER_LOG_SIZE;
	attr.log_level = 1;
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd; /* should not happen; take it */
	saved = errno;
	log[VERIFIER_LOG_SIZE - 1] = '\0';
	verifier_summary(log, summary, sizeof(summary));
	return hull_err_setx(err, saved, "bpf(BPF_PROG_LOAD) of the device program (%zu insns): %s: %s",
			     n, strerror(saved), summary);
}

/* An attached program's fd from its id, if it is one of hull's device programs; else -1. */
static int hull_prog_fd_by_id(uint32_t id)
{
	cleanup_close int fd = -1;
	struct bpf_prog_info info;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return -1; /* detached meanwhile: nothing to replace */
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
		return -1;
	if (info.type != BPF_PROG_TYPE_CGROUP_DEVICE ||
	    strncmp(info.name, CGROUP_DEV_BPF_PROG_NAME, sizeof(info.name)) != 0)
		return -1;
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
	a->n_progs = attr.query.prog_cnt < CGROUP_PROGS_MAX ? attr.query.prog_cnt : CGROUP_PROGS_MAX;
	for (size_t i = 0; i < a->n_progs; i++) {
		fd = hull_prog_fd_by_id(ids[i]);
		if (fd >= 0)
			a->hull_fds[a->n_hull++] = fd;
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
			return hull_err_set(err, -r, "bpf(BPF_PROG_ATTACH) replacing the device program");
		return 0;
	}
	if (a->n_hull == 1) {
		r = prog_attach(cgroup_dirfd, prog_fd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE,
				a->hull_fds[0]);
		if (r == 0)
			return 0;
		/* EINVAL: a kernel before 5.6 without BPF_F_REPLACE; ENOENT: detached meanwhile. */
		if (r != -EINVAL && r != -ENOENT)
			return hull_err_set(err, -r, "bpf(BPF_PROG_ATTACH, BPF_F_REPLACE) of the device program");
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

int cgroup_devices_bpf_apply(int cgroup_dirfd, const struct cgroup_dev_rule *rules, size_t n,
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
	prog_fd = prog_load(insns, (size_t)len, err);
	if (prog_fd < 0)
		return prog_fd;
	r = query_attached(cgroup_dirfd, &a, err);
	if (r < 0)
		return r;
	r = attach_replacing(cgroup_dirfd, prog_fd, &a, err);
	attached_clear(&a);
	/* The cgroup now holds the program; our fd can go. */
	return r;
}
