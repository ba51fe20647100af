/*
 * -v, --mount and --tmpfs parsed into struct vol_spec (docker's forms and keys), without
 * side effects: the CLI checks with them before anything is made, and the engine resolves
 * the same specs (volume.c).
 */
#include "engine/volspec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/ident.h"
#include "common/path.h"
#include "common/size.h"
#include "common/strv.h"

void vol_spec_clear(struct vol_spec *v)
{
	free(v->src);
	free(v->dst);
	free(v->prop);
	free(v->tmpfs_opts);
	strv_free(v->labels);
	memset(v, 0, sizeof(*v));
}

static bool is_prop(const char *s)
{
	static const char *const p[] = { "rshared", "rslave", "rprivate", "shared", "slave",
					  "private", NULL };

	for (size_t i = 0; p[i]; i++)
		if (strcmp(s, p[i]) == 0)
			return true;
	return false;
}

/* Check the container path and put it in its one form (path_normalize: "/data/" and
 * "/data" are the same mount point), so that every later comparison is a strcmp. */
static int check_dst(const char *flag, const char *arg, char **dst, struct hull_err *err)
{
	char *norm;

	if (!*dst || (*dst)[0] != '/')
		return hull_err_setx(err, EINVAL, "%s %s: the container path must be absolute",
				     flag, arg);
	if (strchr(*dst, ','))
		return hull_err_setx(err, EINVAL, "%s %s: ',' in the container path", flag, arg);
	norm = path_normalize(*dst);
	free(*dst);
	*dst = norm;
	if (strcmp(*dst, "/") == 0)
		return hull_err_setx(err, EINVAL, "%s %s: the container path cannot be '/'", flag,
				     arg);
	return 0;
}

/* -v's options: ro, rw, z, Z, nocopy, and a propagation */
static int v_options(const char *arg, char *opts, struct vol_spec *v, struct hull_err *err)
{
	char *save = NULL;

	for (char *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "ro") == 0)
			v->ro = true;
		else if (strcmp(t, "rw") == 0)
			v->ro = false;
		else if (strcmp(t, "z") == 0 || strcmp(t, "Z") == 0 || strcmp(t, "copy") == 0 ||
			 strcmp(t, "consistent") == 0 || strcmp(t, "cached") == 0 ||
			 strcmp(t, "delegated") == 0)
			continue; /* no SELinux labels here; the rest are macOS hints */
		else if (strcmp(t, "nocopy") == 0)
			v->nocopy = true;
		else if (is_prop(t)) {
			free(v->prop);
			v->prop = xstrdup(t);
		} else
			return hull_err_setx(err, EINVAL, "-v %s: unknown option '%s' (ro, rw, z, "
					     "Z, nocopy, rshared, rslave or rprivate)", arg, t);
	}
	return 0;
}

int vol_parse_v(const char *arg, struct vol_spec *v, struct hull_err *err)
{
	cleanup_free char *s = xstrdup(arg);
	char *parts[4] = { 0 };
	size_t n = 0;
	int r;

	memset(v, 0, sizeof(*v));
	for (char *p = s, *c; n < 4; p = c + 1) {
		parts[n++] = p;
		c = strchr(p, ':');
		if (!c)
			break;
		*c = '\0';
	}
	if (n == 4 || (n >= 1 && !*parts[0]))
		return hull_err_setx(err, EINVAL, "-v %s: expected [SOURCE:]/CONTAINER[:OPTIONS]",
				     arg);
	if (n == 1 || (n == 2 && parts[0][0] == '/' && parts[1][0] != '/')) {
		/* "/path" or "/path:ro": an anonymous volume */
		v->type = VOL_VOLUME;
		v->dst = xstrdup(parts[0]);
		r = check_dst("-v", arg, &v->dst, err);
		if (r == 0 && n == 2)
			r = v_options(arg, parts[1], v, err);
		return r;
	}
	v->src = xstrdup(parts[0]);
	v->dst = xstrdup(parts[1]);
	/* a source with a slash or a dot first is a host path, else a volume's name */
	v->type = parts[0][0] == '/' || parts[0][0] == '.' ? VOL_BIND : VOL_VOLUME;
	if (v->type == VOL_VOLUME && !vol_name_is_valid(v->src))
		return hull_err_setx(err, EINVAL, "-v %s: '%s' is not a valid volume name "
				     "([a-zA-Z0-9][a-zA-Z0-9_.-]*; a host path is absolute or "
				     "starts with '.')", arg, v->src);
	r = check_dst("-v", arg, &v->dst, err);
	if (r == 0 && n == 3)
		r = v_options(arg, parts[2], v, err);
	return r;
}

bool vol_name_is_valid(const char *n)
{
	return ident_name_is_valid(n, 128);
}

static int bool_value(const char *arg, const char *k, const char *val, bool *ret,
		      struct hull_err *err)
{
	if (!val || strcasecmp(val, "true") == 0 || strcmp(val, "1") == 0)
		*ret = true;
	else if (strcasecmp(val, "false") == 0 || strcmp(val, "0") == 0)
		*ret = false;
	else
		return hull_err_setx(err, EINVAL, "--mount %s: %s=%s: expected true or false",
				     arg, k, val);
	return 0;
}

static int tmpfs_mode(const char *flag, const char *arg, const char *val, unsigned *ret,
		      struct hull_err *err)
{
	char *end = NULL;
	unsigned long m;

	errno = 0;
	m = val && *val ? strtoul(val, &end, 8) : 0;
	if (!val || !*val || *end || errno || m > 07777)
		return hull_err_setx(err, EINVAL, "%s %s: mode %s: expected an octal mode",
				     flag, arg, val ? val : "");
	*ret = (unsigned)m;
	return 0;
}

static int mount_type(const char *arg, const char *val, struct vol_spec *v, bool *seen,
		      struct hull_err *err)
{
	if (!val)
		return hull_err_setx(err, EINVAL, "--mount %s: type needs a value", arg);
	if (strcmp(val, "bind") == 0)
		v->type = VOL_BIND;
	else if (strcmp(val, "volume") == 0)
		v->type = VOL_VOLUME;
	else if (strcmp(val, "tmpfs") == 0)
		v->type = VOL_TMPFS;
	else
		return hull_err_setx(err, EINVAL, "--mount %s: type %s: expected bind, volume or "
				     "tmpfs", arg, val);
	*seen = true;
	return 0;
}

/* one key=value of --mount; *what gets the key's kind for the type checks after */
static int mount_key(const char *arg, char *k, char *val, struct vol_spec *v, unsigned *what,
		     bool *typed, struct hull_err *err)
{
	if (strcmp(k, "type") == 0)
		return mount_type(arg, val, v, typed, err);
	if (strcmp(k, "readonly") == 0 || strcmp(k, "ro") == 0)
		return bool_value(arg, k, val, &v->ro, err);
	if (strcmp(k, "consistency") == 0 || strcmp(k, "bind-nonrecursive") == 0)
		return 0; /* macOS hint; a recursive bind always */
	if (strcmp(k, "volume-nocopy") == 0) {
		*what |= 4;
		return bool_value(arg, k, val, &v->nocopy, err);
	}
	if (!val || !*val)
		return hull_err_setx(err, EINVAL, "--mount %s: %s needs a value", arg, k);
	if (strcmp(k, "source") == 0 || strcmp(k, "src") == 0) {
		free(v->src);
		v->src = xstrdup(val);
	} else if (strcmp(k, "target") == 0 || strcmp(k, "destination") == 0 ||
		   strcmp(k, "dst") == 0) {
		free(v->dst);
		v->dst = xstrdup(val);
	} else if (strcmp(k, "bind-propagation") == 0) {
		if (!is_prop(val))
			return hull_err_setx(err, EINVAL, "--mount %s: bind-propagation %s: expected "
					     "rshared, rslave, rprivate, shared, slave or private",
					     arg, val);
		free(v->prop);
		v->prop = xstrdup(val);
		*what |= 1;
	} else if (strcmp(k, "tmpfs-size") == 0) {
		if (size_parse(val, SIZE_DOCKER, &v->tmpfs_size) < 0 || v->tmpfs_size <= 0)
			return hull_err_setx(err, EINVAL, "--mount %s: tmpfs-size %s: invalid size",
					     arg, val);
		*what |= 2;
	} else if (strcmp(k, "tmpfs-mode") == 0) {
		*what |= 2;
		return tmpfs_mode("--mount", arg, val, &v->tmpfs_mode, err);
	} else if (strcmp(k, "volume-label") == 0) {
		if (!strchr(val, '=') || val[0] == '=')
			return hull_err_setx(err, EINVAL, "--mount %s: volume-label %s: expected "
					     "KEY=VALUE", arg, val);
		strv_push(&v->labels, val);
		*what |= 4;
	} else if (strcmp(k, "volume-driver") == 0) {
		if (strcmp(val, "local") != 0)
			return hull_err_setx(err, EINVAL, "--mount %s: volume-driver %s: only the "
					     "local driver is supported", arg, val);
		*what |= 4;
	} else if (strcmp(k, "volume-opt") == 0) {
		return hull_err_setx(err, EINVAL, "--mount %s: volume-opt %s: driver options "
				     "are not supported (the local driver's data directory only)",
				     arg, val);
	} else {
		return hull_err_setx(err, EINVAL, "--mount %s: unknown key '%s'", arg, k);
	}
	return 0;
}

int vol_parse_mount(const char *arg, struct vol_spec *v, struct hull_err *err)
{
	cleanup_free char *s = xstrdup(arg);
	char *save = NULL;
	unsigned what = 0;
	bool typed = false;
	int r = 0;

	memset(v, 0, sizeof(*v));
	v->type = VOL_VOLUME; /* docker's default type */
	if (!*arg)
		return hull_err_setx(err, EINVAL, "--mount: empty value (type=...,target=...)");
	for (char *t = strtok_r(s, ",", &save); r == 0 && t; t = strtok_r(NULL, ",", &save)) {
		char *val = strchr(t, '=');

		if (val)
			*val++ = '\0';
		r = mount_key(arg, t, val, v, &what, &typed, err);
	}
	if (r < 0)
		return r;
	if (!v->dst)
		return hull_err_setx(err, EINVAL, "--mount %s: target is required", arg);
	r = check_dst("--mount", arg, &v->dst, err);
	if (r < 0)
		return r;
	if (((what & 1) && v->type != VOL_BIND) || ((what & 2) && v->type != VOL_TMPFS) ||
	    ((what & 4) && v->type != VOL_VOLUME))
		return hull_err_setx(err, EINVAL, "--mount %s: an option of another mount type "
				     "(bind-*, tmpfs-*, volume-*)", arg);
	if (v->type == VOL_BIND && !v->src)
		return hull_err_setx(err, EINVAL, "--mount %s: a bind needs a source", arg);
	if (v->type == VOL_TMPFS && v->src)
		return hull_err_setx(err, EINVAL, "--mount %s: a tmpfs has no source", arg);
	if (v->type == VOL_VOLUME && v->src && !vol_name_is_valid(v->src))
		return hull_err_setx(err, EINVAL, "--mount %s: '%s' is not a valid volume name",
				     arg, v->src);
	if (v->type == VOL_TMPFS && !v->tmpfs_mode)
		v->tmpfs_mode = 01777;
	return 0;
}

/* --tmpfs's options: size=, mode=, and the mount flags docker passes through */
int vol_parse_tmpfs(const char *arg, struct vol_spec *v, struct hull_err *err)
{
	static const char *const flags[] = { "ro", "rw", "exec", "noexec", "suid", "nosuid",
					      "dev", "nodev", "atime", "noatime", "relatime",
					      "strictatime", "nodiratime", NULL };
	cleanup_free char *s = xstrdup(arg);
	char *opts = strchr(s, ':'), *save = NULL;
	char **out = NULL;
	int r;

	memset(v, 0, sizeof(*v));
	v->type = VOL_TMPFS;
	v->tmpfs_mode = 01777;
	if (opts)
		*opts++ = '\0';
	v->dst = xstrdup(s);
	r = check_dst("--tmpfs", arg, &v->dst, err);
	for (char *t = opts ? strtok_r(opts, ",", &save) : NULL; r == 0 && t;
	     t = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		if (strncmp(t, "size=", 5) == 0) {
			if (size_parse(t + 5, SIZE_DOCKER, &v->tmpfs_size) < 0 || v->tmpfs_size <= 0)
				r = hull_err_setx(err, EINVAL, "--tmpfs %s: %s: invalid size", arg, t);
			continue;
		}
		if (strncmp(t, "mode=", 5) == 0) {
			r = tmpfs_mode("--tmpfs", arg, t + 5, &v->tmpfs_mode, err);
			continue;
		}
		while (flags[i] && strcmp(flags[i], t) != 0)
			i++;
		if (!flags[i]) {
			r = hull_err_setx(err, EINVAL, "--tmpfs %s: unknown option '%s' (size=, "
					  "mode=, ro, rw, exec, noexec, suid, nosuid, dev, nodev)",
					  arg, t);
			continue;
		}
		if (strcmp(t, "ro") == 0)
			v->ro = true;
		else
			strv_push(&out, t);
	}
	for (size_t i = 0; r == 0 && out && out[i]; i++) {
		char *j = v->tmpfs_opts ? xasprintf("%s,%s", v->tmpfs_opts, out[i])
					: xstrdup(out[i]);

		free(v->tmpfs_opts);
		v->tmpfs_opts = j;
	}
	strv_free(out);
	return r;
}
