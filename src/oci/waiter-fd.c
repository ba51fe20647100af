#include "oci/waiter-fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "waiter-blob.h"

int waiter_memfd(mode_t mode, struct hull_err *err)
{
	cleanup_close int fd = memfd_create("hull-oci-wait", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r;

	if (fd < 0)
		return hull_err_set(err, errno, "memfd_create");
	if ((r = fd_write_all(fd, oci_waiter_blob, sizeof(oci_waiter_blob))) < 0)
		return hull_err_set(err, -r, "write the waiter");
	if (fchmod(fd, mode) < 0)
		return hull_err_set(err, errno, "chmod the waiter");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		return hull_err_set(err, errno, "seal the waiter");
	return steal_fd(&fd);
}
