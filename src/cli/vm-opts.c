/* `hull vm run` flag values to struct vm_config (vm-opts.h). */
#include "cli/vm-opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/size.h"

int vm_opt_uint(const char *s, unsigned *ret)
{
	unsigned long v;
	char *end;

	/* strtoul takes "-1" and " 8": only digits are a count */
	if (!s || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT_MAX)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

int vm_opt_size(const char *s, uint64_t *ret)
{
	int64_t v;

	if (size_parse(s, SIZE_DOCKER, &v) < 0)
		return -EINVAL;
	*ret = (uint64_t)v;
	return 0;
}

int vm_opt_vsock(const char *s, struct vm_config *cfg)
{
	unsigned long long v;
	char *end;

	if (strcmp(s, "auto") == 0) {
		cfg->vsock = cfg->vsock_auto = true;
		return 0;
	}
	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	cfg->vsock = true;
	cfg->vsock_auto = false;
	cfg->vsock_cid = v;
	return 0;
}

int vm_opt_console(const char *s, enum vm_console *ret)
{
	static const char *const names[VM_CONSOLE_COUNT] = {
		[VM_CONSOLE_SERIAL] = "serial", [VM_CONSOLE_NONE] = "none",
		[VM_CONSOLE_VIRTIO] = "virtio",
	};

	for (unsigned i = 0; i < VM_CONSOLE_COUNT; i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum vm_console)i;
			return 0;
		}
	return -EINVAL;
}

int vm_opt_disk(char *s, struct vm_disk_config *d, struct hull_err *err)
{
	char *save = NULL, *opt;

	memset(d, 0, sizeof(*d));
	d->format = DISK_FORMAT_RAW;
	/* strtok_r skips leading commas: ",ro" would be a disk named "ro" */
	d->path = s[0] == ',' ? NULL : strtok_r(s, ",", &save);
	if (!d->path || !*d->path)
		return hull_err_setx(err, EINVAL, "--disk: empty path");
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (strcmp(opt, "ro") == 0)
			d->readonly = true;
		else if (strcmp(opt, "rw") == 0)
			d->readonly = false;
		else if (strncmp(opt, "format=", 7) == 0) {
			/* "auto" is disk_format_parse's word too, but never a --disk format */
			if (disk_format_parse(opt + 7, &d->format) < 0 ||
			    d->format == DISK_FORMAT_AUTO)
				return hull_err_setx(err, EINVAL,
						     "--disk %s: format=%s: expected raw or qcow2",
						     d->path, opt + 7);
		} else if (strncmp(opt, "serial=", 7) == 0)
			d->serial = opt + 7; /* its length is the VMM's to check */
		else
			return hull_err_setx(err, EINVAL,
					     "--disk %s: unknown option '%s' (ro, rw, format=raw|qcow2, serial=ID)",
					     d->path, opt);
	}
	return 0;
}
