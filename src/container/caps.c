/* process.capabilities: see caps.h for the order and docs/runtime.md "Capabilities". */
#include "container/caps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"

#define CAPS_WHERE "config.json: process.capabilities"

int caps_kernel_last(void)
{
	static int last = -1;
	cleanup_close int fd = -1;
	char buf[16] = { 0 };
	ssize_t n;

	if (last >= 0)
		return last;
	last = 40; /* CAP_CHECKPOINT_RESTORE: Linux 5.9 and later */
	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return last;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		long v = strtol(buf, NULL, 10);

		if (v > 0 && v < 64)
			last = (int)v;
	}
	return last;
}

uint64_t caps_kernel_mask(void)
{
	int last = caps_kernel_last();

	return last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
}

int caps_parse_hex(const char *s, uint64_t *ret)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 16);
	if (errno || end == s)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int cap_get(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d) < 0)
		return -errno;
	*eff = d[0].effective | ((uint64_t)d[1].effective << 32);
	*prm = d[0].permitted | ((uint64_t)d[1].permitted << 32);
	*inh = d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
	return 0;
}

static int cap_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	for (int i = 0; i < 2; i++) {
		d[i].effective = (uint32_t)(eff >> (32 * i));
		d[i].permitted = (uint32_t)(prm >> (32 * i));
		d[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	return syscall(SYS_capset, &hdr, d) < 0 ? -errno : 0;
}

static const char *set_name(enum oci_cap_set s)
{
	static const char *const names[OCI_CAP_COUNT] = {
		[OCI_CAP_BOUNDING] = "bounding",       [OCI_CAP_EFFECTIVE] = "effective",
		[OCI_CAP_INHERITABLE] = "inheritable", [OCI_CAP_PERMITTED] = "permitted",
		[OCI_CAP_AMBIENT] = "ambient",
	};
	return names[s];
}

int caps_prepare(const struct oci_process *p, uint64_t extra, struct hull_err *err)
{
	uint64_t keep = p->caps[OCI_CAP_BOUNDING] & caps_kernel_mask();
	int last = caps_kernel_last();
	int r;

	/* The model knows every capability name; this kernel may not (runc 1.1 skips them). */
	for (int s = 0; s < OCI_CAP_COUNT; s++)
		if (p->caps[s] & ~caps_kernel_mask())
			log_debug(CAPS_WHERE ".%s: capabilities above %d: the kernel lacks them, "
				  "ignored", set_name((enum oci_cap_set)s), last);

	if (extra) {
		uint64_t eff = 0, prm = 0, inh = 0;

		/* capset refuses an inheritable bit outside the bounding set: raise it now. */
		if ((r = cap_get(&eff, &prm, &inh)) < 0 || (r = cap_set(eff, prm, inh | extra)) < 0)
			return hull_err_set(err, -r, CAPS_WHERE ": keep capabilities for the "
					    "seccomp filter");
	}
	for (int n = 0; n <= last; n++) {
		if ((keep >> n) & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)n, 0, 0, 0) < 0 && errno != EINVAL)
			return hull_err_set(err, errno, CAPS_WHERE ".bounding: drop %d", n);
	}
	/* Keep permitted across setresuid() to a non-zero uid (capabilities(7)). */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return hull_err_set(err, errno, "prctl PR_SET_KEEPCAPS");
	return 0;
}

int caps_apply(const struct oci_process *p, uint64_t extra, struct hull_err *err)
{
	uint64_t mask = caps_kernel_mask();
	uint64_t eff = (p->caps[OCI_CAP_EFFECTIVE] & mask) | extra;
	uint64_t prm = (p->caps[OCI_CAP_PERMITTED] & mask) | extra;
	uint64_t inh = (p->caps[OCI_CAP_INHERITABLE] & mask) | extra;
	uint64_t amb = (p->caps[OCI_CAP_AMBIENT] & mask) | extra;
	int r;

	/* The kernel wants effective within permitted; runc passes the sets as given and
	 * fails in the same way, so say which set is at fault. */
	if (eff & ~prm)
		return hull_err_setx(err, EINVAL,
				     CAPS_WHERE ".effective: holds capabilities that are not in "
				     "permitted");
	if ((r = cap_set(eff, prm, inh)) < 0)
		return hull_err_set(err, -r, CAPS_WHERE ": capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return hull_err_set(err, errno, CAPS_WHERE ".ambient: clear");
	for (int n = 0; n < 64; n++) {
		if (!((amb >> n) & 1))
			continue;
		/* As runc: an ambient capability that is not both permitted and inheritable
		 * cannot be raised; it is skipped with a debug line, not fatal. */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)n, 0, 0) < 0)
			log_debug(CAPS_WHERE ".%s: cannot raise %d: %s", set_name(OCI_CAP_AMBIENT),
				  n, strerror(errno));
	}
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}
