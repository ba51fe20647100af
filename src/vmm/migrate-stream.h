#pragma once
/*
 * The live-migration stream (docs/vmm.md "Live migration"), its parser and its CPU feature
 * check; no KVM, no sockets: the bytes come through a read callback (a socket in migrate.c,
 * a buffer in tests/fuzz/fuzz-migrate.c). All integers little-endian.
 *
 *   header   "HULLMIGR" (8), version u32, RAM bytes u64, vCPUs u32, CPUID entries u32 (at
 *            most MIG_CPUID_MAX), then each entry: function, index, eax, ebx, ecx, edx (u32)
 *            -> the destination answers one line: "OK\n" or "ERR <why>\n"
 *   records  u32 type, then
 *            MIG_REC_PAGES  u32 count (1..MIG_PAGES_MAX), count x (u64 page number, 4096 bytes)
 *            MIG_REC_ZERO   u32 count (1..MIG_ZERO_MAX), count x u64 page number
 *            MIG_REC_STATE  u32 length (at most VM_STATE_MAX + 4), the snapshot state file's
 *                           bytes (state stream and its CRC: snapshot.h); once, last
 *            MIG_REC_END    u32 CRC32 of every byte before this field, from the magic on
 *            MIG_REC_SYNC   nothing: the end of a pre-copy round; the destination answers
 *                           "OK\n" once it has read it (every byte before it is in RAM)
 *            -> the destination answers "OK\n" once the state is loaded, or "ERR <why>\n"
 * Page numbers are RAM offsets in host mapping order (dirty.h) divided by 4096.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define MIG_MAGIC "HULLMIGR"
#define MIG_VERSION 1U
#define MIG_CPUID_MAX 256U
#define MIG_PAGES_MAX 64U
#define MIG_ZERO_MAX 1024U
#define MIG_PAGE 4096U
#define MIG_REPLY_MAX 512U

enum mig_rec {
	MIG_REC_PAGES = 1,
	MIG_REC_ZERO = 2,
	MIG_REC_STATE = 3,
	MIG_REC_END = 4,
	MIG_REC_SYNC = 5,
};

struct mig_cpuid {
	uint32_t function, index, eax, ebx, ecx, edx;
};

struct mig_header {
	uint32_t version;
	uint64_t mem_size;
	uint32_t ncpus;
	uint32_t n_cpuid;
	struct mig_cpuid cpuid[MIG_CPUID_MAX];
};

/* The bytes in: read fills exactly len bytes or returns -errno (-EPIPE at end of stream). */
struct mig_in {
	int (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	/* a SYNC record read: answer it (NULL: nothing to answer, as in the fuzz target) */
	int (*sync)(void *ctx);
	uint32_t crc;   /* of every byte read so far */
	uint64_t bytes; /* read so far */
};

/* Read and check the header (magic, version, counts): 0 or -errno with err. */
int mig_recv_header(struct mig_in *in, struct mig_header *h, struct hull_err *err);
/*
 * Whether a guest running on the source's CPUID may go on on this one (local): every
 * feature flag the source offered (leaves 1, 6, 7, 0xd.1, 0x80000001, 0x80000007/8) must be
 * offered here too. 0, or -EOPNOTSUPP with err naming the first missing feature.
 */
int mig_cpuid_check(const struct mig_header *src, const struct mig_cpuid *local, unsigned n_local,
		    struct hull_err *err);
/*
 * The records after the header, into ram (ram_size bytes; page numbers outside it refused),
 * up to the end marker and its CRC: 0 with the state file's bytes in *ret_state (heap, at
 * most VM_STATE_MAX + 4) and *ret_len, or -errno with err (EBADMSG: a record the stream
 * should not have; EPIPE: it ended early). Never writes outside ram.
 */
int mig_recv_body(struct mig_in *in, uint8_t *ram, uint64_t ram_size, uint8_t **ret_state,
		  size_t *ret_len, struct hull_err *err);

/* A reply line "OK" / "ERR <why>" into buf (at most MIG_REPLY_MAX, with its newline). */
size_t mig_reply_format(char *buf, bool ok, const char *why);
/*
 * Parse a reply line (without its newline): 0 for OK, -EREMOTEIO with err quoting the
 * destination's reason (non-printable bytes as '?'), -EBADMSG for anything else.
 */
int mig_reply_parse(const char *line, size_t len, struct hull_err *err);
