/*
 * The cgroup layer's front: host detection, path resolution, create/enter, update with
 * rollback, destroy, freeze, procs and kill. The per-version mapping of linux.resources is in
 * cgroup-v1.c and cgroup-v2.c.
 */
#include "container/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/log.h"
#include "common/path.h"
#include "container/cgroup-internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_ROOT "/sys/fs/cgroup"
#define CG_MAX_DEPTH 32

static const char *const ctrl_names[CG_COUNT] = {
	[CG_CPU] = "cpu",          [CG_CPUACCT] = "cpuacct",     [CG_CPUSET] = "cpuset",
	[CG_MEMORY] = "memory",    [CG_PIDS] = "pids",           [CG_BLKIO] = "blkio",
	[CG_DEVICES] = "devices",  [CG_FREEZER] = "freezer",     [CG_HUGETLB] = "hugetlb",
	[CG_NET_CLS] = "net_cls",  [CG_NET_PRIO] = "net_prio",   [CG_PERF_EVENT] = "perf_event",
	[CG_RDMA] = "rdma",        [CG_MISC] = "misc",           [CG_SYSTEMD] = "name=systemd",
	[CG_UNIFIED] = "unified",
};

const char *cgroup_ctrl_name(enum cgroup_ctrl c)
{
	return c < CG_COUNT ? ctrl_names[c] : "?";
}

static int ctrl_from_name(const char *name, size_t len)
{
	for (int i = 0; i < CG_UNIFIED; i++)
		if (strlen(ctrl_names[i]) == len && strncmp(ctrl_names[i], name, len) == 0)
			return i;
	return -1;
}

bool cgroup_host_is_v2(void)
{
	struct statfs sf;

	return statfs(CG_ROOT, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

void cgroup_paths_clear(struct cgroup_paths *p)
{
	for (int i = 0; i < CG_COUNT; i++)
		free(p->dirs[i]);
	memset(p, 0, sizeof(*p));
}

/* For each hierarchy, call fn with the controllers named in a comma list. */
static void for_each_name(const char *list, size_t len, void (*fn)(int c, void *arg), void *arg)
{
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		int c = ctrl_from_name(p, n);

		if (c >= 0)
			fn(c, arg);
		p += n + 1;
	}
}

struct mnt_arg {
	char **mnt;
	const char *point;
};

static void set_mnt(int c, void *arg)
{
	struct mnt_arg *a = arg;

	if (!a->mnt[c])
		a->mnt[c] = xstrdup(a->point);
}

/* v1: the mountpoint of each hierarchy (and of the hybrid cgroup2), from mountinfo. */
static int v1_mountpoints(char *mnt[CG_COUNT], struct hull_err *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	if (!f)
		return hull_err_set(err, errno, "open /proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0) {
		char *fields[12] = { 0 }, *save = NULL, *tok;
		int n = 0, sep = -1;

		for (tok = strtok_r(line, " \n", &save); tok && n < 12;
		     tok = strtok_r(NULL, " \n", &save)) {
			if (sep < 0 && strcmp(tok, "-") == 0)
				sep = n;
			fields[n++] = tok;
		}
		if (sep < 5 || n < sep + 4)
			continue;
		if (strcmp(fields[sep + 1], "cgroup2") == 0) {
			if (!mnt[CG_UNIFIED])
				mnt[CG_UNIFIED] = xstrdup(fields[4]);
		} else if (strcmp(fields[sep + 1], "cgroup") == 0) {
			struct mnt_arg a = { mnt, fields[4] };

			for_each_name(fields[sep + 3], strlen(fields[sep + 3]), set_mnt, &a);
		}
	}
	return 0;
}

static void set_own(int c, void *arg)
{
	struct mnt_arg *a = arg;

	if (!a->mnt[c])
		a->mnt[c] = xstrdup(a->point);
}

/* The caller's own cgroup in each hierarchy, from /proc/self/cgroup. */
static void own_cgroups(char *own[CG_COUNT])
{
	cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		struct mnt_arg a = { own, NULL };

		if (!c2)
			continue;
		c2[strcspn(c2, "\n")] = '\0';
		a.point = c2 + 1;
		if (c2 == c1 + 1)
			set_own(CG_UNIFIED, &a);
		else
			for_each_name(c1 + 1, (size_t)(c2 - c1 - 1), set_own, &a);
	}
}

int cgroup_paths_resolve(const char *cgroups_path, const char *id, struct cgroup_paths *ret,
			 struct hull_err *err)
{
	char *mnt[CG_COUNT] = { 0 }, *own[CG_COUNT] = { 0 };
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (cgroups_path && (strlen(cgroups_path) > 4096 || strchr(cgroups_path, '\n')))
		return hull_err_setx(err, EINVAL, "config.json: linux.cgroupsPath: invalid path");
	ret->v2 = cgroup_host_is_v2();
	if (ret->v2)
		mnt[CG_UNIFIED] = xstrdup(CG_ROOT);
	else if ((r = v1_mountpoints(mnt, err)) < 0)
		return r;
	if (!cgroups_path || !path_is_absolute(cgroups_path))
		own_cgroups(own);
	for (int c = 0; c < CG_COUNT; c++) {
		cleanup_free char *inner = NULL, *norm = NULL;

		if (!mnt[c])
			continue;
		if (!cgroups_path)
			inner = xasprintf("%s/%s", own[c] ? own[c] : "/", id);
		else if (path_is_absolute(cgroups_path))
			inner = xstrdup(cgroups_path);
		else
			inner = xasprintf("%s/%s", own[c] ? own[c] : "/", cgroups_path);
		norm = path_normalize(inner);
		if (strcmp(norm, "/") == 0) {
			r = hull_err_setx(err, EINVAL, "config.json: linux.cgroupsPath: \"%s\" is the "
					  "root cgroup", cgroups_path ? cgroups_path : "");
			break;
		}
		ret->dirs[c] = path_join(mnt[c], norm);
	}
	for (int c = 0; c < CG_COUNT; c++) {
		free(mnt[c]);
		free(own[c]);
	}
	if (r < 0)
		cgroup_paths_clear(ret);
	return r;
}

json_t *cgroup_paths_to_json(const struct cgroup_paths *p)
{
	json_t *paths = json_object();

	for (int c = 0; c < CG_COUNT; c++)
		if (p->dirs[c])
			json_object_set_new(paths, ctrl_names[c], json_string(p->dirs[c]));
	return json_pack("{s:b,s:o}", "v2", p->v2, "paths", paths);
}

int cgroup_paths_from_json(json_t *o, struct cgroup_paths *ret, struct hull_err *err)
{
	json_t *paths = json_object_get(o, "paths"), *v;
	const char *k;

	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(paths))
		return hull_err_setx(err, EINVAL, "state.json: hull.cgroup: damaged");
	ret->v2 = json_is_true(json_object_get(o, "v2"));
	json_object_foreach(paths, k, v) {
		int c = strcmp(k, "unified") == 0 ? CG_UNIFIED : ctrl_from_name(k, strlen(k));

		if (c < 0 || !json_is_string(v) || !path_is_absolute(json_string_value(v))) {
			cgroup_paths_clear(ret);
			return hull_err_setx(err, EINVAL, "state.json: hull.cgroup.paths.%s: damaged",
					     k);
		}
		free(ret->dirs[c]);
		ret->dirs[c] = xstrdup(json_string_value(v));
	}
	return 0;
}

/* True if c's directory is the same as an earlier controller's (co-mounted hierarchies). */
static bool dir_seen(const struct cgroup_paths *p, int c)
{
	for (int i = 0; i < c; i++)
		if (p->dirs[i] && strcmp(p->dirs[i], p->dirs[c]) == 0)
			return true;
	return false;
}

/* cgroup v2: let children of dir use every controller dir has (cgroup.subtree_control). */
static void v2_enable_controllers(const char *dir)
{
	char ctrls[512], *save = NULL;

	if (cg_read(dir, "cgroup.controllers", ctrls, sizeof(ctrls)) < 0)
		return;
	for (char *c = strtok_r(ctrls, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
		char buf[64];
		int r;

		(void)snprintf(buf, sizeof(buf), "+%s", c);
		if ((r = cg_write_str(dir, "cgroup.subtree_control", buf)) < 0)
			log_debug("cgroup: enable %s in %s: %s", c, dir, strerror(-r));
	}
}

/* cgroup v1 cpuset: a new cgroup starts with empty cpus/mems; give it its parent's. */
static void v1_cpuset_init(const char *dir)
{
	cleanup_free char *parent = xstrdup(dir);
	char buf[4096];

	*strrchr(parent, '/') = '\0';
	for (int i = 0; i < 2; i++) {
		const char *f = i ? "cpuset.mems" : "cpuset.cpus";

		if (cg_read(dir, f, buf, sizeof(buf)) == 0 && !*buf &&
		    cg_read(parent, f, buf, sizeof(buf)) == 0)
			(void)cg_write_str(dir, f, buf);
	}
}

/* mkdir -p dir, preparing each level (controllers on v2, cpuset on v1). */
static int mkdir_cgroup(const char *dir, bool v2, bool cpuset, bool *ret_created,
			struct hull_err *err)
{
	cleanup_free char *path = xstrdup(dir);
	int depth = 0;

	*ret_created = false;
	for (char *s = strchr(path + 1, '/');; s = strchr(s + 1, '/')) {
		struct stat st;
		char *parent_end = s;

		if (s)
			*s = '\0';
		if (stat(path, &st) < 0) {
			if (++depth > CG_MAX_DEPTH)
				return hull_err_setx(err, EINVAL, "cgroup %s: too deep", dir);
			if (v2) {
				cleanup_free char *parent = xstrdup(path);

				*strrchr(parent, '/') = '\0';
				v2_enable_controllers(parent);
			}
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				return hull_err_set(err, errno, "create cgroup %s", path);
			if (!s)
				*ret_created = true;
			if (cpuset)
				v1_cpuset_init(path);
		}
		if (!s)
			break;
		*parent_end = '/';
	}
	if (v2) {
		/* The leaf's own controllers come from its parent's subtree_control. */
		cleanup_free char *parent = xstrdup(dir);

		*strrchr(parent, '/') = '\0';
		v2_enable_controllers(parent);
	}
	return 0;
}

/* Write the plan; on failure restore what was written (when restore) and name the field. */
static int plan_apply(const struct cgroup_paths *p, const struct cg_plan *plan,
		      const char *where, bool restore, struct hull_err *err)
{
	cleanup_free char **old = xcalloc(plan->n + 1, sizeof(char *));
	cleanup_free bool *done = xcalloc(plan->n + 1, sizeof(bool));
	int r = 0;
	size_t fail = 0;

	for (size_t i = 0; i < plan->n; i++) {
		const struct cg_write *w = &plan->w[i];

		if (restore && w->restorable && p->dirs[w->ctrl])
			old[i] = cg_read_alloc(p->dirs[w->ctrl], w->file);
	}
	/* Two passes: some pairs must go in a given order (memory limit before memsw when
	 * raising, after when lowering; cfs period and quota), so a refused value is tried
	 * again once the others are in. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < plan->n; i++) {
			const struct cg_write *w = &plan->w[i];

			if (done[i])
				continue;
			r = p->dirs[w->ctrl] ? cg_write_str(p->dirs[w->ctrl], w->file, w->value)
					     : -ENOENT;
			if (r == 0) {
				done[i] = true;
			} else {
				fail = i;
				if (pass == 1 || (r != -EINVAL && r != -EBUSY))
					goto failed;
			}
		}
	}
	r = 0;
	goto out;
failed:
	r = hull_err_set(err, -r, "%s.%s: write \"%s\" to %s/%s", where, plan->w[fail].field,
			 plan->w[fail].value, p->dirs[plan->w[fail].ctrl] ?
			 p->dirs[plan->w[fail].ctrl] : "(none)", plan->w[fail].file);
	for (size_t i = plan->n; restore && i-- > 0;) {
		if (done[i] && old[i]) {
			old[i][strcspn(old[i], "\n")] = '\0';
			if (cg_write_str(p->dirs[plan->w[i].ctrl], plan->w[i].file, old[i]) < 0)
				log_debug("cgroup: could not restore %s", plan->w[i].file);
		}
	}
out:
	for (size_t i = 0; i < plan->n; i++)
		free(old[i]);
	return r;
}

static int apply_devices_v2(const struct cgroup_paths *p, const struct oci_resources *res,
			    struct hull_err *err)
{
	cleanup_close int fd = -1;

	if (!res->has_devices)
		return 0;
	fd = open(p->dirs[CG_UNIFIED], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return hull_err_set(err, errno, "open cgroup %s", p->dirs[CG_UNIFIED]);
	return cgroup_devices_bpf_apply(fd, res->devices, res->n_devices, err);
}

static int plan_build(const struct cgroup_paths *p, const struct oci_resources *res, const char *where,
		      struct cg_plan *plan, struct hull_err *err)
{
	int r;

	if ((r = cg_check_blkio_devices(res, where, err)) < 0)
		return r;
	return p->v2 ? cgv2_plan(p, res, where, plan, err) : cgv1_plan(p, res, where, plan, err);
}

/*
 * Devices every container may use, after runc's devices.AllowedDevices; path: the node the
 * default is for ("" for rules without one), dropped when linux.devices has a node there
 * (the spec's device takes priority, as in runc's specconv).
 */
static const struct {
	const char *path;
	struct oci_dev_rule rule;
} default_devices[] = {
	{ "", { true, 'c', -1, -1, "m" } },
	{ "", { true, 'b', -1, -1, "m" } },
	{ "/dev/null", { true, 'c', 1, 3, "rwm" } },
	{ "/dev/random", { true, 'c', 1, 8, "rwm" } },
	{ "/dev/full", { true, 'c', 1, 7, "rwm" } },
	{ "/dev/tty", { true, 'c', 5, 0, "rwm" } },
	{ "/dev/zero", { true, 'c', 1, 5, "rwm" } },
	{ "/dev/urandom", { true, 'c', 1, 9, "rwm" } },
	{ "/dev/console", { true, 'c', 5, 1, "rwm" } },
	{ "", { true, 'c', 136, -1, "rwm" } }, /* /dev/pts/N */
	{ "", { true, 'c', 5, 2, "rwm" } },    /* /dev/ptmx */
	{ "/dev/net/tun", { true, 'c', 10, 200, "rwm" } },
};

static bool spec_has_device_at(const struct oci_spec *s, const char *path)
{
	for (size_t i = 0; *path && i < s->n_devices; i++)
		if (strcmp(s->devices[i].path, path) == 0)
			return true;
	return false;
}

/*
 * The device rules of a new container, as runc orders them: linux.resources.devices, then
 * the default allowed devices (less those a linux.devices node replaces); the base state is
 * deny-all. A linux.devices node gets no rule of its own: its access is what
 * linux.resources.devices allows (runc's; docker's `--device /dev/x:/dev/x:r` writes an "r"
 * rule, and the node stays unwritable). A heap array (free()).
 */
static struct oci_dev_rule *device_rules(const struct oci_spec *s, size_t *ret_n)
{
	const struct oci_resources *res = &s->resources;
	struct oci_dev_rule *v = xcalloc(res->n_devices + ARRAY_SIZE(default_devices) + 1,
					 sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < res->n_devices; i++)
		v[n++] = res->devices[i];
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++)
		if (!spec_has_device_at(s, default_devices[i].path))
			v[n++] = default_devices[i].rule;
	*ret_n = n;
	return v;
}

int cgroup_create(const struct cgroup_paths *p, const struct oci_spec *s, struct hull_err *err)
{
	static const char where[] = "config.json: linux.resources";
	/* A shallow copy of the model's resources with the full device rule list: only the
	 * rules array is ours. */
	struct oci_resources res = s->resources;
	cleanup_free struct oci_dev_rule *rules = device_rules(s, &res.n_devices);
	struct cg_plan plan = { 0 };
	int r;

	res.devices = rules;
	res.has_devices = true;
	for (int c = 0; c < CG_COUNT; c++) {
		bool created;

		if (!p->dirs[c] || dir_seen(p, c))
			continue;
		r = mkdir_cgroup(p->dirs[c], p->v2, c == CG_CPUSET, &created, err);
		if (r < 0)
			goto err_destroy;
		if (!created)
			log_debug("cgroup %s exists already: joining it", p->dirs[c]);
	}
	if ((r = plan_build(p, &res, where, &plan, err)) < 0 ||
	    (r = plan_apply(p, &plan, where, false, err)) < 0 ||
	    (p->v2 && (r = apply_devices_v2(p, &res, err)) < 0))
		goto err_destroy;
	cg_plan_clear(&plan);
	return 0;

err_destroy:
	cg_plan_clear(&plan);
	(void)cgroup_destroy(p, NULL);
	return r;
}

int cgroup_enter(const struct cgroup_paths *p, pid_t pid, bool skip_unified,
		 struct hull_err *err)
{
	char buf[32];
	int r;

	(void)snprintf(buf, sizeof(buf), "%d", pid);
	for (int c = 0; c < CG_COUNT; c++) {
		if (!p->dirs[c] || dir_seen(p, c) || (skip_unified && c == CG_UNIFIED))
			continue;
		if ((r = cg_write_str(p->dirs[c], "cgroup.procs", buf)) < 0)
			return hull_err_set(err, -r, "move pid %d into cgroup %s", pid, p->dirs[c]);
	}
	return 0;
}

int cgroup_open_unified(const struct cgroup_paths *p)
{
	if (!p->v2 || !p->dirs[CG_UNIFIED])
		return -1;
	return open(p->dirs[CG_UNIFIED], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int cgroup_create_enter(const struct cgroup_paths *p, const struct oci_spec *s, pid_t pid,
			struct hull_err *err)
{
	int r;

	if ((r = cgroup_create(p, s, err)) < 0)
		return r;
	if ((r = cgroup_enter(p, pid, false, err)) < 0)
		(void)cgroup_destroy(p, NULL);
	return r;
}

int cgroup_update(const struct cgroup_paths *p, const struct oci_resources *resources,
		  const char *where, struct hull_err *err)
{
	/* The device rules stay as create made them (runc's update leaves them too). */
	struct oci_resources res = *resources;
	struct cg_plan plan = { 0 };
	int r;

	res.has_devices = false;
	res.n_devices = 0;
	r = plan_build(p, &res, where, &plan, err);
	if (r == 0)
		r = plan_apply(p, &plan, where, true, err);
	cg_plan_clear(&plan);
	return r;
}

/* Append the pids of dir (and its child cgroups) to *pids. */
static void read_procs(const char *dir, int depth, pid_t **pids, size_t *n)
{
	cleanup_free char *buf = cg_read_alloc(dir, "cgroup.procs");
	DIR *d;
	struct dirent *de;

	for (char *q = buf, *end; q && *q; q = end) {
		long v = strtol(q, &end, 10);

		if (end == q)
			break;
		if (v > 0) {
			if (*n % 32 == 0)
				*pids = xreallocarray(*pids, *n + 32, sizeof(pid_t));
			(*pids)[(*n)++] = (pid_t)v;
		}
	}
	if (depth >= CG_MAX_DEPTH || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		cleanup_free char *sub = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		read_procs(sub, depth + 1, pids, n);
	}
	(void)closedir(d);
}

/* The directory whose cgroup.procs lists the container: freezer/pids/memory or any. */
static const char *procs_dir(const struct cgroup_paths *p)
{
	static const enum cgroup_ctrl pref[] = { CG_UNIFIED, CG_FREEZER, CG_PIDS, CG_MEMORY };

	if (p->v2)
		return p->dirs[CG_UNIFIED];
	for (size_t i = 1; i < ARRAY_SIZE(pref); i++)
		if (p->dirs[pref[i]])
			return p->dirs[pref[i]];
	for (int c = 0; c < CG_COUNT; c++)
		if (p->dirs[c])
			return p->dirs[c];
	return NULL;
}

int cgroup_procs(const struct cgroup_paths *p, pid_t **ret, size_t *ret_n, struct hull_err *err)
{
	const char *dir = procs_dir(p);
	struct stat st;

	*ret = NULL;
	*ret_n = 0;
	if (!dir)
		return hull_err_setx(err, ENOENT, "no cgroup recorded for the container");
	if (stat(dir, &st) < 0)
		return 0;
	read_procs(dir, 0, ret, ret_n);
	return 0;
}

static bool freezer_of(const struct cgroup_paths *p, const char **dir, const char **file)
{
	*dir = p->v2 ? p->dirs[CG_UNIFIED] : p->dirs[CG_FREEZER];
	*file = p->v2 ? "cgroup.freeze" : "freezer.state";
	return *dir != NULL;
}

int cgroup_freeze(const struct cgroup_paths *p, bool freeze, struct hull_err *err)
{
	const char *dir, *file, *want;
	char buf[64];
	int r;

	if (!freezer_of(p, &dir, &file))
		return hull_err_setx(err, ENOTSUP, "no freezer cgroup on this host");
	want = p->v2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED");
	/* Tasks may be entering the cgroup while it freezes: write again until the kernel
	 * reports the state (runc's freezer loop). */
	for (int i = 0; i < 2000; i++) {
		if ((r = cg_write_str(dir, file, want)) < 0)
			return hull_err_set(err, -r, "%s %s/%s", freeze ? "freeze" : "thaw", dir,
					    file);
		if (p->v2) {
			uint64_t frozen = 0;

			if (cg_read_keyed(dir, "cgroup.events", "frozen", &frozen) == 0 &&
			    frozen == (freeze ? 1 : 0))
				return 0;
		} else if (cg_read(dir, file, buf, sizeof(buf)) == 0 && strcmp(buf, want) == 0) {
			return 0;
		}
		(void)usleep(i < 100 ? 100 : 1000);
	}
	return hull_err_setx(err, ETIMEDOUT, "%s %s: the kernel did not report the new state",
			     freeze ? "freeze" : "thaw", dir);
}

bool cgroup_is_frozen(const struct cgroup_paths *p)
{
	const char *dir, *file;
	char buf[64];

	if (!freezer_of(p, &dir, &file) || cg_read(dir, file, buf, sizeof(buf)) < 0)
		return false;
	return p->v2 ? strcmp(buf, "1") == 0 : strcmp(buf, "FROZEN") == 0;
}

int cgroup_kill_all(const struct cgroup_paths *p, int sig, struct hull_err *err)
{
	cleanup_free pid_t *pids = NULL;
	const char *fdir, *ffile;
	bool frozen, can_freeze = freezer_of(p, &fdir, &ffile);
	size_t n = 0;
	int r;

	if (p->v2 && sig == SIGKILL && cg_write_str(p->dirs[CG_UNIFIED], "cgroup.kill", "1") == 0)
		return 0;
	frozen = can_freeze && cgroup_is_frozen(p);
	/* Freeze first so that no process forks a child we would miss. */
	if (can_freeze && !frozen && cgroup_freeze(p, true, NULL) < 0)
		can_freeze = false;
	if ((r = cgroup_procs(p, &pids, &n, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			log_debug("kill %d: %s", pids[i], strerror(errno));
	if (can_freeze && (!frozen || sig == SIGKILL))
		(void)cgroup_freeze(p, false, NULL);
	return 0;
}

/* rmdir dir and its child cgroups, leaves first. */
static int rmdir_tree(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;

	if (depth < CG_MAX_DEPTH && (d = opendir(dir))) {
		while ((de = readdir(d))) {
			cleanup_free char *sub = NULL;

			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			sub = xasprintf("%s/%s", dir, de->d_name);
			(void)rmdir_tree(sub, depth + 1);
		}
		(void)closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int cgroup_destroy(const struct cgroup_paths *p, struct hull_err *err)
{
	int r = 0;
	bool killed = false;

	for (int tries = 0; tries < 500; tries++) {
		r = 0;
		for (int c = 0; c < CG_COUNT; c++) {
			int e;

			if (!p->dirs[c] || dir_seen(p, c))
				continue;
			if ((e = rmdir_tree(p->dirs[c], 0)) < 0) {
				r = e;
				if (r == -EBUSY && !killed) {
					/* Processes left behind (a child that outlived the
					 * init without a pid namespace): kill them. */
					(void)cgroup_kill_all(p, SIGKILL, NULL);
					killed = true;
				}
			}
		}
		if (r != -EBUSY)
			break;
		(void)usleep(10000);
	}
	if (r < 0)
		return hull_err_set(err, -r, "remove cgroup %s", procs_dir(p));
	return 0;
}

int cgroup_stats(const struct cgroup_paths *p, json_t **ret, struct hull_err *err)
{
	const char *dir = procs_dir(p);
	struct stat st;

	if (!dir || stat(dir, &st) < 0)
		return hull_err_setx(err, ENOENT, "cgroup of the container is gone");
	*ret = p->v2 ? cgv2_stats(p) : cgv1_stats(p);
	return 0;
}

int cgroup_oom_kills(const struct cgroup_paths *p, uint64_t *ret)
{
	*ret = 0;
	if (p->v2)
		return p->dirs[CG_UNIFIED] ?
			       cg_read_keyed(p->dirs[CG_UNIFIED], "memory.events", "oom_kill", ret) :
			       -ENOENT;
	if (!p->dirs[CG_MEMORY])
		return -ENOENT;
	return cg_read_keyed(p->dirs[CG_MEMORY], "memory.oom_control", "oom_kill", ret);
}
