/* hull rm [-f] CONTAINER... */
#include <stdio.h>

#include "cli/commands.h"
#include "engine/run.h"

int cmd_rm(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	bool force;
	int rc = cli_force_targets("rm", "usage: hull rm [-f] [-v] CONTAINER...", argc, argv, &force,
				   &s);

	if (rc != 0)
		return rc;
	for (int i = optind; i < argc; i++) {
		cleanup_ctr struct ctr *ct = NULL;
		struct hull_err err = { 0 };

		if (ctr_load(s, argv[i], &ct, &err) < 0 ||
		    engine_remove_v(s, ct, force, cli_rm_volumes, &err) < 0) {
			rc = cli_fail("rm", &err);
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
