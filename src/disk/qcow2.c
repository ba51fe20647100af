/* QCOW2 back end: placeholder until the read path lands. */
#include <errno.h>
#include <unistd.h>

#include "disk/disk-internal.h"

int qcow2_open_fd(const char *path, int fd, unsigned flags, const struct disk_chain *chain,
		  struct disk **ret, struct hull_err *err)
{
	(void)close(fd);
	return hull_err_setx(err, ENOTSUP, "%s: qcow2 is not supported yet", path);
}

int qcow2_create(const char *path, const struct disk_create_opts *opts, struct hull_err *err)
{
	return hull_err_setx(err, ENOTSUP, "%s: qcow2 is not supported yet", path);
}
