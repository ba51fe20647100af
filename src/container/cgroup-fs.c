/* Reading and writing cgroup files, the write plan, and host checks shared by both back ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "container/cgroup-internal.h"

int cg_read(const char *dir, const char *file, char *buf, size_t size)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = fd_read_all(fd, buf, size - 1);
	if (n < 0)
		return (int)n;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

char *cg_read_alloc(const char *dir, const char *file)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	char *buf = NULL;
	size_t len = 0;

	if (fd_read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len) < 0)
		return NULL;
	return buf;
}

int cg_write_str(const char *dir, const char *file, const char *value)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	/* O_TRUNC as runc: harmless on cgroupfs, and right for the plain files of tests. */
	cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	/* One write(2): cgroup files take one value per write. */
	n = write(fd, value, strlen(value));
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(value) ? 0 : -EIO;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *ret)
{
	char buf[64], *end;
	int r = cg_read(dir, file, buf, sizeof(buf));

	if (r < 0)
		return r;
	if (strcmp(buf, "max") == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*ret = strtoull(buf, &end, 10);
	return errno || end == buf ? -EINVAL : 0;
}

int cg_read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
	cleanup_free char *buf = cg_read_alloc(dir, file);
	size_t kl = strlen(key);

	if (!buf)
		return -ENOENT;
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1
									  : NULL) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			*ret = strtoull(line + kl + 1, NULL, 10);
			return 0;
		}
	}
	return -ENOENT;
}

void cg_plan_add(struct cg_plan *p, enum cgroup_ctrl ctrl, const char *file, const char *field,
		 bool restorable, const char *fmt, ...)
{
	struct cg_write *w;
	va_list ap;

	if (p->n == p->cap)
		p->w = xreallocarray(p->w, p->cap = p->cap ? p->cap * 2 : 16, sizeof(*p->w));
	w = &p->w[p->n++];
	memset(w, 0, sizeof(*w));
	w->ctrl = ctrl;
	w->file = xstrdup(file);
	w->field = field;
	w->restorable = restorable;
	va_start(ap, fmt);
	if (vasprintf(&w->value, fmt, ap) < 0)
		abort();
	va_end(ap);
}

void cg_plan_clear(struct cg_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->w[i].file);
		free(p->w[i].value);
	}
	free(p->w);
	memset(p, 0, sizeof(*p));
}

int cg_check_cpuset(const char *allowed, const char *field, const char *want,
		    struct hull_err *err)
{
	unsigned char have[OCI_CPU_LIST_MAX / 8] = { 0 }, need[OCI_CPU_LIST_MAX / 8] = { 0 };

	if (!spec_cpu_list_parse(want, need, OCI_CPU_LIST_MAX))
		return hull_err_setx(err, EINVAL, "%s: invalid list \"%s\"", field, want);
	if (!allowed || !spec_cpu_list_parse(allowed, have, OCI_CPU_LIST_MAX))
		return 0; /* nothing to compare with: the kernel decides */
	for (unsigned i = 0; i < OCI_CPU_LIST_MAX; i++)
		if ((need[i / 8] & (1U << (i % 8))) && !(have[i / 8] & (1U << (i % 8))))
			return hull_err_setx(err, EINVAL, "%s: \"%s\" is not within the host's "
					     "\"%s\" (%u is not available)", field, want, allowed,
					     i);
	return 0;
}

bool cg_has_file(const struct cgroup_paths *p, enum cgroup_ctrl c, const char *file)
{
	cleanup_free char *path = NULL;

	if (!p->dirs[c])
		return false;
	path = xasprintf("%s/%s", p->dirs[c], file);
	return access(path, F_OK) == 0;
}

/* One of cpuset.cpus / cpuset.mems, checked against the parent's effective set first. */
static int plan_cpuset_one(const char *parent, enum cgroup_ctrl ctrl, const char *eff_file,
			   const char *file, const char *field, const char *want,
			   const char *where, struct cg_plan *out, struct hull_err *err)
{
	cleanup_free char *qualified = xasprintf("%s.%s", where, field);
	char allowed[4096];
	int e;

	if ((e = cg_check_cpuset(cg_read(parent, eff_file, allowed, sizeof(allowed)) == 0 ? allowed
											   : NULL,
				 qualified, want, err)) < 0)
		return e;
	cg_plan_add(out, ctrl, file, field, true, "%s", want);
	return 0;
}

int cg_plan_cpuset(const char *dir, enum cgroup_ctrl ctrl, const char *eff_cpus,
		   const char *eff_mems, const struct oci_resources *r, const char *where,
		   struct cg_plan *out, struct hull_err *err)
{
	cleanup_free char *parent = xstrdup(dir);
	int e;

	*strrchr(parent, '/') = '\0';
	/* The parent's effective sets: what the kernel lets a child use. */
	if (r->cpus && (e = plan_cpuset_one(parent, ctrl, eff_cpus, "cpuset.cpus", "cpu.cpus",
					    r->cpus, where, out, err)) < 0)
		return e;
	if (r->mems && (e = plan_cpuset_one(parent, ctrl, eff_mems, "cpuset.mems", "cpu.mems",
					    r->mems, where, out, err)) < 0)
		return e;
	return 0;
}

void cg_plan_pids(const struct oci_resources *r, enum cgroup_ctrl ctrl, struct cg_plan *out)
{
	if (!r->has_pids)
		return;
	if (r->pids_limit < 0)
		cg_plan_add(out, ctrl, "pids.max", "pids.limit", true, "max");
	else
		cg_plan_add(out, ctrl, "pids.max", "pids.limit", true, "%lld",
			    (long long)r->pids_limit);
}

int cg_plan_hugepages(const struct cgroup_paths *p, enum cgroup_ctrl ctrl, const char *suffix,
		      const struct oci_resources *r, const char *where, struct cg_plan *out,
		      struct hull_err *err)
{
	for (size_t i = 0; i < r->n_hugepages; i++) {
		cleanup_free char *file = xasprintf("hugetlb.%s.%s", r->hugepages[i].page_size,
						    suffix);

		if (!p->dirs[ctrl])
			return hull_err_setx(err, ENOTSUP, "%s.hugepageLimits: no %s cgroup is "
					     "mounted on this host", where, cgroup_ctrl_name(ctrl));
		if (!cg_has_file(p, ctrl, file))
			return hull_err_setx(err, EINVAL, "%s.hugepageLimits[%zu].pageSize: page "
					     "size \"%s\" is not supported by this host", where, i,
					     r->hugepages[i].page_size);
		cg_plan_add(out, ctrl, file, "hugepageLimits", true, "%llu",
			    (unsigned long long)r->hugepages[i].limit);
	}
	return 0;
}

void cg_json_set_u64(json_t *o, const char *key, uint64_t v, bool omitempty)
{
	if (!omitempty || v)
		json_object_set_new(o, key, json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
}

char *cg_next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl)
		*nl++ = '\0';
	*cursor = nl;
	return line;
}

json_t *cg_read_flat_keyed(const char *dir, const char *file)
{
	cleanup_free char *buf = cg_read_alloc(dir, file);
	json_t *raw = json_object();
	char *cursor = buf, *line;

	while ((line = cg_next_line(&cursor))) {
		char *sp = strchr(line, ' '), *end;
		unsigned long long v;

		if (!sp)
			continue;
		*sp = '\0';
		v = strtoull(sp + 1, &end, 10);
		if (end != sp + 1 && *end == '\0')
			json_object_set_new(raw, line, json_integer((json_int_t)v));
	}
	return raw;
}

bool cg_block_device_exists(int64_t major, int64_t minor)
{
	char path[64];
	struct stat st;

	(void)snprintf(path, sizeof(path), "/sys/dev/block/%lld:%lld", (long long)major,
		       (long long)minor);
	return stat(path, &st) == 0;
}

int cg_check_blkio_devices(const struct oci_resources *r, const char *where,
			   struct hull_err *err)
{
	static const char *const keys[OCI_THR_COUNT] = {
		[OCI_THR_READ_BPS] = "throttleReadBpsDevice",
		[OCI_THR_WRITE_BPS] = "throttleWriteBpsDevice",
		[OCI_THR_READ_IOPS] = "throttleReadIOPSDevice",
		[OCI_THR_WRITE_IOPS] = "throttleWriteIOPSDevice",
	};

	for (int t = -1; t < OCI_THR_COUNT; t++) {
		const struct oci_blkio_dev *d = t < 0 ? r->weight_dev : r->throttle[t];
		size_t n = t < 0 ? r->n_weight_dev : r->n_throttle[t];

		for (size_t i = 0; i < n; i++)
			if (!cg_block_device_exists(d[i].major, d[i].minor))
				return hull_err_setx(err, ENODEV, "%s.blockIO.%s[%zu]: no block "
						     "device %lld:%lld on this host", where,
						     t < 0 ? "weightDevice" : keys[t], i,
						     (long long)d[i].major, (long long)d[i].minor);
	}
	return 0;
}
