/* linux.resources (runtime-spec config-linux.md "Control groups"): parse and validate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "container/cgroup-internal.h"

/* Devices every container may use, after runc's specconv.AllowedDevices. */
static const struct cgroup_dev_rule default_devices[] = {
	{ true, 'c', -1, -1, "m" },    { true, 'b', -1, -1, "m" },
	{ true, 'c', 1, 3, "rwm" },    /* /dev/null */
	{ true, 'c', 1, 8, "rwm" },    /* /dev/random */
	{ true, 'c', 1, 7, "rwm" },    /* /dev/full */
	{ true, 'c', 5, 0, "rwm" },    /* /dev/tty */
	{ true, 'c', 1, 5, "rwm" },    /* /dev/zero */
	{ true, 'c', 1, 9, "rwm" },    /* /dev/urandom */
	{ true, 'c', 5, 1, "rwm" },    /* /dev/console */
	{ true, 'c', 136, -1, "rwm" }, /* /dev/pts/N */
	{ true, 'c', 5, 2, "rwm" },    /* /dev/ptmx */
	{ true, 'c', 10, 200, "rwm" }, /* /dev/net/tun */
};

static const char *const throttle_keys[CG_THR_COUNT] = {
	[CG_THR_READ_BPS] = "throttleReadBpsDevice",
	[CG_THR_WRITE_BPS] = "throttleWriteBpsDevice",
	[CG_THR_READ_IOPS] = "throttleReadIOPSDevice",
	[CG_THR_WRITE_IOPS] = "throttleWriteIOPSDevice",
};

void cg_res_clear(struct cg_res *r)
{
	free(r->cpus);
	free(r->mems);
	free(r->weight_dev);
	for (int i = 0; i < CG_THR_COUNT; i++)
		free(r->throttle[i]);
	for (size_t i = 0; i < r->n_hugepages; i++)
		free(r->hugepages[i].page_size);
	free(r->hugepages);
	for (size_t i = 0; i < r->n_net_prio; i++) {
		free(r->net_prio[i].key);
		free(r->net_prio[i].value);
	}
	free(r->net_prio);
	free(r->devices);
	for (size_t i = 0; i < r->n_unified; i++) {
		free(r->unified[i].key);
		free(r->unified[i].value);
	}
	free(r->unified);
	memset(r, 0, sizeof(*r));
}

/* -1 (unlimited), 0 (not set) or a positive number. */
static int get_limit(json_t *o, const char *key, const char *w, bool *has, int64_t *ret,
		     struct hull_err *err)
{
	int64_t v = 0;
	int r;

	if ((r = hjson_get_int(o, key, w, false, INT64_MIN, INT64_MAX, &v, err)) < 0)
		return r;
	if (v < -1)
		return hull_err_setx(err, EINVAL, "%s.%s: %lld is not a valid limit (-1 means "
				     "unlimited)", w, key, (long long)v);
	if (v != 0) {
		*has = true;
		*ret = v;
	}
	return 0;
}

static int get_u64_nz(json_t *o, const char *key, const char *w, bool *has, uint64_t *ret,
		      uint64_t min, uint64_t max, struct hull_err *err)
{
	uint64_t v = 0;
	int r;

	if (!json_object_get(o, key))
		return 0;
	if ((r = hjson_get_u64(o, key, w, false, &v, err)) < 0)
		return r;
	if (v == 0)
		return 0;
	if (v < min || v > max)
		return hull_err_setx(err, ERANGE, "%s.%s: %llu is out of range [%llu, %llu]", w,
				     key, (unsigned long long)v, (unsigned long long)min,
				     (unsigned long long)max);
	*has = true;
	*ret = v;
	return 0;
}

static int parse_memory(json_t *res, const char *where, struct cg_res *r, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.memory", where);
	json_t *m = NULL;
	int e;

	if ((e = hjson_get_obj(res, "memory", where, false, &m, err)) < 0 || !m)
		return e;
	if ((e = get_limit(m, "limit", w, &r->has_mem_limit, &r->mem_limit, err)) < 0 ||
	    (e = get_limit(m, "reservation", w, &r->has_mem_reservation, &r->mem_reservation,
			   err)) < 0 ||
	    (e = get_limit(m, "swap", w, &r->has_mem_swap, &r->mem_swap, err)) < 0)
		return e;
	if (json_object_get(m, "swappiness") && !json_is_null(json_object_get(m, "swappiness"))) {
		if ((e = hjson_get_u64(m, "swappiness", w, false, &r->swappiness, err)) < 0)
			return e;
		if (r->swappiness > 100)
			return hull_err_setx(err, ERANGE, "%s.swappiness: %llu is out of range "
					     "[0, 100]", w, (unsigned long long)r->swappiness);
		r->has_swappiness = true;
	}
	if (json_object_get(m, "disableOOMKiller")) {
		if ((e = hjson_get_bool(m, "disableOOMKiller", w, false, &r->disable_oom, err)) < 0)
			return e;
		r->has_disable_oom = true;
	}
	if (r->has_mem_swap && r->mem_swap > 0 && r->has_mem_limit && r->mem_limit > 0 &&
	    r->mem_swap < r->mem_limit)
		return hull_err_setx(err, EINVAL, "%s.swap: memory+swap limit %lld is below the "
				     "memory limit %lld", w, (long long)r->mem_swap,
				     (long long)r->mem_limit);
	return 0;
}

static int parse_cpu(json_t *res, const char *where, struct cg_res *r, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.cpu", where);
	const char *str = NULL;
	json_t *c = NULL;
	int64_t v;
	int e;

	if ((e = hjson_get_obj(res, "cpu", where, false, &c, err)) < 0 || !c)
		return e;
	if ((e = get_u64_nz(c, "shares", w, &r->has_cpu_shares, &r->cpu_shares, 2, 262144,
			    err)) < 0 ||
	    (e = get_limit(c, "quota", w, &r->has_cpu_quota, &r->cpu_quota, err)) < 0 ||
	    (e = get_u64_nz(c, "period", w, &r->has_cpu_period, &r->cpu_period, 1000, 1000000,
			    err)) < 0 ||
	    (e = get_u64_nz(c, "burst", w, &r->has_cpu_burst, &r->cpu_burst, 0, UINT32_MAX,
			    err)) < 0 ||
	    (e = get_u64_nz(c, "realtimePeriod", w, &r->has_rt_period, &r->rt_period, 1,
			    INT32_MAX, err)) < 0)
		return e;
	if (r->has_cpu_quota && r->cpu_quota > 0 && r->cpu_quota < 1000)
		return hull_err_setx(err, ERANGE, "%s.quota: %lld is below the kernel's minimum "
				     "of 1000", w, (long long)r->cpu_quota);
	v = 0;
	if ((e = hjson_get_int(c, "realtimeRuntime", w, false, -1, INT32_MAX, &v, err)) < 0)
		return e;
	if (v != 0) {
		r->has_rt_runtime = true;
		r->rt_runtime = v;
	}
	if (json_object_get(c, "idle")) {
		if ((e = hjson_get_int(c, "idle", w, false, 0, 1, &r->cpu_idle, err)) < 0)
			return e;
		r->has_cpu_idle = true;
	}
	if ((e = hjson_get_str(c, "cpus", w, false, &str, err)) < 0)
		return e;
	if (str && *str)
		r->cpus = xstrdup(str);
	str = NULL;
	if ((e = hjson_get_str(c, "mems", w, false, &str, err)) < 0)
		return e;
	if (str && *str)
		r->mems = xstrdup(str);
	return 0;
}

static int parse_pids(json_t *res, const char *where, struct cg_res *r, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.pids", where);
	json_t *p = NULL;
	int64_t v = 0;
	int e;

	if ((e = hjson_get_obj(res, "pids", where, false, &p, err)) < 0 || !p)
		return e;
	if ((e = hjson_get_int(p, "limit", w, true, INT64_MIN, INT64_MAX, &v, err)) < 0)
		return e;
	if (v < -1)
		return hull_err_setx(err, EINVAL, "%s.limit: %lld is not a valid limit (-1 or 0 "
				     "mean unlimited)", w, (long long)v);
	r->has_pids = true;
	r->pids_limit = v <= 0 ? -1 : v;
	return 0;
}

static int parse_blkio_devs(json_t *b, const char *key, const char *w, const char *valkey,
			    struct cg_blkio_dev **ret, size_t *ret_n, struct hull_err *err)
{
	json_t *arr = NULL, *d;
	size_t i;
	int e;

	if ((e = hjson_get_arr(b, key, w, false, &arr, err)) < 0 || !arr)
		return e;
	if (json_array_size(arr) > CG_MAX_BLKIO_DEVICES)
		return hull_err_setx(err, E2BIG, "%s.%s: more than %d devices", w, key,
				     CG_MAX_BLKIO_DEVICES);
	*ret = xcalloc(json_array_size(arr) + 1, sizeof(**ret));
	json_array_foreach(arr, i, d) {
		cleanup_free char *dw = xasprintf("%s.%s[%zu]", w, key, i);
		struct cg_blkio_dev *x = &(*ret)[i];

		if (!json_is_object(d))
			return hull_err_setx(err, EINVAL, "%s: expected an object", dw);
		if ((e = hjson_get_int(d, "major", dw, true, 0, UINT32_MAX, &x->major, err)) < 0 ||
		    (e = hjson_get_int(d, "minor", dw, true, 0, UINT32_MAX, &x->minor, err)) < 0)
			return e;
		if (json_object_get(d, valkey)) {
			if ((e = hjson_get_u64(d, valkey, dw, false, &x->value, err)) < 0)
				return e;
			x->has_value = true;
		}
		if (!cg_block_device_exists(x->major, x->minor))
			return hull_err_setx(err, ENODEV, "%s: no block device %lld:%lld on this "
					     "host", dw, (long long)x->major, (long long)x->minor);
		*ret_n = i + 1;
	}
	return 0;
}

static int parse_blkio(json_t *res, const char *where, struct cg_res *r, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.blockIO", where);
	json_t *b = NULL;
	int e;

	if ((e = hjson_get_obj(res, "blockIO", where, false, &b, err)) < 0 || !b)
		return e;
	if ((e = get_u64_nz(b, "weight", w, &r->has_blkio_weight, &r->blkio_weight, 10, 1000,
			    err)) < 0 ||
	    (e = parse_blkio_devs(b, "weightDevice", w, "weight", &r->weight_dev,
				  &r->n_weight_dev, err)) < 0)
		return e;
	for (size_t i = 0; i < r->n_weight_dev; i++) {
		uint64_t v = r->weight_dev[i].value;

		if (r->weight_dev[i].has_value && (v < 10 || v > 1000))
			return hull_err_setx(err, ERANGE, "%s.weightDevice[%zu].weight: %llu is out "
					     "of range [10, 1000]", w, i, (unsigned long long)v);
	}
	for (int t = 0; t < CG_THR_COUNT; t++)
		if ((e = parse_blkio_devs(b, throttle_keys[t], w, "rate", &r->throttle[t],
					  &r->n_throttle[t], err)) < 0)
			return e;
	return 0;
}

static int parse_hugepages(json_t *res, const char *where, struct cg_res *r,
			   struct hull_err *err)
{
	json_t *arr = NULL, *h;
	size_t i;
	int e;

	if ((e = hjson_get_arr(res, "hugepageLimits", where, false, &arr, err)) < 0 || !arr)
		return e;
	if (json_array_size(arr) > CG_MAX_HUGEPAGES)
		return hull_err_setx(err, E2BIG, "%s.hugepageLimits: more than %d entries", where,
				     CG_MAX_HUGEPAGES);
	r->hugepages = xcalloc(json_array_size(arr) + 1, sizeof(*r->hugepages));
	json_array_foreach(arr, i, h) {
		cleanup_free char *hw = xasprintf("%s.hugepageLimits[%zu]", where, i);
		struct cg_hugepage *x = &r->hugepages[i];
		const char *ps = NULL;

		if (!json_is_object(h))
			return hull_err_setx(err, EINVAL, "%s: expected an object", hw);
		if ((e = hjson_get_str(h, "pageSize", hw, true, &ps, err)) < 0 ||
		    (e = hjson_get_u64(h, "limit", hw, true, &x->limit, err)) < 0)
			return e;
		x->page_size = xstrdup(ps);
		r->n_hugepages = i + 1;
		/* The kernel names page sizes "2MB", "1GB" (hugetlb cgroup files). */
		if (strlen(ps) > 16 || strspn(ps, "0123456789KMGB") != strlen(ps))
			return hull_err_setx(err, EINVAL, "%s.pageSize: invalid page size \"%s\"",
					     hw, ps);
	}
	return 0;
}

static int parse_network(json_t *res, const char *where, struct cg_res *r, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.network", where);
	json_t *n = NULL, *arr = NULL, *p;
	size_t i;
	int e;

	if ((e = hjson_get_obj(res, "network", where, false, &n, err)) < 0 || !n)
		return e;
	if (json_object_get(n, "classID")) {
		if ((e = hjson_get_u64(n, "classID", w, false, &r->net_classid, err)) < 0)
			return e;
		if (r->net_classid > UINT32_MAX)
			return hull_err_setx(err, ERANGE, "%s.classID: out of range", w);
		r->has_net_classid = true;
	}
	if ((e = hjson_get_arr(n, "priorities", w, false, &arr, err)) < 0 || !arr)
		return e;
	if (json_array_size(arr) > CG_MAX_UNIFIED)
		return hull_err_setx(err, E2BIG, "%s.priorities: too many entries", w);
	r->net_prio = xcalloc(json_array_size(arr) + 1, sizeof(*r->net_prio));
	json_array_foreach(arr, i, p) {
		cleanup_free char *pw = xasprintf("%s.priorities[%zu]", w, i);
		const char *name = NULL;
		uint64_t prio = 0;

		if (!json_is_object(p))
			return hull_err_setx(err, EINVAL, "%s: expected an object", pw);
		if ((e = hjson_get_str(p, "name", pw, true, &name, err)) < 0 ||
		    (e = hjson_get_u64(p, "priority", pw, true, &prio, err)) < 0)
			return e;
		if (!*name || strchr(name, ' ') || strchr(name, '\n') || prio > UINT32_MAX)
			return hull_err_setx(err, EINVAL, "%s: invalid interface or priority", pw);
		r->net_prio[i].key = xstrdup(name);
		r->net_prio[i].value = xasprintf("%llu", (unsigned long long)prio);
		r->n_net_prio = i + 1;
	}
	return 0;
}

static void add_rule(struct cg_res *r, const struct cgroup_dev_rule *d)
{
	if (r->n_devices % 16 == 0)
		r->devices = xreallocarray(r->devices, r->n_devices + 16, sizeof(*r->devices));
	r->devices[r->n_devices++] = *d;
}

static int parse_devices(json_t *res, const char *where, const struct oci_spec *s,
			 struct cg_res *r, struct hull_err *err)
{
	json_t *arr = NULL, *d;
	size_t i;
	int e;

	r->has_devices = true;
	if ((e = hjson_get_arr(res, "devices", where, false, &arr, err)) < 0)
		return e;
	if (arr && json_array_size(arr) > CG_MAX_DEVICE_RULES)
		return hull_err_setx(err, E2BIG, "%s.devices: more than %d rules", where,
				     CG_MAX_DEVICE_RULES);
	/* runc: the rules of linux.resources.devices, then the default allowed devices,
	 * then one "rwm" rule per linux.devices entry; the base state is deny-all. */
	json_array_foreach(arr, i, d) {
		cleanup_free char *dw = xasprintf("%s.devices[%zu]", where, i);
		struct cgroup_dev_rule x = { 0 };

		if ((e = cgroup_dev_rule_from_json(d, dw, &x, err)) < 0)
			return e;
		add_rule(r, &x);
	}
	for (i = 0; i < ARRAY_SIZE(default_devices); i++)
		add_rule(r, &default_devices[i]);
	for (i = 0; s && i < s->n_devices; i++) {
		struct cgroup_dev_rule x = { true, s->devices[i].type, s->devices[i].major,
					 s->devices[i].minor, "rwm" };

		if (x.type == 'p')
			continue; /* fifos are not device-controlled */
		add_rule(r, &x);
	}
	return 0;
}

static int parse_unified(json_t *res, const char *where, struct cg_res *r, struct hull_err *err)
{
	json_t *u = NULL, *v;
	const char *k;
	size_t i = 0;
	int e;

	if ((e = hjson_get_obj(res, "unified", where, false, &u, err)) < 0 || !u)
		return e;
	if (json_object_size(u) > CG_MAX_UNIFIED)
		return hull_err_setx(err, E2BIG, "%s.unified: more than %d keys", where,
				     CG_MAX_UNIFIED);
	r->unified = xcalloc(json_object_size(u) + 1, sizeof(*r->unified));
	json_object_foreach(u, k, v) {
		if (!json_is_string(v))
			return hull_err_setx(err, EINVAL, "%s.unified.%s: expected a string, got %s",
					     where, k, hjson_type_name(v));
		/* A key names one file of the container's own cgroup directory. */
		if (!*k || strchr(k, '/') || strcmp(k, ".") == 0 || strcmp(k, "..") == 0 ||
		    !strchr(k, '.'))
			return hull_err_setx(err, EINVAL, "%s.unified: invalid key \"%s\"", where,
					     k);
		if (strncmp(k, "cgroup.", 7) == 0 && strcmp(k, "cgroup.max.depth") != 0 &&
		    strcmp(k, "cgroup.max.descendants") != 0)
			return hull_err_setx(err, EINVAL, "%s.unified.%s: this key is managed by "
					     "the runtime", where, k);
		r->unified[i].key = xstrdup(k);
		r->unified[i].value = xstrdup(json_string_value(v));
		r->n_unified = ++i;
	}
	return 0;
}

int cg_res_parse(json_t *resources, const char *where, const struct oci_spec *s,
		 bool with_devices, struct cg_res *ret, struct hull_err *err)
{
	json_t *empty = NULL;
	int e;

	memset(ret, 0, sizeof(*ret));
	if (!resources)
		resources = empty = json_object();
	if (!json_is_object(resources)) {
		json_decref(empty);
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", where,
				     hjson_type_name(resources));
	}
	if ((e = parse_memory(resources, where, ret, err)) < 0 ||
	    (e = parse_cpu(resources, where, ret, err)) < 0 ||
	    (e = parse_pids(resources, where, ret, err)) < 0 ||
	    (e = parse_blkio(resources, where, ret, err)) < 0 ||
	    (e = parse_hugepages(resources, where, ret, err)) < 0 ||
	    (e = parse_network(resources, where, ret, err)) < 0 ||
	    (e = parse_unified(resources, where, ret, err)) < 0 ||
	    (with_devices && (e = parse_devices(resources, where, s, ret, err)) < 0)) {
		json_decref(empty);
		cg_res_clear(ret);
		return e;
	}
	json_decref(empty);
	return 0;
}
