/* `hull vm run` flag values to struct vm_config (vm-opts.h). */
#include "cli/vm-opts.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/mac.h"
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

int vm_opt_id(const char *s, int64_t *ret)
{
	unsigned v;

	/* (uid_t)-1 means "unchanged" to setuid: never an id */
	if (vm_opt_uint(s, &v) < 0 || v == UINT_MAX)
		return -EINVAL;
	*ret = v;
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

/*
 * BYTES=SIZE, OPS=N and their one-time bursts (BYTES_burst=SIZE, OPS_burst=N): Firecracker's
 * buckets with a refill time of one second; a disk's names are bps and iops, a NIC's (after
 * rx_ or tx_) bps and pps. 0, -EINVAL for a bad value, -ENOENT for another key.
 */
static int rate_opt(const char *opt, const char *bytes_key, const char *ops_key,
		    struct ratelimit_config *rate)
{
	const char *keys[2] = { bytes_key, ops_key };

	for (unsigned k = 0; k < 4; k++) {
		bool bytes = k < 2, burst = k % 2;
		struct token_bucket_config *b = bytes ? &rate->bytes : &rate->ops;
		size_t n = strlen(keys[!bytes]);
		const char *v_s = opt + n;
		uint64_t v;
		unsigned u;

		if (strncmp(opt, keys[!bytes], n) != 0)
			continue;
		if (burst && strncmp(v_s, "_burst=", 7) == 0)
			v_s += 7;
		else if (!burst && *v_s == '=')
			v_s++;
		else
			continue;
		if (bytes ? vm_opt_size(v_s, &v) < 0 : vm_opt_uint(v_s, &u) < 0)
			return -EINVAL;
		if (!bytes)
			v = u;
		if (burst)
			b->one_time_burst = v;
		else
			b->size = v;
		b->refill_ms = 1000;
		return 0;
	}
	return -ENOENT;
}

static int disk_rate_opt(const char *opt, struct ratelimit_config *rate)
{
	return rate_opt(opt, "bps", "iops", rate);
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
		else if (disk_rate_opt(opt, &d->rate) == 0)
			continue;
		else if (strchr(opt, '=') && disk_rate_opt(opt, &d->rate) == -EINVAL)
			return hull_err_setx(err, EINVAL,
					     "--disk %s: %s: expected a number (bps and its burst take sizes: 10M)",
					     d->path, opt);
		else
			return hull_err_setx(err, EINVAL,
					     "--disk %s: unknown option '%s' (ro, rw, format=raw|qcow2, serial=ID, bps=, iops=, bps_burst=, iops_burst=)",
					     d->path, opt);
	}
	return 0;
}

/* vhost=on|off|auto (--net); 0 or -EINVAL */
static int vm_opt_vhost(const char *s, enum vm_net_vhost *ret)
{
	if (strcmp(s, "on") == 0)
		*ret = VM_NET_VHOST_ON;
	else if (strcmp(s, "off") == 0)
		*ret = VM_NET_VHOST_OFF;
	else if (strcmp(s, "auto") == 0)
		*ret = VM_NET_VHOST_AUTO;
	else
		return -EINVAL;
	return 0;
}

int vm_opt_net(char *s, struct vm_net_config *n, struct hull_err *err)
{
	char *save = NULL, *opt;
	int r;

	memset(n, 0, sizeof(*n));
	for (opt = strtok_r(s, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (strncmp(opt, "tap=", 4) == 0)
			n->tap = opt + 4; /* its length is the VMM's to check */
		else if (strncmp(opt, "mac=", 4) == 0) {
			if (mac_parse(opt + 4, n->mac) < 0)
				return hull_err_setx(err, EINVAL,
						     "--net: mac=%s: not a unicast MAC address "
						     "(XX:XX:XX:XX:XX:XX)",
						     opt + 4);
			n->mac_set = true;
		} else if (strncmp(opt, "queues=", 7) == 0) {
			if (vm_opt_uint(opt + 7, &n->queues) < 0 || n->queues == 0)
				return hull_err_setx(err, EINVAL,
						     "--net: queues=%s: expected a number of queue pairs",
						     opt + 7);
		} else if (strncmp(opt, "vhost=", 6) == 0) {
			n->vhost_set = true;
			if (vm_opt_vhost(opt + 6, &n->vhost) < 0)
				return hull_err_setx(err, EINVAL,
						     "--net: vhost=%s: expected on, off or auto", opt + 6);
		} else if ((strncmp(opt, "rx_", 3) == 0 || strncmp(opt, "tx_", 3) == 0) &&
			   (r = rate_opt(opt + 3, "bps", "pps",
					 opt[0] == 'r' ? &n->rx_rate : &n->tx_rate)) != -ENOENT) {
			if (r < 0)
				return hull_err_setx(err, EINVAL,
						     "--net: %s: expected a number (bps and its burst take sizes: 10M)",
						     opt);
		} else
			return hull_err_setx(err, EINVAL,
					     "--net: unknown option '%s' (tap=IFNAME, mac=MAC, queues=N, "
					     "vhost=on|off|auto, rx_bps=, rx_pps=, tx_bps=, tx_pps= and their _burst)",
					     opt);
	}
	if (!n->tap || !*n->tap)
		return hull_err_setx(err, EINVAL, "--net: tap=IFNAME is required");
	return 0;
}

/* on or off (a balloon's switches); 0 or -EINVAL */
static int vm_opt_onoff(const char *s, bool *ret)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0)
		*ret = true;
	else if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int vm_opt_balloon(char *s, struct vm_balloon_config *b, struct hull_err *err)
{
	char *save = NULL, *opt;

	memset(b, 0, sizeof(*b));
	b->enabled = true;
	for (opt = strtok_r(s, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		char *val = strchr(opt, '=');
		unsigned n = 0;
		int r;

		if (val)
			*val++ = '\0';
		if (!val && strcmp(opt, "on") == 0)
			continue; /* --balloon on: the defaults */
		if (!val)
			return hull_err_setx(err, EINVAL, "--balloon: '%s': expected NAME=VALUE or on",
					     opt);
		if (strcmp(opt, "amount_mib") == 0) {
			r = vm_opt_uint(val, &n);
			b->amount_mib = n;
		} else if (strcmp(opt, "stats") == 0) {
			r = vm_opt_uint(val, &n);
			b->stats_s = n;
		} else if (strcmp(opt, "deflate_on_oom") == 0)
			r = vm_opt_onoff(val, &b->deflate_on_oom);
		else if (strcmp(opt, "free_page_reporting") == 0)
			r = vm_opt_onoff(val, &b->free_page_reporting);
		else
			return hull_err_setx(err, EINVAL,
					     "--balloon: unknown option '%s' (amount_mib=N, deflate_on_oom=on, stats=SECONDS, free_page_reporting=on)",
					     opt);
		if (r < 0)
			return hull_err_setx(err, EINVAL, "--balloon: %s=%s: %s", opt, val,
					     strcmp(opt, "amount_mib") == 0 ? "expected a number of MiB" :
					     strcmp(opt, "stats") == 0 ? "expected a number of seconds" :
					     "expected on or off");
	}
	return 0;
}

int vm_opt_mem_hotplug(char *s, struct vm_mem_hotplug_config *h, struct hull_err *err)
{
	char *save = NULL, *opt = strtok_r(s, ",", &save);

	memset(h, 0, sizeof(*h));
	if (!opt || vm_opt_size(opt, &h->size) < 0 || h->size == 0)
		return hull_err_setx(err, EINVAL, "--memory-hotplug: '%s': expected SIZE[,block=SIZE] "
				     "(e.g. 1G,block=2M)", opt ? opt : "");
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (strncmp(opt, "block=", 6) != 0)
			return hull_err_setx(err, EINVAL, "--memory-hotplug: unknown option '%s' "
					     "(block=SIZE)", opt);
		if (vm_opt_size(opt + 6, &h->block_size) < 0 || h->block_size == 0)
			return hull_err_setx(err, EINVAL, "--memory-hotplug: %s: not a size (e.g. "
					     "2M)", opt);
	}
	return 0;
}

int vm_opt_fs(char *s, struct vm_fs_config *f, struct hull_err *err)
{
	char *save = NULL, *opt;

	memset(f, 0, sizeof(*f));
	for (opt = strtok_r(s, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (strncmp(opt, "tag=", 4) == 0)
			f->tag = opt + 4; /* its length is the VMM's to check */
		else if (strncmp(opt, "socket=", 7) == 0)
			f->socket = opt + 7;
		else if (strncmp(opt, "queues=", 7) == 0) {
			if (vm_opt_uint(opt + 7, &f->queues) < 0 || f->queues == 0)
				return hull_err_setx(err, EINVAL,
						     "--fs: queues=%s: expected a number of request queues",
						     opt + 7);
		} else if (strncmp(opt, "queue-size=", 11) == 0) {
			if (vm_opt_uint(opt + 11, &f->queue_size) < 0 || f->queue_size == 0)
				return hull_err_setx(err, EINVAL,
						     "--fs: queue-size=%s: expected a ring size", opt + 11);
		} else
			return hull_err_setx(err, EINVAL, "--fs: unknown option '%s' (tag=TAG, "
					     "socket=PATH, queues=N, queue-size=N)", opt);
	}
	if (!f->tag || !*f->tag || !f->socket || !*f->socket)
		return hull_err_setx(err, EINVAL, "--fs: tag=TAG and socket=PATH are required");
	return 0;
}
