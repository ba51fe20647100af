/*
 * Fuzz target for QCOW2 header and metadata parsing (libFuzzer), with a replay main for
 * builds without libFuzzer: `fuzz-qcow2-replay FILE...` runs each file once.
 *
 * Each input is an image file: it is opened read-only (no backing file: the name comes from
 * the input) and read through its block status, then checked; then opened read-write on a
 * private copy and written, so allocation, copy-on-write and refcount updates see hostile
 * metadata too. Errors are expected; crashes, leaks and sanitizer reports are bugs.
 * Last, `check -r all` on another copy: when it reports a clean image, a fresh check of the
 * result must agree (a repair it did not make, claimed, is a bug: abort).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/disk.h"
#include "disk/qcow2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_with(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	return fd;
}

static void exercise(const uint8_t *data, size_t size, unsigned flags)
{
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	char path[64];
	uint8_t buf[8192];
	int fd = memfd_with(data, size);

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (disk_open(path, DISK_FORMAT_QCOW2, flags | DISK_OPEN_NO_BACKING, &d, &err) == 0) {
		uint64_t off = 0, dsize = disk_size(d), len, host;
		unsigned st, depth;

		/* walk at most 64 extents and read the start of each */
		for (int i = 0; i < 64 && off < dsize; i++) {
			if (disk_block_status(d, off, dsize - off, &len, &st, &host, &depth) < 0)
				break;
			(void)disk_read(d, off, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf));
			off += len;
		}
		if (!(flags & DISK_OPEN_RDONLY) && dsize > 0) {
			memset(buf, 0xa5, sizeof(buf));
			(void)disk_write(d, dsize / 3, buf, dsize - dsize / 3 < 5000
								? (size_t)(dsize - dsize / 3)
								: 5000);
			(void)disk_write_zeroes(d, 0, dsize < 131072 ? dsize : 131072, 0);
			(void)disk_discard(d, dsize / 2, dsize - dsize / 2);
			(void)disk_flush(d);
		} else if (disk_get_format(d) == DISK_FORMAT_QCOW2) {
			struct qcow2_check_result res;

			(void)qcow2_check(to_qcow2(d), 0, &res);
		}
		disk_close(d);
	}
	close(fd);
}

static int check_fd(int fd, unsigned flags, unsigned repair, struct qcow2_check_result *res)
{
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	flags |= DISK_OPEN_NO_BACKING | DISK_OPEN_NO_REPAIR | QCOW2_OPEN_CHECK;
	r = disk_open(path, DISK_FORMAT_QCOW2, flags, &d, &err);
	if (r < 0)
		return r;
	r = qcow2_check(to_qcow2(d), repair, res);
	if (r == 0)
		r = disk_flush(d);
	disk_close(d);
	return r;
}

static void repair_and_recheck(const uint8_t *data, size_t size)
{
	struct qcow2_check_result res;
	int fd = memfd_with(data, size);

	if (check_fd(fd, QCOW2_OPEN_REPAIR, QCOW2_REPAIR_LEAKS | QCOW2_REPAIR_ERRORS, &res) == 0 &&
	    res.corruptions == 0 && res.leaks == 0) {
		if (check_fd(fd, DISK_OPEN_RDONLY, 0, &res) < 0 || res.corruptions || res.leaks) {
			fprintf(stderr, "check -r all claimed a clean image; a recheck found %llu "
				"corruptions, %llu leaks: %s\n", (unsigned long long)res.corruptions,
				(unsigned long long)res.leaks, res.first_error);
			abort();
		}
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (4u << 20))
		return 0;
	exercise(data, size, DISK_OPEN_RDONLY);
	exercise(data, size, DISK_OPEN_NO_REPAIR);
	exercise(data, size, 0); /* repairs a dirty image */
	repair_and_recheck(data, size);
	return 0;
}

#include "fuzz-replay.h"
