/*
 * Fuzz target for the live-migration stream's parser (src/vmm/migrate-stream.c) and the
 * state-file checks it ends with (snapshot_state_verify), with the replay main of
 * fuzz-replay.h for builds without libFuzzer: `fuzz-migrate-replay FILE...`.
 * tests/fuzz/run-migrate builds the libFuzzer one.
 *
 * The input is what a destination would read from its socket; guest RAM is a heap buffer of
 * exactly 64 pages, so a page written past it is an ASan report. The input's last bytes also
 * go through the reply-line parser. Errors are expected; crashes, leaks, sanitizer reports
 * and an allocation larger than the state limit are bugs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/migrate-stream.h"
#include "vmm/snapshot.h"
#include "vmm/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_PAGES 64U

struct src {
	const uint8_t *p;
	size_t len, pos;
};

static int buf_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;

	if (len > s->len - s->pos)
		return -EPIPE;
	memcpy(buf, s->p + s->pos, len);
	s->pos += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mig_cpuid local[] = {
		{ 1, 0, 0, 0, 0x80202001, 0x078bfbff },
		{ 7, 0, 0, 0x029c6fbf, 0, 0 },
		{ 0x80000001, 0, 0, 0, 0x121, 0x2c100800 },
	};
	struct src s = { data, size, 0 };
	struct mig_in in = { .read = buf_read, .ctx = &s };
	struct mig_header *h = calloc(1, sizeof(*h));
	uint8_t *ram = malloc(RAM_PAGES * MIG_PAGE), *state = NULL;
	struct hull_err err = { 0 };
	size_t len = 0, slen = 0;

	if (!h || !ram)
		abort();
	if (mig_recv_header(&in, h, &err) == 0) {
		(void)mig_cpuid_check(h, local, 3, &err);
		if (mig_recv_body(&in, ram, RAM_PAGES * MIG_PAGE, &state, &len, &err) == 0) {
			if (!state || len > VM_STATE_MAX + 4)
				abort(); /* a success always has the bounded state */
			(void)snapshot_state_verify(state, len, "fuzz", &slen, &err);
		}
	}
	if (size > 0)
		(void)mig_reply_parse((const char *)data + size / 2, size - size / 2, &err);
	free(state);
	free(ram);
	free(h);
	return 0;
}

#include "fuzz-replay.h"
