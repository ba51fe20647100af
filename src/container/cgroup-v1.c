/*
 * cgroup v1: linux.resources as writes into the per-controller hierarchies (the kernel's
 * Documentation/admin-guide/cgroup-v1/, mapped as runc's libcontainer/cgroups/fs does), and
 * the stats that `events` reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "container/cgroup-internal.h"

static const char *const thr_files[OCI_THR_COUNT] = {
	[OCI_THR_READ_BPS] = "blkio.throttle.read_bps_device",
	[OCI_THR_WRITE_BPS] = "blkio.throttle.write_bps_device",
	[OCI_THR_READ_IOPS] = "blkio.throttle.read_iops_device",
	[OCI_THR_WRITE_IOPS] = "blkio.throttle.write_iops_device",
};

static const char *const thr_fields[OCI_THR_COUNT] = {
	[OCI_THR_READ_BPS] = "blockIO.throttleReadBpsDevice",
	[OCI_THR_WRITE_BPS] = "blockIO.throttleWriteBpsDevice",
	[OCI_THR_READ_IOPS] = "blockIO.throttleReadIOPSDevice",
	[OCI_THR_WRITE_IOPS] = "blockIO.throttleWriteIOPSDevice",
};

static int need(const struct cgroup_paths *p, enum cgroup_ctrl c, const char *where,
		const char *field, struct hull_err *err)
{
	if (!p->dirs[c])
		return hull_err_setx(err, ENOTSUP, "%s.%s: no %s cgroup is mounted on this host",
				     where, field, cgroup_ctrl_name(c));
	return 0;
}

static int plan_memory(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
		       struct cg_plan *out, struct hull_err *err)
{
	int e;

	if (r->has_mem_limit || r->has_mem_reservation || r->has_mem_swap || r->has_swappiness ||
	    (r->has_disable_oom && r->disable_oom))
		if ((e = need(p, CG_MEMORY, where, "memory", err)) < 0)
			return e;
	if (r->has_mem_limit)
		cg_plan_add(out, CG_MEMORY, "memory.limit_in_bytes", "memory.limit", true, "%lld",
			    (long long)r->mem_limit);
	/* runc: an unlimited memory limit without a swap value means unlimited swap too. */
	if (r->has_mem_swap || (r->has_mem_limit && r->mem_limit == -1 &&
				cg_has_file(p, CG_MEMORY, "memory.memsw.limit_in_bytes"))) {
		if (!cg_has_file(p, CG_MEMORY, "memory.memsw.limit_in_bytes"))
			return hull_err_setx(err, ENOTSUP, "%s.memory.swap: swap accounting is off "
					     "on this host (no memory.memsw.limit_in_bytes)", where);
		cg_plan_add(out, CG_MEMORY, "memory.memsw.limit_in_bytes", "memory.swap", true,
			    "%lld", (long long)(r->has_mem_swap ? r->mem_swap : -1));
	}
	if (r->has_mem_reservation)
		cg_plan_add(out, CG_MEMORY, "memory.soft_limit_in_bytes", "memory.reservation",
			    true, "%lld", (long long)r->mem_reservation);
	if (r->has_swappiness)
		cg_plan_add(out, CG_MEMORY, "memory.swappiness", "memory.swappiness", true, "%llu",
			    (unsigned long long)r->swappiness);
	if (r->has_disable_oom && r->disable_oom)
		cg_plan_add(out, CG_MEMORY, "memory.oom_control", "memory.disableOOMKiller", false,
			    "1");
	return 0;
}

static int plan_cpu(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
		    struct cg_plan *out, struct hull_err *err)
{
	int e;

	if (r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period || r->has_rt_period ||
	    r->has_rt_runtime || r->has_cpu_burst || r->has_cpu_idle)
		if ((e = need(p, CG_CPU, where, "cpu", err)) < 0)
			return e;
	if (r->has_cpu_shares)
		cg_plan_add(out, CG_CPU, "cpu.shares", "cpu.shares", true, "%llu",
			    (unsigned long long)r->cpu_shares);
	if (r->has_cpu_period)
		cg_plan_add(out, CG_CPU, "cpu.cfs_period_us", "cpu.period", true, "%llu",
			    (unsigned long long)r->cpu_period);
	if (r->has_cpu_quota)
		cg_plan_add(out, CG_CPU, "cpu.cfs_quota_us", "cpu.quota", true, "%lld",
			    (long long)r->cpu_quota);
	if (r->has_cpu_burst)
		cg_plan_add(out, CG_CPU, "cpu.cfs_burst_us", "cpu.burst", true, "%llu",
			    (unsigned long long)r->cpu_burst);
	if (r->has_rt_period)
		cg_plan_add(out, CG_CPU, "cpu.rt_period_us", "cpu.realtimePeriod", true, "%llu",
			    (unsigned long long)r->rt_period);
	if (r->has_rt_runtime)
		cg_plan_add(out, CG_CPU, "cpu.rt_runtime_us", "cpu.realtimeRuntime", true, "%lld",
			    (long long)r->rt_runtime);
	if (r->has_cpu_idle)
		cg_plan_add(out, CG_CPU, "cpu.idle", "cpu.idle", true, "%lld",
			    (long long)r->cpu_idle);
	return 0;
}

static int plan_cpuset(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
		       struct cg_plan *out, struct hull_err *err)
{
	int e;

	if (!r->cpus && !r->mems)
		return 0;
	if ((e = need(p, CG_CPUSET, where, "cpu", err)) < 0)
		return e;
	/* A hierarchy's root has no parent to check against: nothing to do there. */
	if (strrchr(p->dirs[CG_CPUSET], '/') == p->dirs[CG_CPUSET])
		return 0;
	return cg_plan_cpuset(p->dirs[CG_CPUSET], CG_CPUSET, "cpuset.effective_cpus",
			      "cpuset.effective_mems", r, where, out, err);
}

static int plan_blkio(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
		      struct cg_plan *out, struct hull_err *err)
{
	bool any = r->has_blkio_weight || r->n_weight_dev;
	const char *wfile = "blkio.weight", *wdfile = "blkio.weight_device";
	int e;

	for (int t = 0; t < OCI_THR_COUNT; t++)
		any = any || r->n_throttle[t];
	if (!any)
		return 0;
	if ((e = need(p, CG_BLKIO, where, "blockIO", err)) < 0)
		return e;
	/* Without CFQ (gone since 5.0) the weight lives in BFQ's files, as runc falls back. */
	if (!cg_has_file(p, CG_BLKIO, wfile)) {
		wfile = "blkio.bfq.weight";
		wdfile = "blkio.bfq.weight_device";
	}
	if ((r->has_blkio_weight || r->n_weight_dev) && !cg_has_file(p, CG_BLKIO, wfile))
		return hull_err_setx(err, ENOTSUP, "%s.blockIO.weight: no blkio weight on this "
				     "host (neither blkio.weight nor blkio.bfq.weight)", where);
	if (r->has_blkio_weight)
		cg_plan_add(out, CG_BLKIO, wfile, "blockIO.weight", true, "%llu",
			    (unsigned long long)r->blkio_weight);
	for (size_t i = 0; i < r->n_weight_dev; i++)
		if (r->weight_dev[i].has_value)
			cg_plan_add(out, CG_BLKIO, wdfile, "blockIO.weightDevice", false,
				    "%lld:%lld %llu", (long long)r->weight_dev[i].major,
				    (long long)r->weight_dev[i].minor,
				    (unsigned long long)r->weight_dev[i].value);
	for (int t = 0; t < OCI_THR_COUNT; t++)
		for (size_t i = 0; i < r->n_throttle[t]; i++)
			cg_plan_add(out, CG_BLKIO, thr_files[t], thr_fields[t], false,
				    "%lld:%lld %llu", (long long)r->throttle[t][i].major,
				    (long long)r->throttle[t][i].minor,
				    (unsigned long long)r->throttle[t][i].value);
	return 0;
}

static int plan_devices(const struct cgroup_paths *p, const struct oci_resources *r,
			const char *where, struct cg_plan *out, struct hull_err *err)
{
	if (!r->has_devices)
		return 0;
	if (!p->dirs[CG_DEVICES]) {
		/* No devices hierarchy: nothing to confine with (runc does the same). */
		return 0;
	}
	/* Deny everything, then each rule in order: the last matching rule wins. */
	cg_plan_add(out, CG_DEVICES, "devices.deny", "devices", false, "a");
	for (size_t i = 0; i < r->n_devices; i++) {
		char rule[64];

		if (!r->devices[i].access[0])
			continue; /* matches nothing */
		(void)cgroup_dev_rule_to_v1(&r->devices[i], rule, sizeof(rule));
		cg_plan_add(out, CG_DEVICES, r->devices[i].allow ? "devices.allow" : "devices.deny",
			    "devices", false, "%s", rule);
	}
	return 0;
}

int cgv1_plan(const struct cgroup_paths *p, const struct oci_resources *r, const char *where,
	      struct cg_plan *out, struct hull_err *err)
{
	int e;

	if (r->n_unified)
		return hull_err_setx(err, ENOTSUP, "%s.unified: cgroup v2 keys cannot be set on a "
				     "cgroup v1 host", where);
	if ((e = plan_memory(p, r, where, out, err)) < 0 || (e = plan_cpu(p, r, where, out, err)) < 0 ||
	    (e = plan_cpuset(p, r, where, out, err)) < 0 ||
	    (e = plan_blkio(p, r, where, out, err)) < 0 ||
	    (e = plan_devices(p, r, where, out, err)) < 0)
		return e;
	if (r->has_pids && (e = need(p, CG_PIDS, where, "pids", err)) < 0)
		return e;
	cg_plan_pids(r, CG_PIDS, out);
	if ((e = cg_plan_hugepages(p, CG_HUGETLB, "limit_in_bytes", r, where, out, err)) < 0)
		return e;
	if (r->has_net_classid) {
		if ((e = need(p, CG_NET_CLS, where, "network.classID", err)) < 0)
			return e;
		cg_plan_add(out, CG_NET_CLS, "net_cls.classid", "network.classID", true, "%llu",
			    (unsigned long long)r->net_classid);
	}
	for (size_t i = 0; i < r->n_net_prio; i++) {
		if ((e = need(p, CG_NET_PRIO, where, "network.priorities", err)) < 0)
			return e;
		cg_plan_add(out, CG_NET_PRIO, "net_prio.ifpriomap", "network.priorities", false,
			    "%s %s", r->net_prio[i].key, r->net_prio[i].value);
	}
	return 0;
}

/* ---- stats ---- */

static json_t *u64_list(const char *dir, const char *file)
{
	cleanup_free char *buf = cg_read_alloc(dir, file);
	json_t *a = json_array();
	char *p = buf, *end;

	while (p && *p) {
		unsigned long long v = strtoull(p, &end, 10);

		if (end == p)
			break;
		json_array_append_new(a, json_integer((json_int_t)v));
		p = end;
	}
	return a;
}

static json_t *v1_cpu(const struct cgroup_paths *p)
{
	json_t *cpu = json_object(), *usage = json_object(), *thr = json_object();
	const char *acct = p->dirs[CG_CPUACCT];
	uint64_t v = 0;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	if (acct) {
		if (cg_read_u64(acct, "cpuacct.usage", &v) == 0)
			cg_json_set_u64(usage, "total", v, true);
		json_object_set_new(usage, "percpu", u64_list(acct, "cpuacct.usage_percpu"));
		v = 0;
		(void)cg_read_keyed(acct, "cpuacct.stat", "system", &v);
		cg_json_set_u64(usage, "kernel", v * (1000000000ULL / (uint64_t)hz), false);
		v = 0;
		(void)cg_read_keyed(acct, "cpuacct.stat", "user", &v);
		cg_json_set_u64(usage, "user", v * (1000000000ULL / (uint64_t)hz), false);
	}
	if (p->dirs[CG_CPU]) {
		if (cg_read_keyed(p->dirs[CG_CPU], "cpu.stat", "nr_periods", &v) == 0)
			cg_json_set_u64(thr, "periods", v, true);
		if (cg_read_keyed(p->dirs[CG_CPU], "cpu.stat", "nr_throttled", &v) == 0)
			cg_json_set_u64(thr, "throttledPeriods", v, true);
		if (cg_read_keyed(p->dirs[CG_CPU], "cpu.stat", "throttled_time", &v) == 0)
			cg_json_set_u64(thr, "throttledTime", v, true);
	}
	json_object_set_new(cpu, "usage", usage);
	json_object_set_new(cpu, "throttling", thr);
	return cpu;
}

static json_t *mem_entry(const char *dir, const char *prefix)
{
	json_t *e = json_object();
	char file[96];
	uint64_t v = 0;

	(void)snprintf(file, sizeof(file), "%slimit_in_bytes", prefix);
	if (cg_read_u64(dir, file, &v) == 0)
		cg_json_set_u64(e, "limit", v, false);
	(void)snprintf(file, sizeof(file), "%susage_in_bytes", prefix);
	if (cg_read_u64(dir, file, &v) == 0)
		cg_json_set_u64(e, "usage", v, true);
	(void)snprintf(file, sizeof(file), "%smax_usage_in_bytes", prefix);
	if (cg_read_u64(dir, file, &v) == 0)
		cg_json_set_u64(e, "max", v, true);
	v = 0;
	(void)snprintf(file, sizeof(file), "%sfailcnt", prefix);
	(void)cg_read_u64(dir, file, &v);
	cg_json_set_u64(e, "failcnt", v, false);
	return e;
}

json_t *cgv1_stats(const struct cgroup_paths *p)
{
	json_t *o = json_object(), *mem = json_object(), *pids = json_object();
	json_t *blkio = json_object();
	const char *m = p->dirs[CG_MEMORY];
	uint64_t v = 0;

	json_object_set_new(o, "cpu", v1_cpu(p));
	if (m) {
		json_t *raw = cg_read_flat_keyed(m, "memory.stat");

		cg_json_set_u64(mem, "cache", (uint64_t)json_integer_value(json_object_get(raw, "cache")),
			true);
		json_object_set_new(mem, "usage", mem_entry(m, "memory."));
		json_object_set_new(mem, "swap", mem_entry(m, "memory.memsw."));
		json_object_set_new(mem, "kernel", mem_entry(m, "memory.kmem."));
		json_object_set_new(mem, "kernelTCP", mem_entry(m, "memory.kmem.tcp."));
		json_object_set_new(mem, "raw", raw);
	}
	json_object_set_new(o, "memory", mem);
	if (p->dirs[CG_PIDS]) {
		if (cg_read_u64(p->dirs[CG_PIDS], "pids.current", &v) == 0)
			cg_json_set_u64(pids, "current", v, true);
		if (cg_read_u64(p->dirs[CG_PIDS], "pids.max", &v) == 0 && v != UINT64_MAX)
			cg_json_set_u64(pids, "limit", v, true);
	}
	json_object_set_new(o, "pids", pids);
	if (p->dirs[CG_BLKIO]) {
		cleanup_free char *buf = cg_read_alloc(p->dirs[CG_BLKIO],
						       "blkio.throttle.io_service_bytes_recursive");
		json_t *arr = json_array();

		for (char *line = buf, *next; line && *line; line = next) {
			unsigned maj, min;
			char op[16];
			unsigned long long val;

			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			if (sscanf(line, "%u:%u %15s %llu", &maj, &min, op, &val) == 4)
				json_array_append_new(arr, json_pack("{s:i,s:i,s:s,s:I}", "major", maj,
								     "minor", min, "op", op, "value",
								     (json_int_t)val));
		}
		json_object_set_new(blkio, "ioServiceBytesRecursive", arr);
	}
	json_object_set_new(o, "blkio", blkio);
	json_object_set_new(o, "hugetlb", json_object());
	return o;
}
