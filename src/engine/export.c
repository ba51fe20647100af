#include "engine/export.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "common/strv.h"
#include "engine/rootfs.h"

int engine_export(struct image_store *s, struct ctr *c, int fd, struct hull_err *err)
{
	cleanup_free char *rootfs = xasprintf("%s/rootfs", c->dir);
	cleanup_close int root_fd = -1;
	struct archive *disk = NULL, *out = NULL;
	struct archive_entry *e;
	struct hull_err e2;
	bool was_running;
	int r;

	was_running = ctr_status_live(c) == CTR_RUNNING;
	r = ctr_rootfs_ensure(s, c->dir, c->layers, c->rootfs_mode, err);
	if (r < 0)
		return r;
	root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return hull_err_set(err, errno, "export %s: %s", c->name, rootfs);
	disk = archive_read_disk_new();
	out = archive_write_new();
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	archive_read_disk_set_standard_lookup(disk);
	archive_write_set_format_pax_restricted(out);
	if (archive_write_open_fd(out, fd) != ARCHIVE_OK ||
	    archive_read_disk_open(disk, rootfs) != ARCHIVE_OK) {
		r = hull_err_setx(err, EIO, "export %s: %s", c->name,
				  archive_error_string(disk));
		goto out;
	}
	while ((r = archive_read_next_header2(disk, e = archive_entry_new())) == ARCHIVE_OK) {
		cleanup_free char *p = xstrdup(archive_entry_pathname(e));
		cleanup_free char *rel = NULL;

		archive_read_disk_descend(disk);
		rel = strlen(p) > strlen(rootfs) ? xasprintf(".%s", p + strlen(rootfs))
						 : xstrdup(".");
		archive_entry_set_pathname(e, rel);
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			r = hull_err_setx(err, EIO, "export %s: %s", c->name,
					  archive_error_string(out));
			archive_entry_free(e);
			goto out;
		}
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
			/* a running container can swap a directory of the path for a symbolic
			 * link between the walk and this open (the docker cp race): resolve the
			 * path inside the rootfs, never on the host */
			cleanup_close int in = path_open_in_root(root_fd, rel, O_RDONLY | O_NOFOLLOW |
								 O_NONBLOCK, 0, 0);
			char buf[1 << 16];
			struct stat st;
			ssize_t n;
			/* ... or for a FIFO: a read that would wait forever */
			bool regular = in >= 0 && fstat(in, &st) == 0 && S_ISREG(st.st_mode);

			while (regular && (n = read(in, buf, sizeof(buf))) > 0)
				if (archive_write_data(out, buf, (size_t)n) != n)
					break;
		}
		archive_entry_free(e);
	}
	archive_entry_free(e);
	if (r != ARCHIVE_EOF) {
		r = hull_err_setx(err, EIO, "export %s: %s", c->name, archive_error_string(disk));
		goto out;
	}
	r = archive_write_close(out) == ARCHIVE_OK ? 0
						   : hull_err_setx(err, EIO, "export %s: %s",
								   c->name,
								   archive_error_string(out));
out:
	archive_read_free(disk);
	archive_write_free(out);
	/* a stopped container holds no mount: drop the one made for the export, unless the
	 * container started meanwhile */
	if (!was_running && ctr_state_reload(c, &e2) == 0 && c->state.status != CTR_RUNNING)
		(void)ctr_rootfs_teardown(c->dir, &e2);
	return r;
}
