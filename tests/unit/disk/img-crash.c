/*
 * img-crash: run one `hull img` operation that rewrites QCOW2 metadata, ending the process
 * (exit 99) at its Nth metadata write or sync, for tests/integration/img's crash tests.
 *
 *   img-crash N IMAGE snapshot-c|snapshot-a|snapshot-d NAME
 *   img-crash N IMAGE amend OPTIONS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk/img.h"

void qcow2_debug_crash_after(long n);

int main(int argc, char **argv)
{
	struct hull_err err = { 0 };
	struct img_amend_opts o;
	int r;

	if (argc != 5) {
		fprintf(stderr, "usage: img-crash N IMAGE snapshot-c|snapshot-a|snapshot-d|amend "
				"ARG\n");
		return 2;
	}
	qcow2_debug_crash_after(strtol(argv[1], NULL, 10));
	if (strncmp(argv[3], "snapshot-", 9) == 0)
		r = img_snapshot(argv[2], DISK_FORMAT_QCOW2, argv[3][9], argv[4], &err);
	else if (strcmp(argv[3], "amend") == 0)
		r = img_amend_parse(argv[4], &o, &err) < 0
			    ? -1
			    : img_amend(argv[2], DISK_FORMAT_QCOW2, &o, &err);
	else
		return 2;
	if (r < 0) {
		fprintf(stderr, "img-crash: %s\n", err.msg);
		return 1;
	}
	return 0;
}
