/* config.json: mounts and the linux section (runtime-spec config.md "Mounts", config-linux.md). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "common/path.h"
#include "common/strv.h"
#include "container/idmap.h"
#include "oci/spec-internal.h"
#include "oci/spec.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const struct {
	const char *name;
	int clone_flag;
} ns_names[OCI_NS_COUNT] = {
	[OCI_NS_USER] = { "user", CLONE_NEWUSER },
	[OCI_NS_MOUNT] = { "mount", CLONE_NEWNS },
	[OCI_NS_PID] = { "pid", CLONE_NEWPID },
	[OCI_NS_NET] = { "network", CLONE_NEWNET },
	[OCI_NS_IPC] = { "ipc", CLONE_NEWIPC },
	[OCI_NS_UTS] = { "uts", CLONE_NEWUTS },
	[OCI_NS_CGROUP] = { "cgroup", CLONE_NEWCGROUP },
	[OCI_NS_TIME] = { "time", CLONE_NEWTIME },
};

const char *oci_ns_name(enum oci_ns_kind kind)
{
	return kind < OCI_NS_COUNT ? ns_names[kind].name : "?";
}

int oci_ns_clone_flag(enum oci_ns_kind kind)
{
	return kind < OCI_NS_COUNT ? ns_names[kind].clone_flag : 0;
}

enum opt_kind { OPT_FLAG, OPT_PROPAGATION, OPT_ATTR, OPT_ATIME, OPT_BIND, OPT_OTHER };

/*
 * mount(8) options: flag options set (clear == false) or clear an MS_* bit; "r"-prefixed
 * ones change mount attributes recursively (mount_setattr(2) with AT_RECURSIVE).
 */
static const struct mount_opt {
	const char *name;
	enum opt_kind kind;
	bool clear;
	unsigned long flag; /* MS_* or MOUNT_ATTR_* */
} mount_opts[] = {
	{ "defaults", OPT_FLAG, false, 0 },
	{ "ro", OPT_FLAG, false, MS_RDONLY },
	{ "rw", OPT_FLAG, true, MS_RDONLY },
	{ "nosuid", OPT_FLAG, false, MS_NOSUID },
	{ "suid", OPT_FLAG, true, MS_NOSUID },
	{ "nodev", OPT_FLAG, false, MS_NODEV },
	{ "dev", OPT_FLAG, true, MS_NODEV },
	{ "noexec", OPT_FLAG, false, MS_NOEXEC },
	{ "exec", OPT_FLAG, true, MS_NOEXEC },
	{ "sync", OPT_FLAG, false, MS_SYNCHRONOUS },
	{ "async", OPT_FLAG, true, MS_SYNCHRONOUS },
	{ "dirsync", OPT_FLAG, false, MS_DIRSYNC },
	{ "remount", OPT_FLAG, false, MS_REMOUNT },
	{ "mand", OPT_FLAG, false, MS_MANDLOCK },
	{ "nomand", OPT_FLAG, true, MS_MANDLOCK },
	{ "atime", OPT_FLAG, true, MS_NOATIME },
	{ "noatime", OPT_FLAG, false, MS_NOATIME },
	{ "diratime", OPT_FLAG, true, MS_NODIRATIME },
	{ "nodiratime", OPT_FLAG, false, MS_NODIRATIME },
	{ "relatime", OPT_FLAG, false, MS_RELATIME },
	{ "norelatime", OPT_FLAG, true, MS_RELATIME },
	{ "strictatime", OPT_FLAG, false, MS_STRICTATIME },
	{ "nostrictatime", OPT_FLAG, true, MS_STRICTATIME },
	{ "lazytime", OPT_FLAG, false, MS_LAZYTIME },
	{ "nolazytime", OPT_FLAG, true, MS_LAZYTIME },
	{ "silent", OPT_FLAG, false, MS_SILENT },
	{ "loud", OPT_FLAG, true, MS_SILENT },
	{ "nosymfollow", OPT_FLAG, false, MS_NOSYMFOLLOW },
	{ "symfollow", OPT_FLAG, true, MS_NOSYMFOLLOW },
	{ "bind", OPT_BIND, false, 0 },
	{ "rbind", OPT_BIND, false, MS_REC },
	{ "shared", OPT_PROPAGATION, false, MS_SHARED },
	{ "rshared", OPT_PROPAGATION, false, MS_SHARED | MS_REC },
	{ "slave", OPT_PROPAGATION, false, MS_SLAVE },
	{ "rslave", OPT_PROPAGATION, false, MS_SLAVE | MS_REC },
	{ "private", OPT_PROPAGATION, false, MS_PRIVATE },
	{ "rprivate", OPT_PROPAGATION, false, MS_PRIVATE | MS_REC },
	{ "unbindable", OPT_PROPAGATION, false, MS_UNBINDABLE },
	{ "runbindable", OPT_PROPAGATION, false, MS_UNBINDABLE | MS_REC },
	{ "rro", OPT_ATTR, false, MOUNT_ATTR_RDONLY },
	{ "rrw", OPT_ATTR, true, MOUNT_ATTR_RDONLY },
	{ "rnosuid", OPT_ATTR, false, MOUNT_ATTR_NOSUID },
	{ "rsuid", OPT_ATTR, true, MOUNT_ATTR_NOSUID },
	{ "rnodev", OPT_ATTR, false, MOUNT_ATTR_NODEV },
	{ "rdev", OPT_ATTR, true, MOUNT_ATTR_NODEV },
	{ "rnoexec", OPT_ATTR, false, MOUNT_ATTR_NOEXEC },
	{ "rexec", OPT_ATTR, true, MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", OPT_ATTR, false, MOUNT_ATTR_NODIRATIME },
	{ "rdiratime", OPT_ATTR, true, MOUNT_ATTR_NODIRATIME },
	{ "rnosymfollow", OPT_ATTR, false, MOUNT_ATTR_NOSYMFOLLOW },
	{ "rsymfollow", OPT_ATTR, true, MOUNT_ATTR_NOSYMFOLLOW },
	{ "rnoatime", OPT_ATIME, false, MOUNT_ATTR_NOATIME },
	{ "rrelatime", OPT_ATIME, false, MOUNT_ATTR_RELATIME },
	{ "rstrictatime", OPT_ATIME, false, MOUNT_ATTR_STRICTATIME },
	{ "tmpcopyup", OPT_OTHER, false, 0 },
};

int oci_mount_options_parse(struct oci_mount *m, char *const *options, const char *where,
			    struct hull_err *err)
{
	cleanup_free char *data = NULL;

	for (size_t i = 0; options && options[i]; i++) {
		const char *o = options[i];
		const struct mount_opt *mo = NULL;

		for (size_t k = 0; k < ARRAY_SIZE(mount_opts); k++)
			if (strcmp(o, mount_opts[k].name) == 0)
				mo = &mount_opts[k];
		if (!mo) {
			/* crun's: an idmapped bind (ridmap: every submount too). */
			if (strcmp(o, "idmap") == 0 || strcmp(o, "ridmap") == 0) {
				m->idmap = true;
				m->idmap_recursive |= o[0] == 'r';
				continue;
			}
			/* Anything else goes to the filesystem as data (mode=755, size=64k). */
			if (data) {
				char *n = xasprintf("%s,%s", data, o);

				free(data);
				data = n;
			} else {
				data = xstrdup(o);
			}
			continue;
		}
		switch (mo->kind) {
		case OPT_FLAG:
			if (mo->clear) {
				m->flags &= ~mo->flag;
				m->clear_flags |= mo->flag;
			} else {
				m->flags |= mo->flag;
				m->clear_flags &= ~mo->flag;
			}
			break;
		case OPT_PROPAGATION:
			m->propagation = mo->flag;
			break;
		case OPT_ATIME:
			/* The atime mode is one field: clear it whole, set the one chosen
			 * (MOUNT_ATTR_RELATIME is 0). */
			m->attr_clr |= MOUNT_ATTR__ATIME;
			m->attr_set = (m->attr_set & ~MOUNT_ATTR__ATIME) | mo->flag;
			break;
		case OPT_ATTR:
			if (mo->clear) {
				m->attr_clr |= mo->flag;
				m->attr_set &= ~mo->flag;
			} else {
				m->attr_set |= mo->flag;
				m->attr_clr &= ~mo->flag;
			}
			break;
		case OPT_BIND:
			m->bind = true;
			/* "rbind" with "bind" stays recursive: flags add up (runc, crun). */
			m->recursive |= mo->flag != 0;
			break;
		case OPT_OTHER:
			m->tmpcopyup = true;
			break;
		}
	}
	m->data = steal_ptr(&data);
	return 0;
}

static int parse_idmaps(json_t *lnx, const char *where, const char *key, struct oci_idmap **ret,
			size_t *ret_n, struct hull_err *err);

/*
 * runtime-spec 1.1 mount uidMappings/gidMappings: the mount is idmapped with a user
 * namespace of exactly these mappings (both lists, or neither: the container's own).
 */
static int parse_mount_idmaps(json_t *item, const char *w, struct oci_mount *m,
			      struct hull_err *err)
{
	char where[96];
	int r;

	if ((r = parse_idmaps(item, w, "uidMappings", &m->uid_mappings, &m->n_uid_mappings,
			      err)) < 0 ||
	    (r = parse_idmaps(item, w, "gidMappings", &m->gid_mappings, &m->n_gid_mappings,
			      err)) < 0)
		return r;
	if (!m->n_uid_mappings != !m->n_gid_mappings)
		return hull_err_setx(err, EINVAL, "%s.%s: needed with %s", w,
				     m->n_uid_mappings ? "gidMappings" : "uidMappings",
				     m->n_uid_mappings ? "uidMappings" : "gidMappings");
	(void)snprintf(where, sizeof(where), "%s.uidMappings", w);
	if ((r = idmap_check_at(m->uid_mappings, m->n_uid_mappings, where, err)) < 0)
		return r;
	(void)snprintf(where, sizeof(where), "%s.gidMappings", w);
	if ((r = idmap_check_at(m->gid_mappings, m->n_gid_mappings, where, err)) < 0)
		return r;
	m->idmap |= m->n_uid_mappings > 0;
	return 0;
}

static int parse_one_mount(json_t *item, const char *w, const char *bundle, struct oci_mount *m,
			   struct hull_err *err)
{
	cleanup_strv char **options = NULL;
	const char *dst = NULL, *type = NULL, *src = NULL;
	int r;

	if (!json_is_object(item))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
				     hjson_type_name(item));
	if ((r = hjson_get_str(item, "destination", w, true, &dst, err)) < 0 ||
	    (r = hjson_get_str(item, "type", w, false, &type, err)) < 0 ||
	    (r = hjson_get_str(item, "source", w, false, &src, err)) < 0 ||
	    (r = hjson_get_strv(item, "options", w, false, OCI_MAX_MOUNT_OPTIONS, &options,
				err)) < 0)
		return r;
	if (!*dst)
		return hull_err_setx(err, EINVAL, "%s.destination: must not be empty", w);
	/* runtime-spec 1.1 (and runc) take a relative destination as relative to the
	 * container's "/"; it is deprecated, so only say so at debug level. */
	if (!path_is_absolute(dst))
		log_debug("%s.destination: \"%s\" is relative: taken from /", w, dst);
	{
		cleanup_free char *abs = xasprintf("/%s", dst);

		m->destination = path_normalize(abs);
	}
	if (type && *type && strcmp(type, "none") != 0)
		m->type = xstrdup(type);
	if ((r = oci_mount_options_parse(m, options, w, err)) < 0 ||
	    (r = parse_mount_idmaps(item, w, m, err)) < 0)
		return r;
	if (m->type && strcmp(m->type, "bind") == 0) {
		m->bind = true;
		free(m->type);
		m->type = NULL;
	}
	if (m->bind) {
		if (!src || !*src)
			return hull_err_setx(err, EINVAL, "%s.source: required for a bind mount",
					     w);
		m->source = path_is_absolute(src) ? xstrdup(src) : path_join(bundle, src);
	} else if (m->idmap || json_object_get(item, "uidMappings") ||
		   json_object_get(item, "gidMappings")) {
		return hull_err_setx(err, EOPNOTSUPP,
				     "%s: idmapped mounts are supported for bind mounts only", w);
	} else {
		if (!m->type)
			return hull_err_setx(
				err, EINVAL,
				"%s.type: required for a mount that is not a bind mount", w);
		m->source = xstrdup(src && *src ? src : m->type);
	}
	return 0;
}

int oci_spec_parse_mounts(json_t *doc, struct oci_spec *s, struct hull_err *err)
{
	json_t *arr = NULL, *item;
	size_t i;
	int r;

	r = hjson_get_arr(doc, "mounts", "config.json", false, &arr, err);
	if (r < 0 || !arr)
		return r;
	if (json_array_size(arr) > OCI_MAX_MOUNTS)
		return hull_err_setx(err, E2BIG, "config.json: mounts: more than %d items",
				     OCI_MAX_MOUNTS);
	s->mounts = xcalloc(json_array_size(arr) + 1, sizeof(*s->mounts));
	json_array_foreach(arr, i, item) {
		char w[64];

		(void)snprintf(w, sizeof(w), "config.json: mounts[%zu]", i);
		s->n_mounts = i + 1;
		if ((r = parse_one_mount(item, w, s->bundle, &s->mounts[i], err)) < 0)
			return r;
	}
	return 0;
}

static int parse_namespaces(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	json_t *arr = NULL, *item;
	size_t i;
	int r;

	r = hjson_get_arr(lnx, "namespaces", "config.json: linux", false, &arr, err);
	if (r < 0 || !arr)
		return r;
	if (json_array_size(arr) > 64)
		return hull_err_setx(err, E2BIG,
				     "config.json: linux.namespaces: more than 64 items");
	json_array_foreach(arr, i, item)
	{
		const char *type = NULL, *path = NULL;
		char w[64];
		int k;

		(void)snprintf(w, sizeof(w), "config.json: linux.namespaces[%zu]", i);
		if (!json_is_object(item))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
					     hjson_type_name(item));
		if ((r = hjson_get_str(item, "type", w, true, &type, err)) < 0 ||
		    (r = hjson_get_str(item, "path", w, false, &path, err)) < 0)
			return r;
		for (k = 0; k < OCI_NS_COUNT; k++)
			if (strcmp(type, ns_names[k].name) == 0)
				break;
		if (k == OCI_NS_COUNT)
			return hull_err_setx(err, EINVAL, "%s.type: unknown namespace type \"%s\"",
					     w, type);
		if (s->ns[k].present)
			return hull_err_setx(err, EINVAL, "%s.type: duplicate namespace \"%s\"", w,
					     type);
		s->ns[k].present = true;
		if (path && *path) {
			if (!path_is_absolute(path))
				return hull_err_setx(err, EINVAL,
						     "%s.path: \"%s\" is not an absolute path", w,
						     path);
			s->ns[k].path = xstrdup(path);
		}
	}
	return 0;
}

static int parse_idmaps(json_t *lnx, const char *where, const char *key, struct oci_idmap **ret,
			size_t *ret_n, struct hull_err *err)
{
	json_t *arr = NULL, *item;
	size_t i;
	int r;

	r = hjson_get_arr(lnx, key, where, false, &arr, err);
	if (r < 0 || !arr)
		return r;
	if (json_array_size(arr) > OCI_MAX_IDMAPS)
		return hull_err_setx(err, E2BIG, "%s.%s: more than %d items", where, key,
				     OCI_MAX_IDMAPS);
	*ret = xcalloc(json_array_size(arr) + 1, sizeof(**ret));
	json_array_foreach(arr, i, item) {
		struct oci_idmap *m = &(*ret)[i];
		int64_t c = 0, h = 0, n = 0;
		char w[96];

		(void)snprintf(w, sizeof(w), "%s.%s[%zu]", where, key, i);
		if (!json_is_object(item))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
					     hjson_type_name(item));
		if ((r = hjson_get_int(item, "containerID", w, true, 0, UINT32_MAX, &c, err)) < 0 ||
		    (r = hjson_get_int(item, "hostID", w, true, 0, UINT32_MAX, &h, err)) < 0 ||
		    (r = hjson_get_int(item, "size", w, true, 1, UINT32_MAX, &n, err)) < 0)
			return r;
		if (c + n > (int64_t)UINT32_MAX + 1 || h + n > (int64_t)UINT32_MAX + 1)
			return hull_err_setx(err, ERANGE, "%s: the range overflows 32 bits", w);
		m->container_id = (uint32_t)c;
		m->host_id = (uint32_t)h;
		m->size = (uint32_t)n;
		*ret_n = i + 1;
	}
	return 0;
}

static int parse_devices(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	json_t *arr = NULL, *item;
	size_t i;
	int r;

	r = hjson_get_arr(lnx, "devices", "config.json: linux", false, &arr, err);
	if (r < 0 || !arr)
		return r;
	if (json_array_size(arr) > OCI_MAX_DEVICES)
		return hull_err_setx(err, E2BIG, "config.json: linux.devices: more than %d items",
				     OCI_MAX_DEVICES);
	s->devices = xcalloc(json_array_size(arr) + 1, sizeof(*s->devices));
	json_array_foreach(arr, i, item) {
		struct oci_device *d = &s->devices[i];
		const char *path = NULL, *type = NULL;
		int64_t v = -1;
		char w[64];

		(void)snprintf(w, sizeof(w), "config.json: linux.devices[%zu]", i);
		s->n_devices = i + 1;
		if (!json_is_object(item))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", w,
					     hjson_type_name(item));
		if ((r = hjson_get_str(item, "path", w, true, &path, err)) < 0 ||
		    (r = hjson_get_str(item, "type", w, true, &type, err)) < 0)
			return r;
		if (!path_is_absolute(path))
			return hull_err_setx(err, EINVAL, "%s.path: \"%s\" is not an absolute path",
					     w, path);
		d->path = path_normalize(path);
		if (strcmp(d->path, "/") == 0 || strcmp(d->path, "/dev") == 0)
			return hull_err_setx(err, EINVAL, "%s.path: \"%s\" is not a device path", w,
					     path);
		if (strlen(type) != 1 || !strchr("cbup", type[0]))
			return hull_err_setx(err, EINVAL,
					     "%s.type: unknown device type \"%s\" (c, b, u or p)",
					     w, type);
		d->type = type[0] == 'u' ? 'c' : type[0];
		if (d->type != 'p') {
			if ((r = hjson_get_int(item, "major", w, true, 0, 0xfff, &d->major, err)) <
				    0 ||
			    (r = hjson_get_int(item, "minor", w, true, 0, 0xfffff, &d->minor,
					       err)) < 0)
				return r;
		}
		if ((r = hjson_get_int(item, "fileMode", w, false, 0, 07777, &v, err)) < 0)
			return r;
		if (v >= 0) {
			d->has_mode = true;
			d->mode = (uint32_t)v;
		}
		v = -1;
		if ((r = hjson_get_int(item, "uid", w, false, 0, UINT32_MAX - 1, &v, err)) < 0)
			return r;
		if (v >= 0) {
			d->has_uid = true;
			d->uid = (uint32_t)v;
		}
		v = -1;
		if ((r = hjson_get_int(item, "gid", w, false, 0, UINT32_MAX - 1, &v, err)) < 0)
			return r;
		if (v >= 0) {
			d->has_gid = true;
			d->gid = (uint32_t)v;
		}
	}
	return 0;
}

static int parse_sysctl(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	json_t *obj = NULL, *v;
	const char *key;
	size_t i = 0;
	int r;

	r = hjson_get_obj(lnx, "sysctl", "config.json: linux", false, &obj, err);
	if (r < 0 || !obj)
		return r;
	if (json_object_size(obj) > OCI_MAX_SYSCTL)
		return hull_err_setx(err, E2BIG, "config.json: linux.sysctl: more than %d items",
				     OCI_MAX_SYSCTL);
	s->sysctl = xcalloc(json_object_size(obj) + 1, sizeof(*s->sysctl));
	json_object_foreach(obj, key, v) {
		if (!json_is_string(v))
			return hull_err_setx(
				err, EINVAL,
				"config.json: linux.sysctl.%s: expected a string, got %s", key,
				hjson_type_name(v));
		if (!*key || strstr(key, "..") || key[0] == '.' || key[0] == '/' ||
		    strchr(key, '\n'))
			return hull_err_setx(err, EINVAL,
					     "config.json: linux.sysctl: invalid key \"%s\"", key);
		s->sysctl[i].key = xstrdup(key);
		s->sysctl[i].value = xstrdup(json_string_value(v));
		s->n_sysctl = ++i;
	}
	return 0;
}

static int parse_paths(json_t *lnx, const char *key, char ***ret, struct hull_err *err)
{
	int r = hjson_get_strv(lnx, key, "config.json: linux", false, OCI_MAX_PATHS, ret, err);

	if (r < 0 || !*ret)
		return r;
	for (size_t i = 0; (*ret)[i]; i++)
		if (!path_is_absolute((*ret)[i]))
			return hull_err_setx(
				err, EINVAL,
				"config.json: linux.%s[%zu]: \"%s\" is not an absolute "
				"path",
				key, i, (*ret)[i]);
	return 0;
}

static int parse_propagation(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} props[] = {
		{ "shared", MS_SHARED },	     { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },		     { "rslave", MS_SLAVE | MS_REC },
		{ "private", MS_PRIVATE },	     { "rprivate", MS_PRIVATE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};
	const char *p = NULL;
	int r;

	r = hjson_get_str(lnx, "rootfsPropagation", "config.json: linux", false, &p, err);
	if (r < 0 || !p || !*p)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(props); i++)
		if (strcmp(p, props[i].name) == 0) {
			s->rootfs_propagation = props[i].flags;
			return 0;
		}
	return hull_err_setx(err, EINVAL,
			     "config.json: linux.rootfsPropagation: unknown propagation \"%s\"", p);
}

static int parse_time_offsets(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	static const char *const clocks[2] = { "monotonic", "boottime" };
	json_t *obj = NULL;
	int r;

	r = hjson_get_obj(lnx, "timeOffsets", "config.json: linux", false, &obj, err);
	if (r < 0 || !obj)
		return r;
	s->has_time_offsets = true;
	for (int c = 0; c < 2; c++) {
		json_t *o = NULL;
		char w[64];

		(void)snprintf(w, sizeof(w), "config.json: linux.timeOffsets.%s", clocks[c]);
		if ((r = hjson_get_obj(obj, clocks[c], "config.json: linux.timeOffsets", false, &o,
				       err)) < 0)
			return r;
		if (!o)
			continue;
		if ((r = hjson_get_int(o, "secs", w, false, INT64_MIN, INT64_MAX,
				       &s->time_offsets[c][0], err)) < 0 ||
		    (r = hjson_get_int(o, "nanosecs", w, false, 0, 999999999,
				       &s->time_offsets[c][1], err)) < 0)
			return r;
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned long flag;
} personality_flags[] = {
	{ "UNAME26", 0x0020000 },	     { "ADDR_NO_RANDOMIZE", 0x0040000 },
	{ "FDPIC_FUNCPTRS", 0x0080000 },     { "MMAP_PAGE_ZERO", 0x0100000 },
	{ "ADDR_COMPAT_LAYOUT", 0x0200000 }, { "READ_IMPLIES_EXEC", 0x0400000 },
	{ "ADDR_LIMIT_32BIT", 0x0800000 },   { "SHORT_INODE", 0x1000000 },
	{ "WHOLE_SECONDS", 0x2000000 },	     { "STICKY_TIMEOUTS", 0x4000000 },
	{ "ADDR_LIMIT_3GB", 0x8000000 },
};

/* linux.personality: domain LINUX or LINUX32 (personality(2)), plus flags. */
static int parse_personality(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	const char *w = "config.json: linux.personality";
	cleanup_strv char **flags = NULL;
	const char *domain = NULL;
	json_t *o = NULL;
	int r;

	if ((r = hjson_get_obj(lnx, "personality", "config.json: linux", false, &o, err)) < 0 ||
	    !o)
		return r;
	if ((r = hjson_get_str(o, "domain", w, true, &domain, err)) < 0 ||
	    (r = hjson_get_strv(o, "flags", w, false, 16, &flags, err)) < 0)
		return r;
	if (strcmp(domain, "LINUX") == 0)
		s->personality = 0x0000; /* PER_LINUX */
	else if (strcmp(domain, "LINUX32") == 0)
		s->personality = 0x0008; /* PER_LINUX32 */
	else
		return hull_err_setx(err, EINVAL, "%s.domain: unknown domain \"%s\" (LINUX or "
				     "LINUX32)", w, domain);
	for (size_t i = 0; flags && flags[i]; i++) {
		size_t k;

		for (k = 0; k < ARRAY_SIZE(personality_flags); k++)
			if (strcmp(flags[i], personality_flags[k].name) == 0)
				break;
		if (k == ARRAY_SIZE(personality_flags))
			return hull_err_setx(err, EINVAL, "%s.flags[%zu]: unknown flag \"%s\"", w,
					     i, flags[i]);
		s->personality |= personality_flags[k].flag;
	}
	s->has_personality = true;
	return 0;
}

static const struct {
	const char *name;
	int val;
} mpol_modes[] = {
	{ "MPOL_DEFAULT", 0 },	      { "MPOL_PREFERRED", 1 },	    { "MPOL_BIND", 2 },
	{ "MPOL_INTERLEAVE", 3 },     { "MPOL_LOCAL", 4 },	    { "MPOL_PREFERRED_MANY", 5 },
	{ "MPOL_WEIGHTED_INTERLEAVE", 6 },
}, mpol_flags[] = {
	{ "MPOL_F_NUMA_BALANCING", 1 << 13 },
	{ "MPOL_F_RELATIVE_NODES", 1 << 14 },
	{ "MPOL_F_STATIC_NODES", 1 << 15 },
};

/* "0-3,7" into the node bitmap; false on a malformed list or a node out of range. */
static bool parse_nodes(const char *str, struct oci_mempolicy *m)
{
	const char *p = str;

	while (*p) {
		char *end = NULL;
		unsigned long lo, hi;

		if (*p < '0' || *p > '9')
			return false;
		lo = hi = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			if (p[1] < '0' || p[1] > '9')
				return false;
			hi = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (lo > hi || hi >= OCI_MAX_NUMA_NODES)
			return false;
		for (unsigned long n = lo; n <= hi; n++)
			m->nodes[n / (8 * sizeof(unsigned long))] |=
				1UL << (n % (8 * sizeof(unsigned long)));
		if (hi + 1 > m->max_node)
			m->max_node = (unsigned)hi + 1;
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			return false;
	}
	return true;
}

/* linux.memoryPolicy: mode, nodes, flags (set_mempolicy(2)). */
static int parse_mempolicy(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
	const char *w = "config.json: linux.memoryPolicy";
	struct oci_mempolicy *m = &s->mempolicy;
	cleanup_strv char **flags = NULL;
	const char *mode = NULL, *nodes = NULL;
	json_t *o = NULL;
	size_t k;
	int r;

	if ((r = hjson_get_obj(lnx, "memoryPolicy", "config.json: linux", false, &o, err)) < 0 ||
	    !o)
		return r;
	if ((r = hjson_get_str(o, "mode", w, true, &mode, err)) < 0 ||
	    (r = hjson_get_str(o, "nodes", w, false, &nodes, err)) < 0 ||
	    (r = hjson_get_strv(o, "flags", w, false, 8, &flags, err)) < 0)
		return r;
	for (k = 0; k < ARRAY_SIZE(mpol_modes); k++)
		if (strcmp(mode, mpol_modes[k].name) == 0)
			break;
	if (k == ARRAY_SIZE(mpol_modes))
		return hull_err_setx(err, EINVAL, "%s.mode: unknown mode \"%s\"", w, mode);
	m->mode = mpol_modes[k].val;
	if (nodes && !parse_nodes(nodes, m))
		return hull_err_setx(err, EINVAL, "%s.nodes: \"%s\" is not a node list such as "
				     "\"0-3,7\" (nodes below %d)", w, nodes, OCI_MAX_NUMA_NODES);
	for (size_t i = 0; flags && flags[i]; i++) {
		for (k = 0; k < ARRAY_SIZE(mpol_flags); k++)
			if (strcmp(flags[i], mpol_flags[k].name) == 0)
				break;
		if (k == ARRAY_SIZE(mpol_flags))
			return hull_err_setx(err, EINVAL, "%s.flags[%zu]: unknown flag \"%s\"", w,
					     i, flags[i]);
		m->flags |= (unsigned)mpol_flags[k].val;
	}
	/* set_mempolicy(2): DEFAULT and LOCAL take no nodes; the others need some. */
	if ((m->mode == 0 || m->mode == 4) && m->max_node)
		return hull_err_setx(err, EINVAL, "%s.nodes: %s takes no nodes", w, mode);
	if (m->mode != 0 && m->mode != 4 && !m->max_node)
		return hull_err_setx(err, EINVAL, "%s.nodes: %s needs nodes", w, mode);
	s->has_mempolicy = true;
	return 0;
}

enum oci_ns_kind oci_sysctl_ns(const char *key)
{
	static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
					    "kernel.sem",    "kernel.shmall", "kernel.shmmax",
					    "kernel.shmmni", "kernel.shm_rmid_forced" };
	char k[128];
	size_t n = strlen(key);

	if (n >= sizeof(k))
		n = sizeof(k) - 1; /* longer than any key below: the prefixes still match */
	memcpy(k, key, n);
	k[n] = '\0';
	for (char *c = k; *c; c++)
		if (*c == '/')
			*c = '.';
	if (strncmp(k, "net.", 4) == 0)
		return OCI_NS_NET;
	if (strncmp(k, "fs.mqueue.", 10) == 0)
		return OCI_NS_IPC;
	for (size_t i = 0; i < ARRAY_SIZE(ipc); i++)
		if (strcmp(k, ipc[i]) == 0)
			return OCI_NS_IPC;
	if (strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0)
		return OCI_NS_UTS;
	return OCI_NS_COUNT;
}

/*
 * linux.sysctl: only keys of a namespace the container has (made, or joined by path: whether
 * that path is the runtime's own namespace is checked on the host, ns_sysctl_check()); a key
 * that is not namespaced would change the host. As runc and crun.
 */
static int check_sysctl(const struct oci_spec *s, struct hull_err *err)
{
	for (size_t i = 0; i < s->n_sysctl; i++) {
		const char *key = s->sysctl[i].key;
		enum oci_ns_kind k = oci_sysctl_ns(key);

		if (k == OCI_NS_COUNT)
			return hull_err_setx(err, EPERM,
					     "config.json: linux.sysctl: %s: not namespaced, writing "
					     "it would change the host",
					     key);
		if (!s->ns[k].present)
			return hull_err_setx(err, EPERM,
					     "config.json: linux.sysctl: %s: needs a %s namespace of "
					     "the container's own (it would change the host's)",
					     key, oci_ns_name(k));
	}
	return 0;
}

static int check_linux(struct oci_spec *s, struct hull_err *err)
{
	int r;

	if ((r = check_sysctl(s, err)) < 0)
		return r;
	/* Neither: the caller's ids become root inside (crun's default, src/container/idmap.c). */
	if (s->ns[OCI_NS_USER].present && !s->ns[OCI_NS_USER].path &&
	    !s->n_uid_mappings != !s->n_gid_mappings)
		return hull_err_setx(err, EINVAL,
				     "config.json: linux.uidMappings: a new user namespace needs "
				     "uidMappings and gidMappings (or neither)");
	if ((s->n_uid_mappings || s->n_gid_mappings) &&
	    (!s->ns[OCI_NS_USER].present || s->ns[OCI_NS_USER].path))
		return hull_err_setx(err, EINVAL,
				     "config.json: linux.uidMappings: given without a new user "
				     "namespace");
	if (s->has_time_offsets && !s->ns[OCI_NS_TIME].present)
		return hull_err_setx(
			err, EINVAL,
			"config.json: linux.timeOffsets: given without a time namespace");
	if (s->hostname && *s->hostname && !s->ns[OCI_NS_UTS].present)
		return hull_err_setx(err, EINVAL,
				     "config.json: hostname: needs a new uts namespace");
	return 0;
}

int oci_spec_parse_linux(json_t *doc, struct oci_spec *s, struct hull_err *err)
{
	const char *w = "config.json: linux";
	json_t *lnx = NULL, *res = NULL, *sec = NULL;
	const char *str = NULL;
	int r;

	r = hjson_get_obj(doc, "linux", "config.json", false, &lnx, err);
	if (r < 0)
		return r;
	if (lnx) {
		if ((r = parse_namespaces(lnx, s, err)) < 0 ||
		    (r = parse_idmaps(lnx, w, "uidMappings", &s->uid_mappings, &s->n_uid_mappings,
				      err)) < 0 ||
		    (r = parse_idmaps(lnx, w, "gidMappings", &s->gid_mappings, &s->n_gid_mappings,
				      err)) < 0 ||
		    (r = parse_devices(lnx, s, err)) < 0 || (r = parse_sysctl(lnx, s, err)) < 0 ||
		    (r = parse_paths(lnx, "maskedPaths", &s->masked_paths, err)) < 0 ||
		    (r = parse_paths(lnx, "readonlyPaths", &s->readonly_paths, err)) < 0 ||
		    (r = parse_propagation(lnx, s, err)) < 0 ||
		    (r = parse_time_offsets(lnx, s, err)) < 0 ||
		    (r = parse_personality(lnx, s, err)) < 0 || (r = parse_mempolicy(lnx, s, err)) < 0)
			return r;
		if ((r = hjson_get_str(lnx, "mountLabel", w, false, &str, err)) < 0)
			return r;
		s->mount_label = str && *str ? xstrdup(str) : NULL;
		str = NULL;
		if ((r = hjson_get_str(lnx, "cgroupsPath", w, false, &str, err)) < 0)
			return r;
		s->cgroups_path = str && *str ? xstrdup(str) : NULL;
		if ((r = hjson_get_obj(lnx, "resources", w, false, &res, err)) < 0 ||
		    (r = hjson_get_obj(lnx, "seccomp", w, false, &sec, err)) < 0)
			return r;
		s->resources = res ? json_incref(res) : NULL;
		s->seccomp = sec ? json_incref(sec) : NULL;
	}
	return check_linux(s, err);
}
