/*
 * --security-opt, --device, --group-add, --sysctl, --ulimit of `hull run/create`: the
 * syntax (docker's) checked here, one line naming the flag on bad input; the engine
 * (engine/security.c) applies the values.
 */
#include "cli/create-security.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "net/net.h"

#define MAX_GROUP_ADD 65536

/* arg as printed in an error: one line whatever it holds */
static char *shown(const char *arg)
{
	char *s = xstrdup(arg);

	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

static bool is_bool(const char *v, bool *ret)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		*ret = v[0] == 't';
		return true;
	}
	return false;
}

/* docker's: KEY=VALUE, the old KEY:VALUE, or no-new-privileges alone */
static int security_opt(const char *cmd, const char *arg, struct run_opts *o)
{
	cleanup_free char *s = shown(arg);
	size_t k = strcspn(arg, "=:");
	cleanup_free char *key = xstrndup(arg, k);
	const char *val = arg[k] ? arg + k + 1 : NULL;

	if (strcmp(key, "no-new-privileges") == 0) {
		if (val && !is_bool(val, &o->no_new_privs))
			return cli_usage_error(cmd, "--security-opt %s: no-new-privileges takes "
					       "true or false", s);
		if (!val)
			o->no_new_privs = true;
		return 0;
	}
	if (!val || !*val)
		return cli_usage_error(cmd, "--security-opt %s: use KEY=VALUE (seccomp, "
				       "no-new-privileges, systempaths, apparmor, label)", s);
	if (strcmp(key, "seccomp") == 0) {
		o->seccomp = val;
		return 0;
	}
	if (strcmp(key, "systempaths") == 0) {
		if (strcmp(val, "unconfined") != 0)
			return cli_usage_error(cmd, "--security-opt %s: systempaths takes only "
					       "unconfined", s);
		o->unmask_paths = true;
		return 0;
	}
	/* docker on a host without AppArmor or SELinux accepts and ignores these; hull applies
	 * neither (docs/engine.md "Security") */
	if (strcmp(key, "apparmor") == 0 || strcmp(key, "label") == 0)
		return 0;
	return cli_usage_error(cmd, "--security-opt %s: unknown option (seccomp, "
			       "no-new-privileges, systempaths, apparmor, label)", s);
}

/* r, w and m, each at most once, as "rwm" ordered */
static bool perms_parse(const char *p, char ret[4])
{
	bool r = false, w = false, m = false;
	size_t n = 0;

	if (!*p)
		return false;
	for (; *p; p++) {
		bool *b = *p == 'r' ? &r : *p == 'w' ? &w : *p == 'm' ? &m : NULL;

		if (!b || *b)
			return false;
		*b = true;
	}
	if (r)
		ret[n++] = 'r';
	if (w)
		ret[n++] = 'w';
	if (m)
		ret[n++] = 'm';
	ret[n] = '\0';
	return true;
}

static bool dev_path_ok(const char *p)
{
	return p[0] == '/' && p[1] && strlen(p) < 4096 && !strchr(p, '\n');
}

int cli_device_parse(const char *arg, struct run_device *ret)
{
	cleanup_free char *copy = xstrdup(arg);
	const char *f[3] = { 0 }, *dst = NULL, *perms = "rwm";
	size_t n = 0;
	char *p = copy, *t;

	memset(ret, 0, sizeof(*ret));
	/* strsep, not strtok: "a::b" has an empty field */
	while ((t = strsep(&p, ":"))) {
		if (n == 3)
			return -EINVAL;
		f[n++] = t;
	}
	if (n == 2) {
		char tmp[4];

		/* HOST:PERMS or HOST:CONTAINER, as docker reads it */
		if (perms_parse(f[1], tmp))
			perms = f[1];
		else
			dst = f[1];
	} else if (n == 3) {
		dst = f[1];
		perms = f[2];
	}
	if (!dev_path_ok(f[0]) || (dst && !dev_path_ok(dst)) || !perms_parse(perms, ret->perms))
		return -EINVAL;
	ret->host = xstrdup(f[0]);
	ret->path = xstrdup(dst ? dst : f[0]);
	return 0;
}

static const struct {
	const char *name, *rlimit;
	int resource;
} ulimits[] = {
	{ "core", "RLIMIT_CORE", RLIMIT_CORE },
	{ "cpu", "RLIMIT_CPU", RLIMIT_CPU },
	{ "data", "RLIMIT_DATA", RLIMIT_DATA },
	{ "fsize", "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "locks", "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "memlock", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "msgqueue", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "nice", "RLIMIT_NICE", RLIMIT_NICE },
	{ "nofile", "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "nproc", "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "rss", "RLIMIT_RSS", RLIMIT_RSS },
	{ "rtprio", "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "rttime", "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "sigpending", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "stack", "RLIMIT_STACK", RLIMIT_STACK },
};

/* a limit: decimal 0..2^63-1, or -1 / "unlimited" for RLIM_INFINITY */
static bool limit_parse(const char *s, uint64_t *ret)
{
	char *end = NULL;
	long long v;

	if (strcmp(s, "-1") == 0 || strcmp(s, "unlimited") == 0) {
		*ret = RLIM_INFINITY;
		return true;
	}
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return false;
	*ret = (uint64_t)v;
	return true;
}

int cli_ulimit_parse(const char *arg, struct oci_rlimit *ret)
{
	size_t k = strcspn(arg, "=");
	cleanup_free char *vals = arg[k] ? xstrdup(arg + k + 1) : NULL;
	char *hard;
	size_t i;

	for (i = 0; i < sizeof(ulimits) / sizeof(ulimits[0]); i++)
		if (strlen(ulimits[i].name) == k && strncmp(arg, ulimits[i].name, k) == 0)
			break;
	if (i == sizeof(ulimits) / sizeof(ulimits[0]) || !vals)
		return -EINVAL;
	hard = strchr(vals, ':');
	if (hard)
		*hard++ = '\0';
	if (!limit_parse(vals, &ret->soft) || (hard && !limit_parse(hard, &ret->hard)))
		return -EINVAL;
	if (!hard)
		ret->hard = ret->soft;
	/* RLIM_INFINITY is the largest value, as the kernel compares them */
	if (ret->soft > ret->hard)
		return -ERANGE;
	ret->resource = ulimits[i].resource;
	ret->name = ulimits[i].rlimit;
	return 0;
}

/* docker's list (docs.docker.com, "Configure namespaced kernel parameters at runtime") */
bool cli_sysctl_key_ok(const char *key, bool *needs_netns)
{
	static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
					   "kernel.sem", "kernel.shmall", "kernel.shmmax",
					   "kernel.shmmni", "kernel.shm_rmid_forced", NULL };
	const char *c;

	*needs_netns = false;
	/* the key becomes a path under /proc/sys: letters, digits, _ - and single dots */
	if (!*key || *key == '.' || strlen(key) > 255)
		return false;
	for (c = key; *c; c++)
		if (!(*c == '.' || *c == '_' || *c == '-' || (*c >= 'a' && *c <= 'z') ||
		      (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')) ||
		    (*c == '.' && (c[1] == '.' || c[1] == '\0')))
			return false;
	for (size_t i = 0; ipc[i]; i++)
		if (strcmp(key, ipc[i]) == 0)
			return true;
	if (strncmp(key, "fs.mqueue.", 10) == 0 && key[10])
		return true;
	if (strncmp(key, "net.", 4) == 0 && key[4]) {
		*needs_netns = true;
		return true;
	}
	return false;
}

static int sysctl_opt(const char *cmd, const char *arg, struct run_opts *o)
{
	cleanup_free char *s = shown(arg);
	size_t k = strcspn(arg, "=");
	cleanup_free char *key = xstrndup(arg, k);
	bool netns;

	if (!arg[k])
		return cli_usage_error(cmd, "--sysctl %s: use KEY=VALUE", s);
	if (!cli_sysctl_key_ok(key, &netns))
		return cli_usage_error(cmd, "--sysctl %s: not a namespaced kernel parameter a "
				       "container may set (kernel.msgmax, kernel.msgmnb, "
				       "kernel.msgmni, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)",
				       s);
	for (const char *c = arg + k + 1; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return cli_usage_error(cmd, "--sysctl %s: the value has a control "
					       "character", s);
	if (strv_length(o->sysctls) >= OCI_MAX_SYSCTL)
		return cli_usage_error(cmd, "--sysctl: more than %d", OCI_MAX_SYSCTL);
	strv_push(&o->sysctls, arg);
	return 0;
}

static bool group_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > 256 || g[0] == '-')
		return false;
	for (; *g; g++)
		if ((unsigned char)*g <= 0x20 || *g == 0x7f || *g == ':' || *g == ',')
			return false;
	return true;
}

static int device_opt(const char *cmd, const char *arg, struct run_opts *o)
{
	cleanup_free char *s = shown(arg);
	struct run_device d;

	if (cli_device_parse(arg, &d) < 0)
		return cli_usage_error(cmd, "--device %s: use HOST[:CONTAINER][:PERMS] (absolute "
				       "paths, PERMS some of r, w and m)", s);
	if (o->n_devices >= OCI_MAX_DEVICES) {
		free(d.host);
		free(d.path);
		return cli_usage_error(cmd, "--device: more than %d", OCI_MAX_DEVICES);
	}
	o->devices = xreallocarray(o->devices, o->n_devices + 1, sizeof(*o->devices));
	o->devices[o->n_devices++] = d;
	return 0;
}

static int ulimit_opt(const char *cmd, const char *arg, struct run_opts *o)
{
	cleanup_free char *s = shown(arg);
	struct oci_rlimit rl;
	int r = cli_ulimit_parse(arg, &rl);
	size_t i;

	if (r == -ERANGE)
		return cli_usage_error(cmd, "--ulimit %s: the soft limit is above the hard limit",
				       s);
	if (r < 0)
		return cli_usage_error(cmd, "--ulimit %s: use NAME=SOFT[:HARD] (NAME: core, cpu, "
				       "data, fsize, locks, memlock, msgqueue, nice, nofile, "
				       "nproc, rss, rtprio, rttime, sigpending, stack; a limit: "
				       "a number or -1 for unlimited)", s);
	/* a name given twice: the last one counts (docker's) */
	for (i = 0; i < o->n_rlimits && o->rlimits[i].resource != rl.resource; i++)
		;
	if (i == o->n_rlimits)
		o->rlimits = xreallocarray(o->rlimits, ++o->n_rlimits, sizeof(*o->rlimits));
	o->rlimits[i] = rl;
	return 0;
}

int cli_security_opt(const char *cmd, int opt, const char *arg, struct run_opts *o)
{
	cleanup_free char *s = NULL;
	int r;

	switch (opt) {
	case CLI_SEC_SECURITY_OPT:
		if (strv_length(o->security_opt_given) >= MAX_GROUP_ADD)
			return cli_usage_error(cmd, "--security-opt: more than %d", MAX_GROUP_ADD);
		if ((r = security_opt(cmd, arg, o)) != 0)
			return r;
		strv_push(&o->security_opt_given, arg); /* inspect shows it as typed (docker) */
		return 0;
	case CLI_SEC_DEVICE: return device_opt(cmd, arg, o);
	case CLI_SEC_SYSCTL: return sysctl_opt(cmd, arg, o);
	case CLI_SEC_ULIMIT: return ulimit_opt(cmd, arg, o);
	default:
		if (!group_ok(arg))
			return cli_usage_error(cmd, "--group-add %s: not a group name or gid",
					       s = shown(arg));
		if (strv_length(o->group_add) >= MAX_GROUP_ADD)
			return cli_usage_error(cmd, "--group-add: more than %d", MAX_GROUP_ADD);
		strv_push(&o->group_add, arg);
		return 0;
	}
}

int cli_security_check(const char *cmd, const struct run_opts *o)
{
	struct hull_err err = { 0 };
	enum net_mode m;

	if (net_mode_parse(o->network, &m, &err) < 0)
		return 0; /* said by the caller */
	for (size_t i = 0; o->sysctls && o->sysctls[i]; i++) {
		cleanup_free char *s = shown(o->sysctls[i]);

		if (strncmp(o->sysctls[i], "net.", 4) == 0 && !net_mode_has_netns(m))
			return cli_usage_error(cmd, "--sysctl %s: net.* needs the container's own "
					       "network namespace (not --network host)", s);
	}
	return 0;
}

void cli_security_free(struct run_opts *o)
{
	for (size_t i = 0; i < o->n_devices; i++) {
		free(o->devices[i].host);
		free(o->devices[i].path);
	}
	free(o->devices);
	free(o->rlimits);
	strv_free(o->group_add);
	strv_free(o->sysctls);
	strv_free(o->security_opt_given);
	o->security_opt_given = NULL;
	o->devices = NULL;
	o->rlimits = NULL;
	o->group_add = o->sysctls = NULL;
	o->n_devices = o->n_rlimits = 0;
}
