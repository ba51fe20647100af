/* The live-migration stream's parser and CPU feature check (migrate-stream.h). */
#include "vmm/migrate-stream.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/alloc.h"
#include "vmm/state.h"

static int in_read(struct mig_in *in, void *buf, size_t len)
{
	int r = in->read(in->ctx, buf, len);

	if (r < 0)
		return r;
	in->crc = (uint32_t)crc32(in->crc, buf, (uInt)len);
	in->bytes += len;
	return 0;
}

static int in_u32(struct mig_in *in, uint32_t *v)
{
	int r = in_read(in, v, 4);

	*v = le32toh(*v);
	return r;
}

static int in_u64(struct mig_in *in, uint64_t *v)
{
	int r = in_read(in, v, 8);

	*v = le64toh(*v);
	return r;
}

static int short_read(int r, const char *what, struct hull_err *err)
{
	if (r == -EPIPE)
		return hull_err_setx(err, EPIPE, "the stream ended in the %s", what);
	return hull_err_set(err, -r, "reading the %s", what);
}

int mig_recv_header(struct mig_in *in, struct mig_header *h, struct hull_err *err)
{
	char magic[8];
	int r;

	memset(h, 0, sizeof(*h));
	r = in_read(in, magic, sizeof(magic));
	if (r < 0)
		return short_read(r, "header", err);
	if (memcmp(magic, MIG_MAGIC, 8) != 0)
		return hull_err_setx(err, EBADMSG, "not a hull migration stream (bad magic)");
	if ((r = in_u32(in, &h->version)) < 0)
		return short_read(r, "header", err);
	if (h->version != MIG_VERSION)
		return hull_err_setx(err, EPROTONOSUPPORT,
				     "migration stream version %" PRIu32 " (this hull reads %u)",
				     h->version, MIG_VERSION);
	if ((r = in_u64(in, &h->mem_size)) < 0 || (r = in_u32(in, &h->ncpus)) < 0 ||
	    (r = in_u32(in, &h->n_cpuid)) < 0)
		return short_read(r, "header", err);
	if (h->n_cpuid > MIG_CPUID_MAX)
		return hull_err_setx(err, EBADMSG, "header: %" PRIu32 " CPUID entries (at most %u)",
				     h->n_cpuid, MIG_CPUID_MAX);
	for (uint32_t i = 0; i < h->n_cpuid; i++) {
		struct mig_cpuid *e = &h->cpuid[i];

		if ((r = in_u32(in, &e->function)) < 0 || (r = in_u32(in, &e->index)) < 0 ||
		    (r = in_u32(in, &e->eax)) < 0 || (r = in_u32(in, &e->ebx)) < 0 ||
		    (r = in_u32(in, &e->ecx)) < 0 || (r = in_u32(in, &e->edx)) < 0)
			return short_read(r, "header's CPUID", err);
	}
	return 0;
}

/* Feature registers: (leaf, subleaf, register 0..3 = eax..edx). */
struct feature_reg {
	uint32_t function, index;
	unsigned reg;
	const char *name;
};

static const struct feature_reg feature_regs[] = {
	{ 1, 0, 2, "1.ecx" },          { 1, 0, 3, "1.edx" },
	{ 6, 0, 0, "6.eax" },          { 7, 0, 1, "7.ebx" },
	{ 7, 0, 2, "7.ecx" },          { 7, 0, 3, "7.edx" },
	{ 7, 1, 0, "7.1.eax" },        { 0xd, 1, 0, "0xd.1.eax" },
	{ 0x80000001, 0, 2, "0x80000001.ecx" }, { 0x80000001, 0, 3, "0x80000001.edx" },
	{ 0x80000007, 0, 3, "0x80000007.edx" }, { 0x80000008, 0, 1, "0x80000008.ebx" },
};

/* Names of the flags most worth naming; others are named by leaf, register and bit. */
static const struct {
	const char *reg;
	unsigned bit;
	const char *name;
} feature_names[] = {
	{ "1.ecx", 0, "sse3" },     { "1.ecx", 9, "ssse3" },   { "1.ecx", 12, "fma" },
	{ "1.ecx", 19, "sse4_1" },  { "1.ecx", 20, "sse4_2" }, { "1.ecx", 22, "movbe" },
	{ "1.ecx", 23, "popcnt" },  { "1.ecx", 25, "aes" },    { "1.ecx", 26, "xsave" },
	{ "1.ecx", 28, "avx" },     { "1.ecx", 29, "f16c" },   { "1.ecx", 30, "rdrand" },
	{ "1.ecx", 1, "pclmulqdq" }, { "1.ecx", 24, "tsc_deadline_timer" },
	{ "1.edx", 25, "sse" },     { "1.edx", 26, "sse2" },
	{ "7.ebx", 3, "bmi1" },     { "7.ebx", 5, "avx2" },    { "7.ebx", 8, "bmi2" },
	{ "7.ebx", 9, "erms" },     { "7.ebx", 16, "avx512f" }, { "7.ebx", 18, "rdseed" },
	{ "7.ebx", 19, "adx" },     { "7.ebx", 29, "sha_ni" }, { "7.ebx", 30, "avx512bw" },
	{ "7.ebx", 31, "avx512vl" }, { "7.ecx", 8, "gfni" },   { "7.ecx", 9, "vaes" },
	{ "7.edx", 4, "fsrm" },     { "0x80000001.ecx", 5, "abm" },
	{ "0x80000001.edx", 27, "rdtscp" }, { "0x80000001.edx", 29, "lm" },
};

static const struct mig_cpuid *cpuid_find(const struct mig_cpuid *e, unsigned n, uint32_t fn,
					  uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == idx)
			return &e[i];
	return NULL;
}

static uint32_t cpuid_reg(const struct mig_cpuid *e, unsigned reg)
{
	if (!e)
		return 0;
	return reg == 0 ? e->eax : reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
}

static const char *feature_name(const char *reg, unsigned bit)
{
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if (feature_names[i].bit == bit && strcmp(feature_names[i].reg, reg) == 0)
			return feature_names[i].name;
	return NULL;
}

int mig_cpuid_check(const struct mig_header *src, const struct mig_cpuid *local, unsigned n_local,
		    struct hull_err *err)
{
	for (size_t i = 0; i < sizeof(feature_regs) / sizeof(feature_regs[0]); i++) {
		const struct feature_reg *f = &feature_regs[i];
		uint32_t s = cpuid_reg(cpuid_find(src->cpuid, src->n_cpuid, f->function, f->index),
				       f->reg);
		uint32_t l = cpuid_reg(cpuid_find(local, n_local, f->function, f->index), f->reg);
		uint32_t missing = s & ~l;
		const char *name;
		unsigned bit;

		if (!missing)
			continue;
		bit = (unsigned)__builtin_ctz(missing);
		name = feature_name(f->name, bit);
		return hull_err_setx(err, EOPNOTSUPP,
				     "CPU feature %s (CPUID %s bit %u) is offered to the guest on the "
				     "source but not on this host",
				     name ? name : "without a name here", f->name, bit);
	}
	return 0;
}

static int recv_pages(struct mig_in *in, uint8_t *ram, uint64_t npages, bool zero,
		      struct hull_err *err)
{
	uint32_t count = 0, max = zero ? MIG_ZERO_MAX : MIG_PAGES_MAX;
	int r;

	if ((r = in_u32(in, &count)) < 0)
		return short_read(r, "page record", err);
	if (count == 0 || count > max)
		return hull_err_setx(err, EBADMSG, "a page record of %" PRIu32 " pages (1 to %u)",
				     count, max);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t pg = 0;

		if ((r = in_u64(in, &pg)) < 0)
			return short_read(r, "page record", err);
		if (pg >= npages)
			return hull_err_setx(err, EBADMSG,
					     "page %" PRIu64 " is outside guest RAM (%" PRIu64
					     " pages)", pg, npages);
		if (zero)
			memset(ram + pg * MIG_PAGE, 0, MIG_PAGE);
		else if ((r = in_read(in, ram + pg * MIG_PAGE, MIG_PAGE)) < 0)
			return short_read(r, "page record", err);
	}
	return 0;
}

static int recv_state(struct mig_in *in, uint8_t **ret_state, size_t *ret_len,
		      struct hull_err *err)
{
	uint32_t len = 0;
	uint8_t *buf;
	int r;

	if ((r = in_u32(in, &len)) < 0)
		return short_read(r, "state record", err);
	if (len < VM_STATE_HDR_SIZE + 4 || len > VM_STATE_MAX + 4)
		return hull_err_setx(err, EBADMSG, "a state record of %" PRIu32 " bytes (%u to %u)",
				     len, VM_STATE_HDR_SIZE + 4, VM_STATE_MAX + 4);
	buf = xmalloc(len); /* bounded above: at most VM_STATE_MAX + 4 */
	if ((r = in_read(in, buf, len)) < 0) {
		free(buf);
		return short_read(r, "state record", err);
	}
	*ret_state = buf;
	*ret_len = len;
	return 0;
}

int mig_recv_body(struct mig_in *in, uint8_t *ram, uint64_t ram_size, uint8_t **ret_state,
		  size_t *ret_len, struct hull_err *err)
{
	uint8_t *state = NULL;
	size_t len = 0;
	int r = 0;

	*ret_state = NULL;
	*ret_len = 0;
	for (;;) {
		uint32_t type = 0, crc, sum = 0;

		if ((r = in_u32(in, &type)) < 0) {
			r = short_read(r, "record type", err);
			break;
		}
		if (state && type != MIG_REC_END) {
			r = hull_err_setx(err, EBADMSG, "a record of type %" PRIu32
					  " after the state record", type);
			break;
		}
		if (type == MIG_REC_PAGES || type == MIG_REC_ZERO) {
			r = recv_pages(in, ram, ram_size / MIG_PAGE, type == MIG_REC_ZERO, err);
		} else if (type == MIG_REC_STATE) {
			r = recv_state(in, &state, &len, err);
		} else if (type == MIG_REC_SYNC) {
			r = in->sync ? in->sync(in->ctx) : 0;
			if (r < 0)
				r = hull_err_set(err, -r, "answering a round's end");
		} else if (type == MIG_REC_END) {
			crc = in->crc;
			if ((r = in_read(in, &sum, 4)) < 0) {
				r = short_read(r, "end marker", err);
				break;
			}
			if (!state)
				r = hull_err_setx(err, EBADMSG, "the end marker before any state record");
			else if (le32toh(sum) != crc)
				r = hull_err_setx(err, EBADMSG, "stream checksum mismatch (corrupt)");
			else
				break;
		} else {
			r = hull_err_setx(err, EBADMSG, "unknown record type %" PRIu32, type);
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		free(state);
		return r;
	}
	*ret_state = state;
	*ret_len = len;
	return 0;
}

size_t mig_reply_format(char *buf, bool ok, const char *why)
{
	int n = ok ? snprintf(buf, MIG_REPLY_MAX, "OK\n")
		   : snprintf(buf, MIG_REPLY_MAX, "ERR %.*s\n", (int)MIG_REPLY_MAX - 6, why);

	return n < 0 ? 0 : (size_t)n;
}

int mig_reply_parse(const char *line, size_t len, struct hull_err *err)
{
	char why[MIG_REPLY_MAX];
	size_t n = 0;

	if (len == 2 && memcmp(line, "OK", 2) == 0)
		return 0;
	if (len < 4 || memcmp(line, "ERR ", 4) != 0)
		return hull_err_setx(err, EBADMSG, "the destination's reply is not OK or ERR");
	for (size_t i = 4; i < len && n < sizeof(why) - 1; i++)
		why[n++] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	why[n] = '\0';
	return hull_err_setx(err, EREMOTEIO, "the destination refused: %s", why);
}
