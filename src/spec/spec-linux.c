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
#include "spec/spec-internal.h"
#include "spec/spec.h"


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

const char *spec_ns_name(enum oci_ns_kind kind)
{
	return kind < OCI_NS_COUNT ? ns_names[kind].name : "?";
}

int spec_ns_clone_flag(enum oci_ns_kind kind)
{
	return kind < OCI_NS_COUNT ? ns_names[kind].clone_flag : 0;
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

static bool ranges_overlap(uint32_t a, uint32_t an, uint32_t b, uint32_t bn)
{
	uint64_t a_end = (uint64_t)a + an, b_end = (uint64_t)b + bn;

	return a < b_end && b < a_end;
}

int spec_idmap_check(const struct oci_idmap *m, size_t n, const char *where, struct hull_err *err)
{
	/* The second mention of the list, in an overlap, without the file name again. */
	const char *again = strncmp(where, "config.json: ", 13) == 0 ? where + 13 : where;

	if (n > OCI_MAX_IDMAPS)
		return hull_err_setx(err, E2BIG, "%s: more than %d ranges", where, OCI_MAX_IDMAPS);
	for (size_t i = 0; i < n; i++) {
		if (!m[i].size)
			return hull_err_setx(err, EINVAL, "%s[%zu].size: must not be 0", where, i);
		if ((uint64_t)m[i].container_id + m[i].size > (uint64_t)UINT32_MAX + 1 ||
		    (uint64_t)m[i].host_id + m[i].size > (uint64_t)UINT32_MAX + 1)
			return hull_err_setx(err, ERANGE, "%s[%zu]: the range overflows 32 bits",
					     where, i);
		/* user_namespaces(7): ranges may overlap neither inside nor outside. */
		for (size_t j = 0; j < i; j++) {
			bool in = ranges_overlap(m[i].container_id, m[i].size, m[j].container_id,
						 m[j].size);
			uint32_t a = in ? m[i].container_id : m[i].host_id;

			if (in || ranges_overlap(m[i].host_id, m[i].size, m[j].host_id, m[j].size))
				return hull_err_setx(err, EINVAL,
						     "%s[%zu]: %s ids %u-%u overlap %s[%zu]", where,
						     i, in ? "container" : "host", a,
						     (unsigned)(a + m[i].size - 1), again, j);
		}
	}
	return 0;
}

int spec_idmaps_parse(json_t *lnx, const char *where, const char *key, struct oci_idmap **ret,
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

static const struct {
	const char *name;
	unsigned long flags;
} props[] = {
	{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
	{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

static int parse_propagation(json_t *lnx, struct oci_spec *s, struct hull_err *err)
{
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

enum oci_ns_kind spec_sysctl_ns(const char *key)
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
		enum oci_ns_kind k = spec_sysctl_ns(key);

		if (k == OCI_NS_COUNT)
			return hull_err_setx(err, EPERM,
					     "config.json: linux.sysctl: %s: not namespaced, writing "
					     "it would change the host",
					     key);
		if (!s->ns[k].present)
			return hull_err_setx(err, EPERM,
					     "config.json: linux.sysctl: %s: needs a %s namespace of "
					     "the container's own (it would change the host's)",
					     key, spec_ns_name(k));
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

int spec_parse_linux(json_t *doc, struct oci_spec *s, struct hull_err *err)
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
		    (r = spec_idmaps_parse(lnx, w, "uidMappings", &s->uid_mappings, &s->n_uid_mappings,
				      err)) < 0 ||
		    (r = spec_idmaps_parse(lnx, w, "gidMappings", &s->gid_mappings, &s->n_gid_mappings,
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
		if (res) {
			s->has_resources = true;
			if ((r = spec_resources_parse(res, "config.json: linux.resources",
						       &s->resources, err)) < 0)
				return r;
		}
		if (sec && (r = spec_seccomp_parse(sec, "config.json: linux.seccomp", &s->seccomp,
						  err)) < 0)
			return r;
	}
	return check_linux(s, err);
}

/* ---- writer ---- */

static json_t *devices_to_json(const struct oci_spec *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->n_devices; i++) {
		const struct oci_device *d = &s->devices[i];
		char type[2] = { d->type, 0 };
		json_t *o = json_pack("{s:s,s:s}", "path", d->path, "type", type);

		if (d->type != 'p') {
			json_object_set_new(o, "major", json_integer(d->major));
			json_object_set_new(o, "minor", json_integer(d->minor));
		}
		if (d->has_mode)
			json_object_set_new(o, "fileMode", json_integer(d->mode));
		if (d->has_uid)
			json_object_set_new(o, "uid", json_integer(d->uid));
		if (d->has_gid)
			json_object_set_new(o, "gid", json_integer(d->gid));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *personality_to_json(const struct oci_spec *s)
{
	json_t *flags = json_array();

	for (size_t k = 0; k < ARRAY_SIZE(personality_flags); k++)
		if (s->personality & personality_flags[k].flag)
			json_array_append_new(flags, json_string(personality_flags[k].name));
	return json_pack("{s:s,s:o}", "domain", (s->personality & 0xff) == 0x0008 ? "LINUX32" :
			 "LINUX", "flags", flags);
}

static json_t *mempolicy_to_json(const struct oci_mempolicy *m)
{
	json_t *o = json_object(), *flags = json_array();
	char nodes[8 * OCI_MAX_NUMA_NODES] = "";
	size_t len = 0;

	for (size_t k = 0; k < ARRAY_SIZE(mpol_modes); k++)
		if (mpol_modes[k].val == m->mode)
			json_object_set_new(o, "mode", json_string(mpol_modes[k].name));
	for (unsigned n = 0; n < m->max_node; n++)
		if (m->nodes[n / (8 * sizeof(unsigned long))] &
		    (1UL << (n % (8 * sizeof(unsigned long)))))
			len += (size_t)snprintf(nodes + len, sizeof(nodes) - len, "%s%u",
						len ? "," : "", n);
	if (len)
		json_object_set_new(o, "nodes", json_string(nodes));
	for (size_t k = 0; k < ARRAY_SIZE(mpol_flags); k++)
		if (m->flags & (unsigned)mpol_flags[k].val)
			json_array_append_new(flags, json_string(mpol_flags[k].name));
	json_object_set_new(o, "flags", flags);
	return o;
}

static void linux_extras_to_json(const struct oci_spec *s, json_t *lnx)
{
	static const char *const clocks[2] = { "monotonic", "boottime" };

	for (size_t i = 0; i < ARRAY_SIZE(props); i++)
		if (s->rootfs_propagation && props[i].flags == s->rootfs_propagation)
			json_object_set_new(lnx, "rootfsPropagation", json_string(props[i].name));
	if (s->mount_label)
		json_object_set_new(lnx, "mountLabel", json_string(s->mount_label));
	if (s->cgroups_path)
		json_object_set_new(lnx, "cgroupsPath", json_string(s->cgroups_path));
	if (s->has_personality)
		json_object_set_new(lnx, "personality", personality_to_json(s));
	if (s->has_mempolicy)
		json_object_set_new(lnx, "memoryPolicy", mempolicy_to_json(&s->mempolicy));
	if (s->has_time_offsets) {
		json_t *t = json_object();

		for (int c = 0; c < 2; c++)
			json_object_set_new(t, clocks[c],
					    json_pack("{s:I,s:I}", "secs",
						      (json_int_t)s->time_offsets[c][0], "nanosecs",
						      (json_int_t)s->time_offsets[c][1]));
		json_object_set_new(lnx, "timeOffsets", t);
	}
	if (s->has_resources)
		json_object_set_new(lnx, "resources", spec_resources_to_json(&s->resources));
	if (s->seccomp)
		json_object_set_new(lnx, "seccomp", spec_seccomp_to_json(s->seccomp));
}

json_t *spec_linux_to_json(const struct oci_spec *s)
{
	json_t *lnx = json_object(), *ns = json_array();

	for (int k = 0; k < OCI_NS_COUNT; k++) {
		json_t *o;

		if (!s->ns[k].present)
			continue;
		o = json_pack("{s:s}", "type", ns_names[k].name);
		if (s->ns[k].path)
			json_object_set_new(o, "path", json_string(s->ns[k].path));
		json_array_append_new(ns, o);
	}
	json_object_set_new(lnx, "namespaces", ns);
	spec_idmaps_to_json(lnx, "uidMappings", s->uid_mappings, s->n_uid_mappings);
	spec_idmaps_to_json(lnx, "gidMappings", s->gid_mappings, s->n_gid_mappings);
	if (s->n_devices)
		json_object_set_new(lnx, "devices", devices_to_json(s));
	if (s->n_sysctl) {
		json_t *o = json_object();

		for (size_t i = 0; i < s->n_sysctl; i++)
			json_object_set_new(o, s->sysctl[i].key, json_string(s->sysctl[i].value));
		json_object_set_new(lnx, "sysctl", o);
	}
	for (int k = 0; k < 2; k++) {
		char *const *v = k ? s->readonly_paths : s->masked_paths;
		json_t *a = json_array();

		if (!v) {
			json_decref(a);
			continue;
		}
		for (size_t i = 0; v[i]; i++)
			json_array_append_new(a, json_string(v[i]));
		json_object_set_new(lnx, k ? "readonlyPaths" : "maskedPaths", a);
	}
	linux_extras_to_json(s, lnx);
	return lnx;
}
