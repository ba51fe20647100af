/*
 * disk-bench: sequential or random reads or writes of a fixed block size through hull's
 * disk.h, one request at a time (queue depth 1), flush included for writes.
 *
 *   disk-bench [-f raw|qcow2] IMAGE read|write seq|rand BLOCK_SIZE TOTAL_BYTES [SEED]
 *
 * Prints one line: "<MB/s> MB/s <IOPS> IOPS <seconds> s".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disk/disk.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	enum disk_format fmt = DISK_FORMAT_AUTO;
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	uint64_t bs, total, nblocks, ops, x;
	bool write, seq;
	uint8_t *buf;
	double t0, t;
	int a = 1, r = 0;

	if (argc > 2 && strcmp(argv[1], "-f") == 0) {
		if (disk_format_parse(argv[2], &fmt) < 0)
			return 2;
		a = 3;
	}
	if (argc - a < 5) {
		fprintf(stderr, "usage: disk-bench [-f FMT] IMAGE read|write seq|rand BS TOTAL [SEED]\n");
		return 2;
	}
	write = strcmp(argv[a + 1], "write") == 0;
	seq = strcmp(argv[a + 2], "seq") == 0;
	bs = strtoull(argv[a + 3], NULL, 0);
	total = strtoull(argv[a + 4], NULL, 0);
	x = argc - a > 5 ? strtoull(argv[a + 5], NULL, 0) : 88172645463325252ull;
	if (disk_open(argv[a], fmt, write ? 0 : DISK_OPEN_RDONLY, &d, &err) < 0) {
		fprintf(stderr, "disk-bench: %s\n", err.msg);
		return 1;
	}
	nblocks = disk_size(d) / bs;
	ops = total / bs;
	if (nblocks == 0 || ops == 0 || posix_memalign((void **)&buf, 4096, bs)) {
		fprintf(stderr, "disk-bench: image too small or no memory\n");
		return 1;
	}
	memset(buf, 0x5c, bs);
	t0 = now();
	for (uint64_t i = 0; i < ops && r == 0; i++) {
		uint64_t blk;

		if (seq) {
			blk = i % nblocks;
		} else {
			x ^= x << 13; /* xorshift64 */
			x ^= x >> 7;
			x ^= x << 17;
			blk = x % nblocks;
		}
		r = write ? disk_write(d, blk * bs, buf, bs) : disk_read(d, blk * bs, buf, bs);
	}
	if (r == 0 && write)
		r = disk_flush(d);
	t = now() - t0;
	disk_close(d);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "disk-bench: I/O error %d\n", r);
		return 1;
	}
	printf("%.1f MB/s %.0f IOPS %.3f s\n", (double)(ops * bs) / t / 1e6, (double)ops / t, t);
	return 0;
}
