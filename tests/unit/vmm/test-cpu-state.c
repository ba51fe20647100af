/*
 * The x86 vCPU and platform sections of the state stream (x86/cpu-state.c) and the snapshot
 * directory's files as a restore reads them (snapshot.c, snapshot-restore.c), without KVM:
 * round trips of seeded random states, the decoder's refusals (unknown, repeated, missing
 * records, bad lengths, a version from the future), and seeded random truncations and byte
 * flips of whole snapshot files, each refused with an error naming the file, before any KVM.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <endian.h>
#include <zlib.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/fd.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"
#include "vmm/vmm.h"
#include "vmm/x86/cpu-state.h"

static void fill_random(void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rand();
}

static struct x86_vcpu_state *random_vcpu(bool sregs2, bool xsave)
{
	struct x86_vcpu_state *s = xcalloc(1, sizeof(*s));

	fill_random(&s->regs, sizeof(s->regs));
	fill_random(sregs2 ? (void *)&s->sregs2 : (void *)&s->sregs,
		    sregs2 ? sizeof(s->sregs2) : sizeof(s->sregs));
	fill_random(&s->lapic, sizeof(s->lapic));
	fill_random(&s->events, sizeof(s->events));
	fill_random(&s->mp_state, sizeof(s->mp_state));
	fill_random(&s->xcrs, sizeof(s->xcrs));
	fill_random(&s->debugregs, sizeof(s->debugregs));
	s->n_msrs = (uint32_t)rand() % 300;
	fill_random(s->msrs, s->n_msrs * sizeof(s->msrs[0]));
	s->have = 1U << X86_REC_REGS | 1U << X86_REC_LAPIC | 1U << X86_REC_EVENTS |
		  1U << X86_REC_MP_STATE | 1U << X86_REC_MSRS | 1U << X86_REC_XCRS |
		  1U << X86_REC_DEBUGREGS | 1U << (sregs2 ? X86_REC_SREGS2 : X86_REC_SREGS);
	if (xsave) {
		s->xsave_len = 4096 + 64 * ((uint32_t)rand() % 120);
		fill_random(s->xsave, s->xsave_len);
		s->have |= 1U << X86_REC_XSAVE;
	} else {
		fill_random(&s->fpu, sizeof(s->fpu));
		s->have |= 1U << X86_REC_FPU;
	}
	return s;
}

/* The section's payload reader out of a finished stream of one section. */
static void one_section(struct state_writer *w, struct state_reader *sec, uint32_t *id)
{
	struct state_reader r;
	uint32_t idx;

	assert_int_equal(state_writer_finish(w), 0);
	assert_int_equal(state_reader_init(&r, w->buf, w->len), 0);
	assert_int_equal(state_next_section(&r, id, &idx, sec), 1);
}

static void assert_vcpu_equal(const struct x86_vcpu_state *a, const struct x86_vcpu_state *b)
{
	assert_int_equal(a->have, b->have);
	assert_memory_equal(&a->regs, &b->regs, sizeof(a->regs));
	if (a->have & (1U << X86_REC_SREGS2))
		assert_memory_equal(&a->sregs2, &b->sregs2, sizeof(a->sregs2));
	else
		assert_memory_equal(&a->sregs, &b->sregs, sizeof(a->sregs));
	assert_memory_equal(&a->lapic, &b->lapic, sizeof(a->lapic));
	assert_memory_equal(&a->events, &b->events, sizeof(a->events));
	assert_int_equal(a->n_msrs, b->n_msrs);
	assert_memory_equal(a->msrs, b->msrs, a->n_msrs * sizeof(a->msrs[0]) + 1);
	if (a->have & (1U << X86_REC_XSAVE)) {
		assert_int_equal(a->xsave_len, b->xsave_len);
		assert_memory_equal(a->xsave, b->xsave, a->xsave_len);
	} else {
		assert_memory_equal(&a->fpu, &b->fpu, sizeof(a->fpu));
	}
}

static void test_vcpu_round_trip(void **state)
{
	(void)state;
	srand(17);
	for (int i = 0; i < 40; i++) {
		struct x86_vcpu_state *a = random_vcpu(i & 1, i & 2);
		struct x86_vcpu_state *b = xcalloc(1, sizeof(*b));
		struct state_writer w;
		struct state_reader sec;
		uint32_t id = 0;

		state_writer_init(&w);
		x86_vcpu_state_encode(a, (unsigned)i, &w);
		one_section(&w, &sec, &id);
		assert_int_equal(id, X86_STATE_VCPU);
		assert_int_equal(x86_vcpu_state_decode(&sec, b), 0);
		assert_vcpu_equal(a, b);
		state_writer_release(&w);
		free(a);
		free(b);
	}
}

static void test_platform_round_trip(void **state)
{
	struct x86_platform_state a, b;
	struct state_writer w;
	struct state_reader sec;
	uint32_t id = 0;

	(void)state;
	srand(18);
	fill_random(&a, sizeof(a));
	for (uint32_t i = 0; i < 3; i++)
		a.chip[i].chip_id = i;
	state_writer_init(&w);
	x86_platform_state_encode(&a, &w);
	one_section(&w, &sec, &id);
	assert_int_equal(id, X86_STATE_PLATFORM);
	assert_int_equal(x86_platform_state_decode(&sec, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* swapped chips: refused */
	a.chip[0].chip_id = 2;
	a.chip[2].chip_id = 0;
	state_writer_release(&w);
	state_writer_init(&w);
	x86_platform_state_encode(&a, &w);
	one_section(&w, &sec, &id);
	assert_int_equal(x86_platform_state_decode(&sec, &b), -EBADMSG);
	state_writer_release(&w);
}

/* A payload built by hand: version, then (tag, len, bytes of value 0) records. */
static int decode_records(uint32_t version, const uint32_t (*recs)[2], size_t n)
{
	struct x86_vcpu_state *s = xcalloc(1, sizeof(*s));
	struct state_writer w;
	struct state_reader sec;
	uint8_t *zero = xcalloc(1, X86_XSAVE_MAX + 16);
	uint32_t id;
	int r;

	state_writer_init(&w);
	state_begin(&w, X86_STATE_VCPU, 0);
	state_put_u32(&w, version);
	for (size_t i = 0; i < n; i++) {
		state_put_u32(&w, recs[i][0]);
		state_put_u32(&w, recs[i][1]);
		state_put_bytes(&w, zero, recs[i][1] > X86_XSAVE_MAX ? 0 : recs[i][1]);
	}
	state_end(&w);
	one_section(&w, &sec, &id);
	r = x86_vcpu_state_decode(&sec, s);
	state_writer_release(&w);
	free(zero);
	free(s);
	return r;
}

#define REC(t, type) { t, sizeof(type) }

static void test_vcpu_refusals(void **state)
{
	uint32_t good[][2] = {
		REC(X86_REC_MP_STATE, struct kvm_mp_state), REC(X86_REC_REGS, struct kvm_regs),
		REC(X86_REC_SREGS, struct kvm_sregs), REC(X86_REC_FPU, struct kvm_fpu),
		REC(X86_REC_LAPIC, struct kvm_lapic_state),
		REC(X86_REC_EVENTS, struct kvm_vcpu_events), { X86_REC_MSRS, 32 },
	};
	uint32_t recs[16][2];
	const size_t n = sizeof(good) / sizeof(good[0]);

	(void)state;
	assert_int_equal(decode_records(X86_STATE_VERSION, good, n), 0);
	assert_int_equal(decode_records(X86_STATE_VERSION + 1, good, n), -EPROTONOSUPPORT);
	assert_int_equal(decode_records(0, good, n), -EBADMSG);
	/* each required record missing in turn */
	for (size_t skip = 0; skip < n; skip++) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (i != skip)
				memcpy(recs[k++], good[i], sizeof(good[i]));
		assert_int_equal(decode_records(X86_STATE_VERSION, recs, k), -EBADMSG);
	}
	/* each record one byte short, one byte long, repeated; an unknown tag */
	for (size_t i = 0; i < n; i++) {
		memcpy(recs, good, sizeof(good));
		recs[i][1] -= 1;
		assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), -EBADMSG);
		recs[i][1] += 2;
		assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), -EBADMSG);
		memcpy(recs, good, sizeof(good));
		memcpy(recs[n], good[i], sizeof(good[i]));
		assert_int_equal(decode_records(X86_STATE_VERSION, recs, n + 1), -EBADMSG);
	}
	memcpy(recs, good, sizeof(good));
	recs[n][0] = X86_REC_VCPU_COUNT;
	recs[n][1] = 4;
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n + 1), -EBADMSG);
	/* both sregs kinds; an XSAVE area too small, too large, beside the FPU */
	memcpy(recs, good, sizeof(good));
	recs[n][0] = X86_REC_SREGS2;
	recs[n][1] = sizeof(struct kvm_sregs2);
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n + 1), -EBADMSG);
	recs[n][0] = X86_REC_XSAVE;
	recs[n][1] = 4096;
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n + 1), -EBADMSG);
	recs[3][0] = X86_REC_XSAVE;
	recs[3][1] = 4092;
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), -EBADMSG);
	recs[3][1] = X86_XSAVE_MAX + 4; /* its bytes are not there either */
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), -EBADMSG);
	recs[3][1] = 8192;
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), 0);
	/* MSRs: not a whole number of entries, or more than the bound */
	memcpy(recs, good, sizeof(good));
	recs[6][1] = 24;
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), -EBADMSG);
	recs[6][1] = (X86_MSRS_MAX + 1) * 16;
	assert_int_equal(decode_records(X86_STATE_VERSION, recs, n), -EBADMSG);
}

/* Truncations and byte flips of a payload (CRC left aside): refused or accepted, never a crash. */
static void test_vcpu_mutations(void **state)
{
	struct x86_vcpu_state *a, *b = xcalloc(1, sizeof(*b));
	struct state_writer w;
	struct state_reader sec, m;
	uint32_t id;
	uint8_t *copy;

	(void)state;
	srand(19);
	a = random_vcpu(true, true);
	state_writer_init(&w);
	x86_vcpu_state_encode(a, 0, &w);
	one_section(&w, &sec, &id);
	copy = xmalloc(sec.len);
	for (int i = 0; i < 3000; i++) {
		size_t len = sec.len;

		memcpy(copy, sec.p, sec.len);
		if (i % 2)
			len = (size_t)rand() % sec.len; /* truncated: always refused */
		else
			for (int f = 0; f < 1 + rand() % 4; f++)
				copy[(size_t)rand() % 64] ^= (uint8_t)(1 + rand() % 255);
		m = (struct state_reader){ .p = copy, .len = len };
		if (i % 2)
			assert_int_equal(x86_vcpu_state_decode(&m, b), -EBADMSG);
		else
			(void)x86_vcpu_state_decode(&m, b);
	}
	free(copy);
	state_writer_release(&w);
	free(a);
	free(b);
}

/* A snapshot directory of a 1-vCPU raw guest with no devices that have state of their own. */
static void snap_dir(char *dir, size_t n, uint8_t **ret_state, size_t *ret_len)
{
	struct x86_platform_state p = { 0 };
	struct x86_vcpu_state *v = random_vcpu(true, false);
	struct state_writer w;
	char path[512];
	int fd;
	const char *conf = "{\"version\":1,\"cpus\":1,\"memory\":2097152,\"raw\":true,"
			   "\"console\":\"serial\",\"rng\":false,\"shutdown_timeout\":30,"
			   "\"disks\":[],\"nets\":[]}";

	(void)snprintf(dir, n, "/tmp/hull-test-snap.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (uint32_t i = 0; i < 3; i++)
		p.chip[i].chip_id = i;
	state_writer_init(&w);
	x86_platform_state_encode(&p, &w);
	x86_vcpu_state_encode(v, 0, &w);
	assert_int_equal(state_writer_finish(&w), 0);
	state_put_u32(&w, (uint32_t)crc32(0L, w.buf, (uInt)w.len)); /* the file's CRC */
	(void)snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, path, w.buf, w.len, 0600), 0);
	(void)snprintf(path, sizeof(path), "%s/config.json", dir);
	assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, path, conf, strlen(conf), 0600), 0);
	(void)snprintf(path, sizeof(path), "%s/memory", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && ftruncate(fd, 2 << 20) == 0);
	close(fd);
	*ret_state = xmalloc(w.len);
	memcpy(*ret_state, w.buf, w.len);
	*ret_len = w.len;
	state_writer_release(&w);
	free(v);
}

static void rm_dir(const char *dir)
{
	static const char *const names[] = { "state", "config.json", "memory" };
	char path[512];

	for (size_t i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	assert_int_equal(rmdir(dir), 0);
}

static void test_state_file_checked(void **state)
{
	char dir[64], path[512];
	uint8_t *good, *bad;
	uint8_t *buf = NULL;
	size_t len, blen = 0;
	struct hull_err err = { 0 };

	(void)state;
	srand(20);
	snap_dir(dir, sizeof(dir), &good, &len);
	(void)snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(snapshot_state_check(dir, &buf, &blen, &err), 0);
	assert_int_equal(blen, len - 4); /* the stream, without the file's CRC */
	free(buf);
	bad = xmalloc(len);
	for (int i = 0; i < 400; i++) {
		size_t n = len;

		memcpy(bad, good, len);
		if (i % 2) {
			n = (size_t)rand() % len;
		} else {
			size_t at = (size_t)rand() % len;

			bad[at] ^= (uint8_t)(1 + rand() % 255);
		}
		assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, path, bad, n, 0600), 0);
		memset(&err, 0, sizeof(err));
		buf = NULL;
		/* the file's CRC covers every byte, the sections' ids too */
		assert_true(snapshot_state_check(dir, &buf, &blen, &err) < 0);
		assert_null(buf);
		assert_non_null(strstr(err.msg, path));
		assert_null(strchr(err.msg, '\n'));
	}
	/* a version from the future, with the file's CRC made right */
	memcpy(bad, good, len);
	bad[8] = VM_STATE_VERSION + 1;
	{
		uint32_t sum = htole32((uint32_t)crc32(0L, bad, (uInt)(len - 4)));

		memcpy(bad + len - 4, &sum, 4);
	}
	assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, path, bad, len, 0600), 0);
	assert_int_equal(snapshot_state_check(dir, &buf, &blen, &err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "newer hull"));
	free(bad);
	free(good);
	rm_dir(dir);
}

/* vmm_restore refuses a bad config.json or state before it needs KVM. */
static void test_restore_refuses_before_kvm(void **state)
{
	static const struct {
		const char *conf;
		const char *want;
	} cases[] = {
		{ "{\"version\":2,\"cpus\":1}", "newer hull" },
		{ "{\"version\":1,\"cpus\":0,\"memory\":1}", "cpus" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"version\":1,\"cpus\":1,\"memory\":2097152,\"raw\":true,\"console\":\"tty\","
		  "\"rng\":false,\"shutdown_timeout\":30,\"disks\":[],\"nets\":[]}", "console" },
		{ "{\"version\":1,\"cpus\":1,\"memory\":2097152,\"raw\":true,\"console\":\"serial\","
		  "\"rng\":false,\"shutdown_timeout\":30,\"disks\":[{\"path\":\"/x\",\"readonly\":true,"
		  "\"format\":\"auto\"}],\"nets\":[]}", "format" },
		{ "{\"version\":1,", "config.json" },
	};
	char dir[64], path[512];
	uint8_t *good;
	size_t len;
	struct vm_config opts;
	enum vm_stop stop;

	(void)state;
	snap_dir(dir, sizeof(dir), &good, &len);
	vm_config_init(&opts);
	(void)snprintf(path, sizeof(path), "%s/config.json", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hull_err err = { 0 };

		assert_int_equal(fd_write_file_atomic_at(AT_FDCWD, path, cases[i].conf,
							 strlen(cases[i].conf), 0600), 0);
		assert_true(vmm_restore(dir, &opts, &stop, &err) < 0);
		assert_non_null(strstr(err.msg, "config.json"));
		assert_non_null(strstr(err.msg, cases[i].want));
	}
	/* missing files */
	assert_int_equal(unlink(path), 0);
	{
		struct hull_err err = { 0 };

		assert_true(vmm_restore(dir, &opts, &stop, &err) < 0);
		assert_non_null(strstr(err.msg, "config.json"));
	}
	free(good);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_round_trip),
		cmocka_unit_test(test_platform_round_trip),
		cmocka_unit_test(test_vcpu_refusals),
		cmocka_unit_test(test_vcpu_mutations),
		cmocka_unit_test(test_state_file_checked),
		cmocka_unit_test(test_restore_refuses_before_kvm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
