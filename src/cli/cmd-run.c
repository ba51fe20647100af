/* hull run [flags] IMAGE [CMD...]: create and start, in the foreground or detached (-d). */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/registry-cli.h"
#include "engine/run.h"

int cmd_run(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	cleanup_ctr struct ctr *c = NULL;
	struct run_opts o;
	struct cli_pull pull;
	struct hull_err err = { 0 };
	int code = 0, r;

	cli_pull_init(&pull);
	if (cli_run_opts_parse("run", argc, argv, &o, &pull) != 0 ||
	    cli_store_open("run", &s) != 0 || cli_pull_image("run", s, &pull, o.image) != 0) {
		cli_run_opts_free(&o);
		cli_pull_free(&pull);
		return EXIT_ENGINE;
	}
	if (pull.image)
		o.image = pull.image;
	r = engine_create(s, &o, &c, &code, &err);
	cli_pull_free(&pull); /* o.image is not used after the create */
	if (r < 0) {
		cli_run_opts_free(&o);
		if (code == 0)
			return EXIT_ENGINE;
		(void)cli_fail("run", &err);
		return code;
	}
	if (o.detach) {
		cli_run_opts_free(&o);
		if (engine_start_detached(s, c, &err) < 0)
			return cli_fail("run", &err);
		printf("%s\n", c->id);
		return 0;
	}
	code = engine_run_foreground(s, c, o.interactive, o.rm, &err);
	cli_run_opts_free(&o);
	if (code < 0)
		return cli_fail("run", &err);
	return code;
}
