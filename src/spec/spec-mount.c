/* config.json: mounts (runtime-spec config.md "Mounts"): options parsed and written back. */
#include <errno.h>
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
#include "spec/spec-internal.h"
#include "spec/spec.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

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

int spec_mount_options_parse(struct oci_mount *m, char *const *options, const char *where,
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


/*
 * runtime-spec 1.1 mount uidMappings/gidMappings: the mount is idmapped with a user
 * namespace of exactly these mappings (both lists, or neither: the container's own).
 */
static int parse_mount_idmaps(json_t *item, const char *w, struct oci_mount *m,
			      struct hull_err *err)
{
	char where[96];
	int r;

	if ((r = spec_idmaps_parse(item, w, "uidMappings", &m->uid_mappings, &m->n_uid_mappings,
			      err)) < 0 ||
	    (r = spec_idmaps_parse(item, w, "gidMappings", &m->gid_mappings, &m->n_gid_mappings,
			      err)) < 0)
		return r;
	if (!m->n_uid_mappings != !m->n_gid_mappings)
		return hull_err_setx(err, EINVAL, "%s.%s: needed with %s", w,
				     m->n_uid_mappings ? "gidMappings" : "uidMappings",
				     m->n_uid_mappings ? "uidMappings" : "gidMappings");
	(void)snprintf(where, sizeof(where), "%s.uidMappings", w);
	if ((r = spec_idmap_check(m->uid_mappings, m->n_uid_mappings, where, err)) < 0)
		return r;
	(void)snprintf(where, sizeof(where), "%s.gidMappings", w);
	if ((r = spec_idmap_check(m->gid_mappings, m->n_gid_mappings, where, err)) < 0)
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
	if ((r = spec_mount_options_parse(m, options, w, err)) < 0 ||
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

int spec_parse_mounts(json_t *doc, struct oci_spec *s, struct hull_err *err)
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


/* ---- writer ---- */

static void idmaps_to_json(json_t *o, const char *key, const struct oci_idmap *m, size_t n)
{
	json_t *a;

	if (!n)
		return;
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I,s:I,s:I}", "containerID",
						   (json_int_t)m[i].container_id, "hostID",
						   (json_int_t)m[i].host_id, "size",
						   (json_int_t)m[i].size));
	json_object_set_new(o, key, a);
}

void spec_idmaps_to_json(json_t *o, const char *key, const struct oci_idmap *m, size_t n)
{
	idmaps_to_json(o, key, m, n);
}

/* The options that give back m's flags: one name per bit set or cleared (the table above). */
/*
 * May data (unknown options joined with ',') be written back as one item per option? Only
 * when every piece is a non-empty name the parser would again send to the filesystem and
 * they fit in room items: else it is written as the one item it came from ("a,,atime" given
 * as one item means data "a,,atime", not the atime flag), and parses back the same.
 */
static bool data_splits(const char *data, size_t room)
{
	size_t count = 0;

	for (const char *p = data;; p++) {
		size_t n = strcspn(p, ",");

		if (n == 0 || ++count > room)
			return false;
		for (size_t k = 0; k < ARRAY_SIZE(mount_opts); k++)
			if (strlen(mount_opts[k].name) == n && strncmp(p, mount_opts[k].name, n) == 0)
				return false;
		if ((n == 5 && strncmp(p, "idmap", 5) == 0) || (n == 6 && strncmp(p, "ridmap", 6) == 0))
			return false;
		p += n;
		if (!*p)
			return true;
	}
}

static json_t *mount_options_to_json(const struct oci_mount *m)
{
	json_t *a = json_array();

	if (m->bind)
		json_array_append_new(a, json_string(m->recursive ? "rbind" : "bind"));
	for (size_t k = 0; k < ARRAY_SIZE(mount_opts); k++) {
		const struct mount_opt *mo = &mount_opts[k];
		bool on = false;

		switch (mo->kind) {
		case OPT_FLAG:
			on = mo->flag && ((mo->clear ? m->clear_flags : m->flags) & mo->flag) ==
						 mo->flag;
			break;
		case OPT_PROPAGATION:
			on = m->propagation == mo->flag;
			break;
		case OPT_ATTR:
			on = ((mo->clear ? m->attr_clr : m->attr_set) & mo->flag) != 0;
			break;
		case OPT_ATIME:
			on = (m->attr_clr & MOUNT_ATTR__ATIME) &&
			     (m->attr_set & MOUNT_ATTR__ATIME) == mo->flag;
			break;
		case OPT_BIND:
			break;
		case OPT_OTHER:
			on = m->tmpcopyup;
			break;
		}
		if (on)
			json_array_append_new(a, json_string(mo->name));
	}
	if (m->idmap && !m->n_uid_mappings)
		json_array_append_new(a, json_string(m->idmap_recursive ? "ridmap" : "idmap"));
	else if (m->idmap_recursive)
		json_array_append_new(a, json_string("ridmap"));
	if (m->data && *m->data) {
		if (data_splits(m->data, OCI_MAX_MOUNT_OPTIONS - json_array_size(a)))
			for (const char *p = m->data; *p;) {
				size_t n = strcspn(p, ",");

				json_array_append_new(a, json_stringn(p, n));
				p += n + (p[n] == ',');
			}
		else
			json_array_append_new(a, json_string(m->data));
	}
	return a;
}

json_t *spec_mount_to_json(const struct oci_mount *m)
{
	json_t *o = json_object();

	json_object_set_new(o, "destination", json_string(m->destination));
	/* A bind mount says "bind" as its type, as runc's and docker's configs do. */
	if (m->type || m->bind)
		json_object_set_new(o, "type", json_string(m->type ? m->type : "bind"));
	if (m->source)
		json_object_set_new(o, "source", json_string(m->source));
	json_object_set_new(o, "options", mount_options_to_json(m));
	idmaps_to_json(o, "uidMappings", m->uid_mappings, m->n_uid_mappings);
	idmaps_to_json(o, "gidMappings", m->gid_mappings, m->n_gid_mappings);
	return o;
}
