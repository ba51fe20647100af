/*
 * hull rmi [-f] IMAGE...: names lose their tag; an id (or the last name) removes the image,
 * and what no other image and no container uses (blobs, unpacked layers) leaves the disk.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "engine/container.h"
#include "image/image.h"

int cmd_rmi(int argc, char **argv)
{
	cleanup_image_store struct image_store *s = NULL;
	bool force;
	int rc = cli_force_targets("rmi", "usage: hull rmi IMAGE...", argc, argv, &force,
				   &s);

	struct hull_err lerr = { 0 };
	bool deleted = false;

	if (rc != 0)
		return rc;
	/* exclusive from the first check to the sweep: no container starts using an image
	 * between "unused" and its removal */
	if (image_store_lock(s, true, &lerr) < 0)
		return cli_fail("rmi", &lerr);
	for (int i = optind; i < argc; i++) {
		struct hull_err err = { 0 };
		char removed[DIGEST_STR_LEN + 1] = "";
		struct image_info info = { 0 };

		/* as docker: an image a container uses is not removed (its last name neither)
		 * without -f; its layers stay for the container anyway */
		if (!force && image_lookup(s, argv[i], &info, &err) == 0) {
			cleanup_free char *user = ctr_using_image(s, info.config);
			cleanup_free char *norm = image_ref_normalize(argv[i]);
			bool by_name = norm && info.name && strcmp(norm, info.name) == 0;
			size_t names = 0;
			struct image_list l = { 0 };

			if (image_list(s, &l, &err) == 0) {
				for (size_t k = 0; k < l.n; k++)
					names += strcmp(l.v[k].config, info.config) == 0;
				image_list_free(&l);
			}
			image_info_clear(&info);
			if (user && (!by_name || names <= 1)) {
				rc = cli_usage_error("rmi", "image %s is in use by container %s (use -f)",
						     argv[i], user);
				continue;
			}
		}
		if (image_remove(s, argv[i], removed, &err) < 0) {
			rc = cli_fail("rmi", &err);
			continue;
		}
		printf("Untagged: %s\n", argv[i]);
		if (removed[0])
			printf("Deleted: %s\n", removed);
		deleted |= removed[0] != '\0';
	}
	if (deleted) {
		cleanup_strv char **keep = NULL;
		struct image_gc_stats st;

		/* the images of containers keep their layers, as `system prune` does */
		if (ctr_image_ids(s, &keep, &lerr) < 0 || image_gc(s, keep, &st, &lerr) < 0)
			rc = cli_fail("rmi", &lerr);
	}
	return rc;
}
