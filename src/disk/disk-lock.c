/*
 * Image locking as QEMU's file-posix driver does it (QEMU 7.2, locking=auto), so that hull
 * and QEMU, qemu-img and qemu-io see each other's users of an image file.
 *
 * Each user of a file holds an open-file-description read lock (F_OFD_SETLK, F_RDLCK) on
 * byte 100+i for every permission i it holds and on byte 200+i for every permission i it
 * does not share with others. Opening then tests, with F_OFD_GETLK: a permission we want
 * conflicts with a lock another description holds at 200+i (someone does not share it), a
 * permission we do not share conflicts with one at 100+i (someone holds it). Locks are
 * applied before the test, as QEMU does, so two openers racing both see each other. The
 * locks live as long as the open file description: closing the disk's fd drops them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "disk/disk-internal.h"

static const char *const perm_names[DISK_PERM_COUNT] = {
	"consistent read", "write", "write unchanged", "resize", "change children",
};

void disk_lock_perms(bool write, bool force_share, unsigned *ret_perm, unsigned *ret_shared)
{
	/*
	 * What a QCOW2 or raw node over a file asks for in QEMU 7.2 (bdrv_default_perms for
	 * storage): every user needs consistent reads; a writer also writes and resizes
	 * (metadata grows the file); nobody lets others write or resize under it unless
	 * -U/force-share makes a read-only user share everything.
	 */
	*ret_perm = DISK_PERM_CONSISTENT_READ;
	if (write)
		*ret_perm |= DISK_PERM_WRITE | DISK_PERM_RESIZE;
	*ret_shared = DISK_PERM_ALL & ~(DISK_PERM_WRITE | DISK_PERM_RESIZE);
	if (force_share && !write)
		*ret_shared = DISK_PERM_ALL;
}

static int lock_byte(int fd, unsigned byte, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* 1 when another open file description holds a lock on byte, 0 when none does. */
static int byte_is_taken(int fd, unsigned byte)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int apply(int fd, unsigned perm, unsigned shared)
{
	for (unsigned i = 0; i < DISK_PERM_COUNT; i++) {
		int r = lock_byte(fd, DISK_LOCK_PERM_BASE + i, (perm >> i) & 1 ? F_RDLCK : F_UNLCK);

		if (r == 0)
			r = lock_byte(fd, DISK_LOCK_SHARED_BASE + i,
				      (shared >> i) & 1 ? F_UNLCK : F_RDLCK);
		if (r < 0)
			return r;
	}
	return 0;
}

int disk_lock_fd(int fd, const char *path, unsigned perm, unsigned shared,
		 struct hull_err *err)
{
	int r = apply(fd, perm, shared);

	/* file systems without POSIX locks: QEMU's locking=auto goes on without them too */
	if (r == -ENOTSUP || r == -ENOLCK || r == -EINVAL)
		return 0;
	if (r < 0)
		return hull_err_set(err, -r, "%s: lock", path);
	for (unsigned i = 0; i < DISK_PERM_COUNT; i++) {
		bool want = (perm >> i) & 1, keep = !((shared >> i) & 1);

		r = 0;
		if (want) {
			r = byte_is_taken(fd, DISK_LOCK_SHARED_BASE + i);
			if (r > 0)
				return hull_err_setx(err, EBUSY, "%s: failed to get \"%s\" lock: is "
						     "another process using the image?", path,
						     perm_names[i]);
		}
		if (r >= 0 && keep) {
			r = byte_is_taken(fd, DISK_LOCK_PERM_BASE + i);
			if (r > 0)
				return hull_err_setx(err, EBUSY, "%s: failed to get shared \"%s\" "
						     "lock: is another process using the image?",
						     path, perm_names[i]);
		}
		if (r < 0)
			return hull_err_set(err, -r, "%s: test lock", path);
	}
	return 0;
}
