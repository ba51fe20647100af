/*
 * disk-io: a scripted writer over the disk.h interface, for the integration tests (which
 * mirror every step on a raw reference file) and the crash-safety test.
 *
 *   disk-io [-f raw|qcow2] [--crash-after N] [--ro] [-U] IMAGE STEP...
 *   STEP: write:OFF:LEN:BYTE  read:OFF:LEN:BYTE (verify)  zero:OFF:LEN[:unmap]
 *         discard:OFF:LEN  flush (prints "flushed N" once durable)
 *         hold (prints "holding", then keeps the image open until stdin ends)
 *   --ro opens read-only, -U with force-share (the locking tests).
 *
 *   disk-io [--crash-after N] img-commit|img-commit-keep|img-check-all IMAGE
 *   disk-io [--crash-after N] img-resize IMAGE SIZE   (shrinking allowed)
 *
 * --crash-after N ends the process (exit 99) at the Nth QCOW2 metadata write or sync.
 * The img-* forms run the `hull img` operation (src/disk/img-ops.c), for the crash tests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/disk.h"
#include "disk/img.h"

void qcow2_debug_crash_after(long n);

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

/* The img-* forms: 0 on success, 1 with the error on stderr. */
static int img_op(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_check_report rep;
	int r = -EINVAL;

	if (strcmp(argv[0], "img-commit") == 0 && argc == 2)
		r = img_commit(argv[1], DISK_FORMAT_AUTO, false, &err);
	else if (strcmp(argv[0], "img-commit-keep") == 0 && argc == 2)
		r = img_commit(argv[1], DISK_FORMAT_AUTO, true, &err);
	else if (strcmp(argv[0], "img-check-all") == 0 && argc == 2)
		r = img_check(argv[1], DISK_FORMAT_AUTO, "all", &rep, &err);
	else if (strcmp(argv[0], "img-resize") == 0 && argc == 3)
		r = img_resize(argv[1], DISK_FORMAT_AUTO, argv[2], true, &err);
	else
		snprintf(err.msg, sizeof(err.msg), "bad img-* arguments");
	if (r < 0) {
		fprintf(stderr, "disk-io: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static int step(struct disk *d, char *s, unsigned *flushes)
{
	char *f[5] = { 0 };
	int n = 0, r = 0;
	uint8_t *buf;

	for (char *save = NULL, *t = strtok_r(s, ":", &save); t && n < 5;
	     t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (strcmp(f[0], "hold") == 0) {
		char line[64];

		printf("holding\n");
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin))
			;
		return 0;
	}
	if (strcmp(f[0], "flush") == 0) {
		r = disk_flush(d);
		if (r == 0) {
			printf("flushed %u\n", ++*flushes);
			fflush(stdout);
		}
		return r;
	}
	if (n < 3)
		return -EINVAL;
	if (strcmp(f[0], "write") == 0 || strcmp(f[0], "read") == 0) {
		size_t len = (size_t)num(f[2]);
		int byte = n > 3 ? (int)num(f[3]) : 0;

		buf = malloc(len ? len : 1);
		if (!buf)
			return -ENOMEM;
		if (f[0][0] == 'w') {
			memset(buf, byte, len);
			r = disk_write(d, num(f[1]), buf, len);
		} else {
			r = disk_read(d, num(f[1]), buf, len);
			for (size_t i = 0; r == 0 && i < len; i++)
				if (buf[i] != byte) {
					fprintf(stderr, "mismatch at %" PRIu64 ": %d != %d\n",
						num(f[1]) + i, buf[i], byte);
					r = -EIO;
				}
		}
		free(buf);
		return r;
	}
	if (strcmp(f[0], "zero") == 0)
		return disk_write_zeroes(d, num(f[1]), num(f[2]),
					 n > 3 ? DISK_ZEROES_MAY_UNMAP : 0);
	if (strcmp(f[0], "discard") == 0)
		return disk_discard(d, num(f[1]), num(f[2]));
	return -EINVAL;
}

int main(int argc, char **argv)
{
	enum disk_format fmt = DISK_FORMAT_AUTO;
	struct hull_err err = { 0 };
	struct disk *d = NULL;
	unsigned flushes = 0, flags = 0;
	int i = 1, r;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-f") == 0 && i + 1 < argc) {
			if (disk_format_parse(argv[++i], &fmt) < 0)
				return 2;
		} else if (strcmp(argv[i], "--ro") == 0) {
			flags |= DISK_OPEN_RDONLY;
		} else if (strcmp(argv[i], "-U") == 0) {
			flags |= DISK_OPEN_FORCE_SHARE;
		} else if (strcmp(argv[i], "--crash-after") == 0 && i + 1 < argc) {
			qcow2_debug_crash_after(strtol(argv[++i], NULL, 10));
		} else {
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: disk-io [-f FMT] [--crash-after N] IMAGE STEP...\n");
		return 2;
	}
	if (strncmp(argv[i], "img-", 4) == 0)
		return img_op(argc - i, argv + i);
	if (disk_open(argv[i], fmt, flags, &d, &err) < 0) {
		fprintf(stderr, "disk-io: %s\n", err.msg);
		return 1;
	}
	for (i++; i < argc; i++) {
		char *s = strdup(argv[i]);

		r = step(d, s, &flushes);
		free(s);
		if (r < 0) {
			fprintf(stderr, "disk-io: step '%s': %s%s%s\n", argv[i], strerror(-r),
				disk_error_detail(d) ? ": " : "",
				disk_error_detail(d) ? disk_error_detail(d) : "");
			disk_close(d);
			return 1;
		}
	}
	r = disk_flush(d);
	if (r < 0)
		fprintf(stderr, "disk-io: flush: %s%s%s\n", strerror(-r),
			disk_error_detail(d) ? ": " : "",
			disk_error_detail(d) ? disk_error_detail(d) : "");
	disk_close(d);
	if (r < 0)
		return 1;
	return 0;
}
