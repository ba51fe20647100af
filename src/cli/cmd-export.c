/* hull export [-o FILE] CONTAINER: the container's file system as a tar. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/fd.h"
#include "engine/export.h"

int cmd_export(int argc, char **argv)
{
	static const struct cli_option opts[] = {
		{ "output", required_argument, NULL, 'o', "FILE",
		  "write to FILE (default: standard output)" },
		{ 0 },
	};
	static const struct cli_command def = {
		.name = "export", .args = "[OPTIONS] CONTAINER", .optstring = "+o:", .opts = opts,
		.summary = "Write a container's file system as a tar.",
	};
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	cleanup_free char *tmp = NULL;
	struct hull_err err = { 0 };
	const char *out = NULL;
	int ch, fd = 1, r;

	while ((ch = cli_getopt(argc, argv, &def)) != -1) {
		if (ch != 'o')
			return EXIT_ENGINE;
		out = optarg;
	}
	if (optind + 1 != argc)
		return cli_usage_error("export", "usage: hull export [-o FILE] CONTAINER");
	if (!out && isatty(1))
		return cli_usage_error("export", "refusing to write a tar to a terminal: use -o "
						 "FILE or a redirection");
	if (cli_store_open("export", &s) != 0)
		return EXIT_ENGINE;
	if (ctr_load(s, argv[optind], &c, &err) < 0)
		return cli_fail("export", &err);
	if (out) {
		fd = fd_tmp_create_beside(AT_FDCWD, out, 0644, &tmp);
		if (fd < 0)
			return cli_usage_error("export", "%s: %s", out, strerror(-fd));
	}
	r = engine_export(s, c, fd, &err);
	if (out) {
		(void)close(fd);
		if (r == 0 && rename(tmp, out) < 0)
			r = hull_err_set(&err, errno, "%s", out);
		if (r < 0)
			(void)unlink(tmp);
	}
	return r < 0 ? cli_fail("export", &err) : 0;
}
