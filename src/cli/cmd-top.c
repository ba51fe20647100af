/* hull top CONTAINER: UID PID PPID CMD of the container's processes. */
#include <stdio.h>

#include "cli/commands.h"
#include "engine/procs.h"

int cmd_top(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	struct hull_err err = { 0 };
	struct ctr_proc *p = NULL;
	size_t n = 0;
	static const struct cli_option opts[] = { { 0 } };
	static const struct cli_command def = {
		.name = "top", .args = "CONTAINER", .optstring = "+", .opts = opts,
		.summary = "List a container's processes: UID PID PPID CMD.",
	};

	if (cli_getopt(argc, argv, &def) != -1)
		return EXIT_ENGINE;
	if (argc - optind != 1)
		return cli_usage_error("top", "usage: hull top CONTAINER");
	if (cli_store_open("top", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind], &c, &err) < 0 || ctr_procs(s, c, &p, &n, &err) < 0)
		return cli_fail("top", &err);
	printf("%-8s %-8s %-8s %s\n", "UID", "PID", "PPID", "CMD");
	for (size_t i = 0; i < n; i++)
		printf("%-8u %-8d %-8d %s\n", (unsigned)p[i].uid, (int)p[i].pid, (int)p[i].ppid,
		       p[i].cmd);
	ctr_procs_free(p, n);
	return 0;
}
