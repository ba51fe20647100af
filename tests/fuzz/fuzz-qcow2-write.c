/*
 * Fuzz target for the QCOW2 write path (libFuzzer), with a replay main for builds without
 * libFuzzer: `fuzz-qcow2-write-replay FILE...` runs each file once.
 *
 * An input is a 64-byte program followed by an image (seeds: valid images made by qemu-img,
 * whose metadata the fuzzer mutates). The image is written to a scratch directory on
 * /dev/shm, then: the program's writes, zeroes and discards through disk.h; `rebase -u`
 * onto a fresh hull-made base (or onto nothing); `resize`; `commit` into the base (with or
 * without -d); `check -r all`. Errors are expected. Bugs: a crash, a sanitizer report, a
 * hang (libFuzzer's -timeout), `check -r all` claiming a clean image that a fresh check
 * finds unclean, and a base that commit left with corruptions.
 *
 * Program bytes: [0] flags (bit 0 commit, bit 1 keep the top (-d), bit 2 resize, bits 3..5
 * op count), [1..56] seven ops of 8 bytes (kind, offset 3 bytes, length 2 bytes, pattern,
 * extra), [57..60] the new size for resize.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/disk.h"
#include "disk/img.h"

#define PROGRAM 64
#define MAX_OPS 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], top[96], base[96];

static void remove_dir(void)
{
	(void)unlink(top);
	(void)unlink(base);
	(void)rmdir(dir);
}

static void setup_dir(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/dev/shm/hull-fuzz-w-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir); /* libFuzzer ends with exit() too */
	snprintf(top, sizeof(top), "%s/top", dir);
	snprintf(base, sizeof(base), "%s/b", dir);
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
}

static void run_ops(const uint8_t *prog, unsigned nops)
{
	static uint8_t buf[65536 * 2];
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	uint64_t dsize;

	if (disk_open(top, DISK_FORMAT_QCOW2, DISK_OPEN_NO_BACKING, &d, &err) < 0)
		return;
	dsize = disk_size(d);
	for (unsigned i = 0; i < nops && dsize; i++) {
		const uint8_t *o = prog + 1 + 8 * i;
		uint64_t off = ((uint64_t)o[1] << 16 | (uint64_t)o[2] << 8 | o[3]) * 512 % dsize;
		uint64_t len = (uint64_t)(o[4] << 8 | o[5]) + 1;

		if (o[0] & 4)
			len *= 2;
		if (len > dsize - off)
			len = dsize - off;
		switch (o[0] & 3) {
		case 0:
			memset(buf, o[6], (size_t)len);
			(void)disk_write(d, off, buf, (size_t)len);
			break;
		case 1:
			if (o[7] & 2) /* a long run, over whole clusters */
				len = dsize - off < len * 64 ? dsize - off : len * 64;
			(void)disk_write_zeroes(d, off, len, o[7] & 1 ? DISK_ZEROES_MAY_UNMAP : 0);
			break;
		case 2:
			(void)disk_discard(d, off, len);
			break;
		case 3:
			(void)disk_flush(d);
			break;
		}
	}
	(void)disk_flush(d);
	disk_close(d);
}

static void make_base(void)
{
	static const uint8_t pattern[4096] = { [0 ... 4095] = 0x5b };
	struct disk_create_opts o = { .format = DISK_FORMAT_QCOW2, .size = 4u << 20,
				      .cluster_bits = 9 };
	struct hull_err err = { 0 };
	struct disk *d = NULL;

	(void)unlink(base);
	if (disk_create(base, &o, &err) < 0 ||
	    disk_open(base, DISK_FORMAT_QCOW2, 0, &d, &err) < 0)
		abort();
	if (disk_write(d, 1 << 20, pattern, sizeof(pattern)) < 0)
		abort();
	disk_close(d);
}

/* check -r all: when it says the image is clean, a fresh read-only check must agree. */
static void repair_and_recheck(const char *path)
{
	struct img_check_report rep;
	struct hull_err err = { 0 };

	if (img_check(path, DISK_FORMAT_QCOW2, "all", &rep, &err) < 0 || rep.corruptions ||
	    rep.leaks)
		return;
	memset(&err, 0, sizeof(err));
	if (img_check(path, DISK_FORMAT_QCOW2, NULL, &rep, &err) < 0 || rep.corruptions ||
	    rep.leaks) {
		fprintf(stderr, "check -r all claimed a clean %s; a recheck: %s, %" PRIu64
			" corruptions, %" PRIu64 " leaks: %s\n", path, err.msg, rep.corruptions,
			rep.leaks, rep.first_error);
		abort();
	}
}

/* The base is hull's own image, written only through the write path: never corrupt. */
static void base_sound(void)
{
	struct img_check_report rep;
	struct hull_err err = { 0 };

	if (img_check(base, DISK_FORMAT_QCOW2, NULL, &rep, &err) < 0 || rep.corruptions) {
		fprintf(stderr, "commit left the base corrupt: %s %" PRIu64 " corruptions: %s\n",
			err.msg, rep.corruptions, rep.first_error);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hull_err err = { 0 };
	const uint8_t *prog = data;
	bool commit;
	char nsize[32];

	if (size < PROGRAM + 512 || size > (4u << 20))
		return 0;
	setup_dir();
	commit = prog[0] & 1;
	write_file(top, data + PROGRAM, size - PROGRAM);
	run_ops(prog, (prog[0] >> 3) & MAX_OPS);
	/* never a backing file the input names: the base, or none */
	if (commit)
		make_base();
	if (img_rebase(top, DISK_FORMAT_QCOW2, commit ? "b" : NULL, DISK_FORMAT_QCOW2, true,
		       &err) < 0)
		return 0;
	if (prog[0] & 4) {
		uint32_t v = (uint32_t)prog[57] << 24 | (uint32_t)prog[58] << 16 |
			     (uint32_t)prog[59] << 8 | prog[60];

		snprintf(nsize, sizeof(nsize), "%" PRIu32, (v % (8u << 20)) / 512 * 512 + 512);
		memset(&err, 0, sizeof(err));
		(void)img_resize(top, DISK_FORMAT_QCOW2, nsize, true, &err);
	}
	if (commit) {
		memset(&err, 0, sizeof(err));
		(void)img_commit(top, DISK_FORMAT_QCOW2, prog[0] & 2, &err);
		base_sound();
		repair_and_recheck(base);
	}
	repair_and_recheck(top);
	return 0;
}

#include "fuzz-replay.h"
