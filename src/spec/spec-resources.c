/*
 * linux.resources (runtime-spec config-linux.md "Control groups"): parse and validate, every
 * cross-field rule here and nowhere else (see spec-resources.h). Host checks (does this block
 * device, this cgroup file exist) are the cgroup code's, where the values are written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "spec/spec-internal.h"
#include "spec/spec.h"

static const char *const throttle_keys[OCI_THR_COUNT] = {
	[OCI_THR_READ_BPS] = "throttleReadBpsDevice",
	[OCI_THR_WRITE_BPS] = "throttleWriteBpsDevice",
	[OCI_THR_READ_IOPS] = "throttleReadIOPSDevice",
	[OCI_THR_WRITE_IOPS] = "throttleWriteIOPSDevice",
};

void spec_resources_clear(struct oci_resources *r)
{
	free(r->cpus);
	free(r->mems);
	free(r->weight_dev);
	for (int i = 0; i < OCI_THR_COUNT; i++)
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
	for (size_t i = 0; i < r->n_rdma; i++)
		free(r->rdma[i].device);
	free(r->rdma);
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

int spec_memory_swap_check(int64_t limit, int64_t swap, const char *w, struct hull_err *err)
{
	/* swap is memory+swap (runc, v1's memsw): never below the memory limit; -1 for either
	 * is unlimited and always fits. */
	if (swap > 0 && limit > 0 && swap < limit)
		return hull_err_setx(err, EINVAL, "%s.swap: must be >= memory.limit (memory+swap "
				     "limit %lld is below the memory limit %lld)", w,
				     (long long)swap, (long long)limit);
	return 0;
}

static int parse_memory(json_t *res, const char *where, struct oci_resources *r,
			struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.memory", where);
	json_t *m = NULL;
	int e;

	if ((e = hjson_get_obj(res, "memory", where, false, &m, err)) < 0 || !m)
		return e;
	if ((e = get_limit(m, "limit", w, &r->has_mem_limit, &r->mem_limit, err)) < 0 ||
	    (e = get_limit(m, "reservation", w, &r->has_mem_reservation, &r->mem_reservation,
			   err)) < 0 ||
	    (e = get_limit(m, "swap", w, &r->has_mem_swap, &r->mem_swap, err)) < 0 ||
	    (e = get_limit(m, "kernel", w, &r->has_mem_kernel, &r->mem_kernel, err)) < 0 ||
	    (e = get_limit(m, "kernelTCP", w, &r->has_mem_kernel_tcp, &r->mem_kernel_tcp, err)) <
		    0)
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
	return spec_memory_swap_check(r->has_mem_limit ? r->mem_limit : 0,
				     r->has_mem_swap ? r->mem_swap : 0, w, err);
}

static int parse_cpu(json_t *res, const char *where, struct oci_resources *r, struct hull_err *err)
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
	if (str && *str && !spec_cpu_list_is_valid(str))
		return hull_err_setx(err, EINVAL, "%s.cpus: invalid list \"%s\" (e.g. 0-3,5)", w,
				     str);
	if (str && *str)
		r->cpus = xstrdup(str);
	str = NULL;
	if ((e = hjson_get_str(c, "mems", w, false, &str, err)) < 0)
		return e;
	if (str && *str && !spec_cpu_list_is_valid(str))
		return hull_err_setx(err, EINVAL, "%s.mems: invalid list \"%s\" (e.g. 0-1)", w,
				     str);
	if (str && *str)
		r->mems = xstrdup(str);
	return 0;
}

static int parse_pids(json_t *res, const char *where, struct oci_resources *r, struct hull_err *err)
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
			    struct oci_blkio_dev **ret, size_t *ret_n, struct hull_err *err)
{
	json_t *arr = NULL, *d;
	size_t i;
	int e;

	if ((e = hjson_get_arr(b, key, w, false, &arr, err)) < 0 || !arr)
		return e;
	if (json_array_size(arr) > OCI_MAX_BLKIO_DEVICES)
		return hull_err_setx(err, E2BIG, "%s.%s: more than %d devices", w, key,
				     OCI_MAX_BLKIO_DEVICES);
	*ret = xcalloc(json_array_size(arr) + 1, sizeof(**ret));
	json_array_foreach(arr, i, d) {
		cleanup_free char *dw = xasprintf("%s.%s[%zu]", w, key, i);
		struct oci_blkio_dev *x = &(*ret)[i];

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
		*ret_n = i + 1;
	}
	return 0;
}

static int parse_blkio(json_t *res, const char *where, struct oci_resources *r, struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.blockIO", where);
	json_t *b = NULL;
	int e;

	if ((e = hjson_get_obj(res, "blockIO", where, false, &b, err)) < 0 || !b)
		return e;
	if ((e = get_u64_nz(b, "weight", w, &r->has_blkio_weight, &r->blkio_weight, 10, 1000,
			    err)) < 0 ||
	    (e = get_u64_nz(b, "leafWeight", w, &r->has_blkio_leaf_weight, &r->blkio_leaf_weight,
			    10, 1000, err)) < 0 ||
	    (e = parse_blkio_devs(b, "weightDevice", w, "weight", &r->weight_dev,
				  &r->n_weight_dev, err)) < 0)
		return e;
	for (size_t i = 0; i < r->n_weight_dev; i++) {
		uint64_t v = r->weight_dev[i].value;

		if (r->weight_dev[i].has_value && (v < 10 || v > 1000))
			return hull_err_setx(err, ERANGE, "%s.weightDevice[%zu].weight: %llu is out "
					     "of range [10, 1000]", w, i, (unsigned long long)v);
	}
	for (int t = 0; t < OCI_THR_COUNT; t++)
		if ((e = parse_blkio_devs(b, throttle_keys[t], w, "rate", &r->throttle[t],
					  &r->n_throttle[t], err)) < 0)
			return e;
	return 0;
}

static int parse_hugepages(json_t *res, const char *where, struct oci_resources *r,
			   struct hull_err *err)
{
	json_t *arr = NULL, *h;
	size_t i;
	int e;

	if ((e = hjson_get_arr(res, "hugepageLimits", where, false, &arr, err)) < 0 || !arr)
		return e;
	if (json_array_size(arr) > OCI_MAX_HUGEPAGES)
		return hull_err_setx(err, E2BIG, "%s.hugepageLimits: more than %d entries", where,
				     OCI_MAX_HUGEPAGES);
	r->hugepages = xcalloc(json_array_size(arr) + 1, sizeof(*r->hugepages));
	json_array_foreach(arr, i, h) {
		cleanup_free char *hw = xasprintf("%s.hugepageLimits[%zu]", where, i);
		struct oci_hugepage *x = &r->hugepages[i];
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

static int parse_network(json_t *res, const char *where, struct oci_resources *r, struct hull_err *err)
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
	if (json_array_size(arr) > OCI_MAX_UNIFIED)
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

static int parse_devices(json_t *res, const char *where, struct oci_resources *r,
			 struct hull_err *err)
{
	cleanup_free char *w = xasprintf("%s.devices", where);
	json_t *arr = NULL;
	int e;

	if ((e = hjson_get_arr(res, "devices", where, false, &arr, err)) < 0 || !arr)
		return e;
	if (json_array_size(arr) > OCI_MAX_DEVICE_RULES)
		return hull_err_setx(err, E2BIG, "%s.devices: more than %d rules", where,
				     OCI_MAX_DEVICE_RULES);
	r->has_devices = true;
	return spec_dev_rules_from_json(arr, w, &r->devices, &r->n_devices, err);
}

/* rdma: {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}} (rdma cgroup's rdma.max). */
static int parse_rdma(json_t *res, const char *where, struct oci_resources *r,
		      struct hull_err *err)
{
	json_t *o = NULL, *v;
	const char *dev;
	size_t i = 0;
	int e;

	if ((e = hjson_get_obj(res, "rdma", where, false, &o, err)) < 0 || !o)
		return e;
	if (json_object_size(o) > OCI_MAX_RDMA)
		return hull_err_setx(err, E2BIG, "%s.rdma: more than %d devices", where,
				     OCI_MAX_RDMA);
	r->rdma = xcalloc(json_object_size(o) + 1, sizeof(*r->rdma));
	json_object_foreach(o, dev, v) {
		cleanup_free char *dw = xasprintf("%s.rdma.%s", where, dev);
		struct oci_rdma *x = &r->rdma[i];
		int64_t n = -1;

		if (!*dev || strpbrk(dev, " \n/"))
			return hull_err_setx(err, EINVAL, "%s.rdma: invalid device name \"%s\"",
					     where, dev);
		if (!json_is_object(v))
			return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", dw,
					     hjson_type_name(v));
		x->device = xstrdup(dev);
		r->n_rdma = ++i;
		if ((e = hjson_get_int(v, "hcaHandles", dw, false, -1, UINT32_MAX, &n, err)) < 0)
			return e;
		if (n >= 0) {
			x->has_handles = true;
			x->hca_handles = (uint32_t)n;
		}
		n = -1;
		if ((e = hjson_get_int(v, "hcaObjects", dw, false, -1, UINT32_MAX, &n, err)) < 0)
			return e;
		if (n >= 0) {
			x->has_objects = true;
			x->hca_objects = (uint32_t)n;
		}
	}
	return 0;
}

static int parse_unified(json_t *res, const char *where, struct oci_resources *r, struct hull_err *err)
{
	json_t *u = NULL, *v;
	const char *k;
	size_t i = 0;
	int e;

	if ((e = hjson_get_obj(res, "unified", where, false, &u, err)) < 0 || !u)
		return e;
	if (json_object_size(u) > OCI_MAX_UNIFIED)
		return hull_err_setx(err, E2BIG, "%s.unified: more than %d keys", where,
				     OCI_MAX_UNIFIED);
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

int spec_resources_parse(json_t *resources, const char *where, struct oci_resources *ret,
			struct hull_err *err)
{
	int e;

	memset(ret, 0, sizeof(*ret));
	if (!resources)
		return 0;
	if (!json_is_object(resources))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", where,
				     hjson_type_name(resources));
	if ((e = parse_memory(resources, where, ret, err)) < 0 ||
	    (e = parse_cpu(resources, where, ret, err)) < 0 ||
	    (e = parse_pids(resources, where, ret, err)) < 0 ||
	    (e = parse_blkio(resources, where, ret, err)) < 0 ||
	    (e = parse_hugepages(resources, where, ret, err)) < 0 ||
	    (e = parse_network(resources, where, ret, err)) < 0 ||
	    (e = parse_rdma(resources, where, ret, err)) < 0 ||
	    (e = parse_unified(resources, where, ret, err)) < 0 ||
	    (e = parse_devices(resources, where, ret, err)) < 0) {
		spec_resources_clear(ret);
		return e;
	}
	return 0;
}

/* ---- device rules and cpu lists ---- */

/* "rwm" letters into canonical order; false on anything else or a repeat past 3. */
static bool access_canon(const char *access, char out[4])
{
	bool rd = false, wr = false, mk = false;

	if (strlen(access) > 3)
		return false;
	for (const char *p = access; *p; p++) {
		if (*p == 'r')
			rd = true;
		else if (*p == 'w')
			wr = true;
		else if (*p == 'm')
			mk = true;
		else
			return false;
	}
	(void)snprintf(out, 4, "%s%s%s", rd ? "r" : "", wr ? "w" : "", mk ? "m" : "");
	return true;
}

int spec_dev_rule_from_json(json_t *item, const char *where, struct oci_dev_rule *ret,
			   struct hull_err *err)
{
	struct oci_dev_rule rule = { .type = 'a', .major = -1, .minor = -1 };
	const char *type = NULL, *access = NULL;
	int r;

	if (!json_is_object(item))
		return hull_err_setx(err, EINVAL, "%s: expected an object, got %s", where,
				     hjson_type_name(item));
	if ((r = hjson_get_bool(item, "allow", where, true, &rule.allow, err)) < 0 ||
	    (r = hjson_get_str(item, "type", where, false, &type, err)) < 0 ||
	    (r = hjson_get_int(item, "major", where, false, -1, UINT32_MAX, &rule.major, err)) <
		    0 ||
	    (r = hjson_get_int(item, "minor", where, false, -1, UINT32_MAX, &rule.minor, err)) <
		    0 ||
	    (r = hjson_get_str(item, "access", where, false, &access, err)) < 0)
		return r;
	if (type) {
		if (strcmp(type, "a") != 0 && strcmp(type, "b") != 0 && strcmp(type, "c") != 0)
			return hull_err_setx(err, EINVAL,
					     "%s.type: unknown device type \"%s\" (want a, b or c)",
					     where, type);
		rule.type = type[0];
	}
	if (access && !access_canon(access, rule.access))
		return hull_err_setx(err, EINVAL,
				     "%s.access: \"%s\" is not a combination of r, w, m", where,
				     access);
	*ret = rule;
	return 0;
}

int spec_dev_rules_from_json(json_t *arr, const char *where, struct oci_dev_rule **ret_rules,
			    size_t *ret_n, struct hull_err *err)
{
	cleanup_free struct oci_dev_rule *rules = NULL;
	char w[256];
	size_t i, n;
	json_t *item;
	int r;

	if (arr && !json_is_array(arr))
		return hull_err_setx(err, EINVAL, "%s: expected an array, got %s", where,
				     hjson_type_name(arr));
	n = arr ? json_array_size(arr) : 0;
	if (n > OCI_MAX_DEV_RULES_JSON)
		return hull_err_setx(err, E2BIG, "%s: %zu rules, at most %d are supported", where,
				     n, OCI_MAX_DEV_RULES_JSON);
	rules = xcalloc(n ? n : 1, sizeof(*rules));
	json_array_foreach(arr, i, item) {
		(void)snprintf(w, sizeof(w), "%s[%zu]", where, i);
		r = spec_dev_rule_from_json(item, w, &rules[i], err);
		if (r < 0)
			return r;
	}
	*ret_rules = steal_ptr(&rules);
	*ret_n = n;
	return 0;
}

bool spec_cpu_list_parse(const char *s, unsigned char *bits, unsigned max)
{
	const char *p = s;

	if (!*p)
		return true;
	for (;;) {
		char *end = NULL;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return false;
		a = b = strtoul(p, &end, 10);
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return false;
			b = strtoul(p, &end, 10);
		}
		if (a > b || b >= max)
			return false;
		for (unsigned long i = a; i <= b; i++)
			bits[i / 8] |= (unsigned char)(1U << (i % 8));
		if (*end == '\0')
			return true;
		if (*end != ',')
			return false;
		p = end + 1;
	}
}

bool spec_cpu_list_is_valid(const char *s)
{
	unsigned char bits[OCI_CPU_LIST_MAX / 8] = { 0 };

	return *s && spec_cpu_list_parse(s, bits, OCI_CPU_LIST_MAX);
}

/* ---- writer ---- */

static void set_i64(json_t *o, const char *key, bool has, int64_t v)
{
	if (has)
		json_object_set_new(o, key, json_integer(v));
}

static void set_u64(json_t *o, const char *key, bool has, uint64_t v)
{
	if (has)
		json_object_set_new(o, key, spec_json_u64(v));
}

static void set_nonempty(json_t *o, const char *key, json_t *v)
{
	if (json_object_size(v))
		json_object_set_new(o, key, v);
	else
		json_decref(v);
}

static json_t *memory_to_json(const struct oci_resources *r)
{
	json_t *m = json_object();

	set_i64(m, "limit", r->has_mem_limit, r->mem_limit);
	set_i64(m, "reservation", r->has_mem_reservation, r->mem_reservation);
	set_i64(m, "swap", r->has_mem_swap, r->mem_swap);
	set_i64(m, "kernel", r->has_mem_kernel, r->mem_kernel);
	set_i64(m, "kernelTCP", r->has_mem_kernel_tcp, r->mem_kernel_tcp);
	set_u64(m, "swappiness", r->has_swappiness, r->swappiness);
	if (r->has_disable_oom)
		json_object_set_new(m, "disableOOMKiller", json_boolean(r->disable_oom));
	return m;
}

static json_t *cpu_to_json(const struct oci_resources *r)
{
	json_t *c = json_object();

	set_u64(c, "shares", r->has_cpu_shares, r->cpu_shares);
	set_i64(c, "quota", r->has_cpu_quota, r->cpu_quota);
	set_u64(c, "period", r->has_cpu_period, r->cpu_period);
	set_u64(c, "burst", r->has_cpu_burst, r->cpu_burst);
	set_i64(c, "realtimeRuntime", r->has_rt_runtime, r->rt_runtime);
	set_u64(c, "realtimePeriod", r->has_rt_period, r->rt_period);
	set_i64(c, "idle", r->has_cpu_idle, r->cpu_idle);
	if (r->cpus)
		json_object_set_new(c, "cpus", json_string(r->cpus));
	if (r->mems)
		json_object_set_new(c, "mems", json_string(r->mems));
	return c;
}

static json_t *blkio_devs_to_json(const struct oci_blkio_dev *d, size_t n, const char *valkey)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:I,s:I}", "major", (json_int_t)d[i].major, "minor",
				      (json_int_t)d[i].minor);

		set_u64(o, valkey, d[i].has_value, d[i].value);
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *blkio_to_json(const struct oci_resources *r)
{
	json_t *b = json_object();

	set_u64(b, "weight", r->has_blkio_weight, r->blkio_weight);
	set_u64(b, "leafWeight", r->has_blkio_leaf_weight, r->blkio_leaf_weight);
	if (r->n_weight_dev)
		json_object_set_new(b, "weightDevice",
				    blkio_devs_to_json(r->weight_dev, r->n_weight_dev, "weight"));
	for (int t = 0; t < OCI_THR_COUNT; t++)
		if (r->n_throttle[t])
			json_object_set_new(b, throttle_keys[t],
					    blkio_devs_to_json(r->throttle[t], r->n_throttle[t],
							       "rate"));
	return b;
}

static json_t *network_to_json(const struct oci_resources *r)
{
	json_t *n = json_object(), *a = json_array();

	set_u64(n, "classID", r->has_net_classid, r->net_classid);
	if (!r->n_net_prio) {
		json_decref(a);
		return n;
	}
	for (size_t i = 0; i < r->n_net_prio; i++)
		json_array_append_new(a, json_pack("{s:s,s:I}", "name", r->net_prio[i].key,
						   "priority",
						   (json_int_t)strtoll(r->net_prio[i].value, NULL,
								       10)));
	json_object_set_new(n, "priorities", a);
	return n;
}

static json_t *dev_rules_to_json(const struct oci_dev_rule *d, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		char type[2] = { d[i].type, 0 };
		json_t *o = json_pack("{s:b,s:s,s:s}", "allow", d[i].allow, "type", type, "access",
				      d[i].access);

		if (d[i].major >= 0)
			json_object_set_new(o, "major", json_integer(d[i].major));
		if (d[i].minor >= 0)
			json_object_set_new(o, "minor", json_integer(d[i].minor));
		json_array_append_new(a, o);
	}
	return a;
}

static void resources_lists_to_json(const struct oci_resources *r, json_t *o)
{
	if (r->n_hugepages) {
		json_t *a = json_array();

		for (size_t i = 0; i < r->n_hugepages; i++)
			json_array_append_new(a, json_pack("{s:s,s:o}", "pageSize",
							   r->hugepages[i].page_size, "limit",
							   spec_json_u64(r->hugepages[i].limit)));
		json_object_set_new(o, "hugepageLimits", a);
	}
	if (r->n_rdma) {
		json_t *m = json_object();

		for (size_t i = 0; i < r->n_rdma; i++) {
			json_t *x = json_object();

			set_i64(x, "hcaHandles", r->rdma[i].has_handles, r->rdma[i].hca_handles);
			set_i64(x, "hcaObjects", r->rdma[i].has_objects, r->rdma[i].hca_objects);
			json_object_set_new(m, r->rdma[i].device, x);
		}
		json_object_set_new(o, "rdma", m);
	}
	if (r->n_unified) {
		json_t *u = json_object();

		for (size_t i = 0; i < r->n_unified; i++)
			json_object_set_new(u, r->unified[i].key, json_string(r->unified[i].value));
		json_object_set_new(o, "unified", u);
	}
	if (r->has_devices)
		json_object_set_new(o, "devices", dev_rules_to_json(r->devices, r->n_devices));
}

json_t *spec_resources_to_json(const struct oci_resources *r)
{
	json_t *o = json_object();

	/* Empty objects are left out, as runc's and podman's writers do (omitempty). */
	set_nonempty(o, "memory", memory_to_json(r));
	set_nonempty(o, "cpu", cpu_to_json(r));
	if (r->has_pids)
		json_object_set_new(o, "pids", json_pack("{s:I}", "limit",
							 (json_int_t)r->pids_limit));
	set_nonempty(o, "blockIO", blkio_to_json(r));
	if (r->has_net_classid || r->n_net_prio)
		json_object_set_new(o, "network", network_to_json(r));
	resources_lists_to_json(r, o);
	return o;
}
