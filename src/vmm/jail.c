/*
 * The --chroot/--uid/--gid jail (jail.h). Simpler than Firecracker's jailer, which also
 * creates the chroot's device nodes, cgroups and namespaces: hull opens every file the VM
 * needs (kernel, initrd, disks, /dev/kvm, the API socket) before it enters the jail, so the
 * directory may be empty.
 */
#include "vmm/jail.h"

#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/vmm.h"

int vmm_jail_check(const struct vm_config *cfg, struct hull_err *err)
{
	struct stat st;

	if (cfg->chroot) {
		if (stat(cfg->chroot, &st) < 0)
			return hull_err_set(err, errno, "--chroot %s", cfg->chroot);
		if (!S_ISDIR(st.st_mode))
			return hull_err_setx(err, ENOTDIR, "--chroot %s: not a directory",
					     cfg->chroot);
	}
	if (cfg->uid < -1 || cfg->uid > (int64_t)UINT32_MAX - 1)
		return hull_err_setx(err, EINVAL, "--uid %lld: not a user id", (long long)cfg->uid);
	if (cfg->gid < -1 || cfg->gid > (int64_t)UINT32_MAX - 1)
		return hull_err_setx(err, EINVAL, "--gid %lld: not a group id", (long long)cfg->gid);
	return 0;
}

int vmm_jail_enter(const struct vm_config *cfg, struct hull_err *err)
{
	if (cfg->chroot) {
		if (chroot(cfg->chroot) < 0)
			return hull_err_set(err, errno, "--chroot %s", cfg->chroot);
		if (chdir("/") < 0)
			return hull_err_set(err, errno, "--chroot %s: chdir /", cfg->chroot);
	}
	/* groups first, then the gid, the uid last: after it, nothing else may be changed */
	if ((cfg->uid >= 0 || cfg->gid >= 0) && setgroups(0, NULL) < 0)
		return hull_err_set(err, errno, "--uid/--gid: setgroups");
	if (cfg->gid >= 0 && setgid((gid_t)cfg->gid) < 0)
		return hull_err_set(err, errno, "--gid %lld", (long long)cfg->gid);
	if (cfg->uid >= 0 && setuid((uid_t)cfg->uid) < 0)
		return hull_err_set(err, errno, "--uid %lld", (long long)cfg->uid);
	return 0;
}
