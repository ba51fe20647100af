/*
 * cgroup v2: linux.resources as writes into the container's one directory (the kernel's
 * Documentation/admin-guide/cgroup-v2.rst), mapped as runc's libcontainer/cgroups/fs2 does,
 * and the stats that `events` reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "container/cgroup-internal.h"

static const char *const thr_keys[OCI_THR_COUNT] = {
	[OCI_THR_READ_BPS] = "rbps",
	[OCI_THR_WRITE_BPS] = "wbps",
	[OCI_THR_READ_IOPS] = "riops",
	[OCI_THR_WRITE_IOPS] = "wiops",
};

/* cpu.shares [2, 262144] to cpu.weight [1, 10000] (runc's ConvertCPUSharesToCgroupV2Value). */
static uint64_t shares_to_weight(uint64_t shares)
{
	return 1 + ((shares - 2) * 9999) / 262142;
}

/* blkio weight [10, 1000] to io.weight [1, 10000] (runc's ConvertBlkIOToIOWeightValue). */
static uint64_t blkio_to_io_weight(uint64_t w)
{
	return 1 + (w - 10) * 9999 / 990;
}

static int plan_memory(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
		       struct cg_plan *out, struct hull_err *err)
{
	int64_t limit = r->has_mem_limit ? r->mem_limit : 0, swap = r->has_mem_swap ? r->mem_swap : 0;

	if (r->has_mem_limit) {
		if (limit < 0)
			cg_plan_add(out, CG_UNIFIED, "memory.max", "memory.limit", true, "max");
		else
			cg_plan_add(out, CG_UNIFIED, "memory.max", "memory.limit", true, "%lld",
				    (long long)limit);
	}
	/* v1's swap is memory+swap; v2's memory.swap.max is the swap alone. */
	if (swap != 0 || limit == -1) {
		const char *val = "max";
		char buf[32];

		if (swap > 0) {
			cleanup_free char *mw = xasprintf("%s.memory", where);
			uint64_t cur = 0;
			int e;

			/* update --memory-swap alone: the memory limit in force counts, checked
			 * with the model's rule (a limit given with it was checked on parse). */
			if (limit == 0 && cg_read_u64(p->dirs[CG_UNIFIED], "memory.max", &cur) == 0 &&
			    cur != UINT64_MAX && cur <= INT64_MAX) {
				limit = (int64_t)cur;
				if ((e = spec_memory_swap_check(limit, swap, mw, err)) < 0)
					return e;
			}
			if (limit <= 0)
				return hull_err_setx(err, EINVAL, "%s.memory.swap: a swap limit needs "
						     "a memory limit on cgroup v2", where);
			(void)snprintf(buf, sizeof(buf), "%lld", (long long)(swap - limit));
			val = buf;
		}
		if (cg_has_file(p, CG_UNIFIED, "memory.swap.max"))
			cg_plan_add(out, CG_UNIFIED, "memory.swap.max", "memory.swap", true, "%s",
				    val);
		else if (swap > 0)
			return hull_err_setx(err, ENOTSUP, "%s.memory.swap: swap accounting is off "
					     "on this host (no memory.swap.max)", where);
	}
	if (r->has_mem_reservation) {
		if (r->mem_reservation < 0)
			cg_plan_add(out, CG_UNIFIED, "memory.low", "memory.reservation", true, "max");
		else
			cg_plan_add(out, CG_UNIFIED, "memory.low", "memory.reservation", true,
				    "%lld", (long long)r->mem_reservation);
	}
	/* swappiness and disableOOMKiller have no v2 file; runc ignores them too. */
	return 0;
}

static int plan_cpu(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
		    struct cg_plan *out, struct hull_err *err)
{
	if (r->has_rt_period || r->has_rt_runtime)
		return hull_err_setx(err, ENOTSUP, "%s.cpu.realtimeRuntime: realtime CPU limits "
				     "do not exist on cgroup v2", where);
	if (r->has_cpu_shares)
		cg_plan_add(out, CG_UNIFIED, "cpu.weight", "cpu.shares", true, "%llu",
			    (unsigned long long)shares_to_weight(r->cpu_shares));
	if (r->has_cpu_quota || r->has_cpu_period) {
		char quota[32] = "max";

		if (r->has_cpu_quota && r->cpu_quota > 0)
			(void)snprintf(quota, sizeof(quota), "%lld", (long long)r->cpu_quota);
		if (r->has_cpu_period)
			cg_plan_add(out, CG_UNIFIED, "cpu.max", "cpu.quota", true, "%s %llu", quota,
				    (unsigned long long)r->cpu_period);
		else
			cg_plan_add(out, CG_UNIFIED, "cpu.max", "cpu.quota", true, "%s", quota);
	}
	if (r->has_cpu_burst)
		cg_plan_add(out, CG_UNIFIED, "cpu.max.burst", "cpu.burst", true, "%llu",
			    (unsigned long long)r->cpu_burst);
	if (r->has_cpu_idle)
		cg_plan_add(out, CG_UNIFIED, "cpu.idle", "cpu.idle", true, "%lld",
			    (long long)r->cpu_idle);
	if (!r->cpus && !r->mems)
		return 0;
	return cg_plan_cpuset(p->dirs[CG_UNIFIED], CG_UNIFIED, "cpuset.cpus.effective",
			      "cpuset.mems.effective", r, where, out, err);
}

static void plan_io(const struct cgroup_paths *p, const struct oci_resources *r, struct cg_plan *out)
{
	bool bfq = cg_has_file(p, CG_UNIFIED, "io.bfq.weight");

	if (r->has_blkio_weight) {
		if (bfq)
			cg_plan_add(out, CG_UNIFIED, "io.bfq.weight", "blockIO.weight", true, "%llu",
				    (unsigned long long)r->blkio_weight);
		else
			cg_plan_add(out, CG_UNIFIED, "io.weight", "blockIO.weight", false,
				    "default %llu",
				    (unsigned long long)blkio_to_io_weight(r->blkio_weight));
	}
	for (size_t i = 0; i < r->n_weight_dev; i++) {
		const struct oci_blkio_dev *d = &r->weight_dev[i];

		if (!d->has_value)
			continue;
		cg_plan_add(out, CG_UNIFIED, bfq ? "io.bfq.weight" : "io.weight",
			    "blockIO.weightDevice", false, "%lld:%lld %llu", (long long)d->major,
			    (long long)d->minor,
			    (unsigned long long)(bfq ? d->value : blkio_to_io_weight(d->value)));
	}
	for (int t = 0; t < OCI_THR_COUNT; t++)
		for (size_t i = 0; i < r->n_throttle[t]; i++) {
			const struct oci_blkio_dev *d = &r->throttle[t][i];

			cg_plan_add(out, CG_UNIFIED, "io.max", "blockIO.throttle", false,
				    "%lld:%lld %s=%llu", (long long)d->major, (long long)d->minor,
				    thr_keys[t], (unsigned long long)d->value);
		}
}

int cgv2_plan(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
	      struct cg_plan *out, struct hull_err *err)
{
	int e;

	if (r->has_net_classid || r->n_net_prio)
		return hull_err_setx(err, ENOTSUP, "%s.network: net_cls and net_prio do not exist "
				     "on cgroup v2", where);
	if ((e = plan_memory(p, r, where, out, err)) < 0 || (e = plan_cpu(p, r, where, out, err)) < 0)
		return e;
	cg_plan_pids(r, CG_UNIFIED, out);
	plan_io(p, r, out);
	if ((e = cg_plan_hugepages(p, CG_UNIFIED, "max", r, where, out, err)) < 0)
		return e;
	for (size_t i = 0; i < r->n_unified; i++) {
		if (!cg_has_file(p, CG_UNIFIED, r->unified[i].key))
			return hull_err_setx(err, ENOENT, "%s.unified.%s: no such cgroup file (is "
					     "its controller enabled?)", where, r->unified[i].key);
		cg_plan_add(out, CG_UNIFIED, r->unified[i].key, "unified", false, "%s",
			    r->unified[i].value);
	}
	return 0;
}

/* ---- stats ---- */

static json_t *v2_io(const char *dir)
{
	cleanup_free char *buf = cg_read_alloc(dir, "io.stat");
	json_t *bytes = json_array(), *ios = json_array(), *o = json_object();

	for (char *line = buf, *next; line && *line; line = next) {
		unsigned maj, min;
		int n = 0;
		char *tok, *save = NULL;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%u:%u%n", &maj, &min, &n) < 2)
			continue;
		for (tok = strtok_r(line + n, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			unsigned long long v = strtoull(strchr(tok, '=') ? strchr(tok, '=') + 1 : "0",
							NULL, 10);
			json_t *arr = tok[1] == 'b' ? bytes : ios;
			const char *op = tok[0] == 'r' ? "Read" : "Write";

			if (strncmp(tok, "rbytes=", 7) && strncmp(tok, "wbytes=", 7) &&
			    strncmp(tok, "rios=", 5) && strncmp(tok, "wios=", 5))
				continue;
			json_array_append_new(arr, json_pack("{s:i,s:i,s:s,s:I}", "major", maj,
							     "minor", min, "op", op, "value",
							     (json_int_t)v));
		}
	}
	json_object_set_new(o, "ioServiceBytesRecursive", bytes);
	json_object_set_new(o, "ioServicedRecursive", ios);
	return o;
}

json_t *cgv2_stats(const struct cgroup_paths *p)
{
	const char *d = p->dirs[CG_UNIFIED];
	json_t *o = json_object(), *cpu = json_object(), *usage = json_object();
	json_t *thr = json_object(), *mem = json_object(), *pids = json_object();
	json_t *cst = cg_read_flat_keyed(d, "cpu.stat"), *raw = cg_read_flat_keyed(d, "memory.stat");
	json_t *u = json_object(), *sw = json_object();
	uint64_t v = 0;

	cg_json_set_u64(usage, "total", 1000 * (uint64_t)json_integer_value(json_object_get(cst, "usage_usec")),
		true);
	cg_json_set_u64(usage, "kernel",
		1000 * (uint64_t)json_integer_value(json_object_get(cst, "system_usec")), false);
	cg_json_set_u64(usage, "user", 1000 * (uint64_t)json_integer_value(json_object_get(cst, "user_usec")),
		false);
	cg_json_set_u64(thr, "periods", (uint64_t)json_integer_value(json_object_get(cst, "nr_periods")),
		true);
	cg_json_set_u64(thr, "throttledPeriods",
		(uint64_t)json_integer_value(json_object_get(cst, "nr_throttled")), true);
	cg_json_set_u64(thr, "throttledTime",
		1000 * (uint64_t)json_integer_value(json_object_get(cst, "throttled_usec")), true);
	json_decref(cst);
	json_object_set_new(cpu, "usage", usage);
	json_object_set_new(cpu, "throttling", thr);
	json_object_set_new(o, "cpu", cpu);

	cg_json_set_u64(mem, "cache", (uint64_t)json_integer_value(json_object_get(raw, "file")), true);
	if (cg_read_u64(d, "memory.current", &v) == 0)
		cg_json_set_u64(u, "usage", v, true);
	if (cg_read_u64(d, "memory.max", &v) == 0)
		cg_json_set_u64(u, "limit", v, false);
	if (cg_read_u64(d, "memory.peak", &v) == 0)
		cg_json_set_u64(u, "max", v, true);
	v = 0;
	(void)cg_read_keyed(d, "memory.events", "max", &v);
	cg_json_set_u64(u, "failcnt", v, false);
	if (cg_read_u64(d, "memory.swap.current", &v) == 0)
		cg_json_set_u64(sw, "usage", v, true);
	if (cg_read_u64(d, "memory.swap.max", &v) == 0)
		cg_json_set_u64(sw, "limit", v, false);
	json_object_set_new(mem, "usage", u);
	json_object_set_new(mem, "swap", sw);
	json_object_set_new(mem, "raw", raw);
	json_object_set_new(o, "memory", mem);

	if (cg_read_u64(d, "pids.current", &v) == 0)
		cg_json_set_u64(pids, "current", v, true);
	if (cg_read_u64(d, "pids.max", &v) == 0 && v != UINT64_MAX)
		cg_json_set_u64(pids, "limit", v, true);
	json_object_set_new(o, "pids", pids);
	json_object_set_new(o, "blkio", v2_io(d));
	json_object_set_new(o, "hugetlb", json_object());
	return o;
}
