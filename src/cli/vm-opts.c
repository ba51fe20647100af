/* `hull vm run` flag values to struct vm_config (vm-opts.h). */
#include "cli/vm-opts.h"

#include <ctype.h>
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

/* XX:XX:XX:XX:XX:XX, hex digits, two per byte. */
static int vm_opt_mac(const char *s, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++) {
		char hex[3] = { s[0], s[0] ? s[1] : 0, 0 };
		char *end;

		if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul(hex, &end, 16);
		s += 2;
		if (*s != (i < 5 ? ':' : '\0'))
			return -EINVAL;
		s += i < 5;
	}
	return 0;
}

int vm_opt_net(char *s, struct vm_net_config *n, struct hull_err *err)
{
	char *save = NULL, *opt;

	memset(n, 0, sizeof(*n));
	for (opt = strtok_r(s, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (strncmp(opt, "tap=", 4) == 0)
			n->tap = opt + 4; /* its length is the VMM's to check */
		else if (strncmp(opt, "mac=", 4) == 0) {
			if (vm_opt_mac(opt + 4, n->mac) < 0)
				return hull_err_setx(err, EINVAL,
						     "--net: mac=%s: expected XX:XX:XX:XX:XX:XX",
						     opt + 4);
			n->mac_set = true;
		} else if (strncmp(opt, "queues=", 7) == 0) {
			if (vm_opt_uint(opt + 7, &n->queues) < 0 || n->queues == 0)
				return hull_err_setx(err, EINVAL,
						     "--net: queues=%s: expected a number of queue pairs",
						     opt + 7);
		} else
			return hull_err_setx(err, EINVAL,
					     "--net: unknown option '%s' (tap=IFNAME, mac=MAC, queues=N)",
					     opt);
	}
	if (!n->tap || !*n->tap)
		return hull_err_setx(err, EINVAL, "--net: tap=IFNAME is required");
	return 0;
}
