/*
 * Fuzz target for tar layer unpacking (libFuzzer), with a replay main for builds without
 * libFuzzer: `fuzz-layer-replay FILE...` runs each file once.
 *
 * Each input is a layer blob (any compression libarchive detects). It is unpacked into a
 * fresh directory below a private scratch directory with small limits; afterwards nothing
 * may exist outside that directory (a sentinel beside it must be untouched and no new entry
 * may appear next to it). Errors are expected; crashes, leaks, sanitizer reports and escapes
 * are bugs. Run as root (the unpacker chowns and makes device nodes).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/layer.h"
#include "image/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int scratch = -1;

static size_t count_entries(int dirfd)
{
	DIR *d = fdopendir(fcntl(dirfd, F_DUPFD_CLOEXEC, 3));
	size_t n = 0;

	if (!d)
		abort();
	rewinddir(d); /* the dup shares the file offset of earlier walks */
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void setup(void)
{
	char tmpl[] = "/tmp/hull-fuzz-layer-XXXXXX";

	if (!mkdtemp(tmpl))
		abort();
	scratch = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (scratch < 0 || mkdirat(scratch, "sentinel", 0700) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct layer_limits lim = { .max_entries = 2000, .max_entry_size = 1 << 20,
				    .max_total_size = 8 << 20 };
	struct hull_err err = { 0 };
	char diff_id[DIGEST_STR_LEN + 1];
	int fd, dfd;
	size_t before;

	if (scratch < 0)
		setup();
	before = count_entries(scratch);
	fd = memfd_create("fuzz-layer", MFD_CLOEXEC);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) ||
	    lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (mkdirat(scratch, "layer", 0700) < 0)
		abort();
	dfd = openat(scratch, "layer", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		abort();
	(void)layer_unpack(fd, dfd, "fuzz", &lim, diff_id, &err);
	close(dfd);
	close(fd);
	/* nothing written beside the layer directory, nor into the sentinel */
	{
		int sfd = openat(scratch, "sentinel", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (sfd < 0 || count_entries(sfd) != 2 || count_entries(scratch) != before + 1)
			abort();
		close(sfd);
	}
	if (rm_rf_at(scratch, "layer") < 0)
		abort();
	return 0;
}

#include "fuzz-replay.h"
