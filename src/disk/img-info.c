/* `hull img` helpers, info and map: what qemu-img info/map report, built as JSON. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "common/size.h"
#include "disk/img.h"
#include "disk/qcow2.h"

/* one `hull img` command per process: the CLI sets it from -U before running it */
static bool force_share;

void img_set_force_share(bool on)
{
	force_share = on;
}

unsigned img_ro_flags(void)
{
	return DISK_OPEN_RDONLY | (force_share ? DISK_OPEN_FORCE_SHARE : 0);
}

int img_parse_size(const char *s, uint64_t *ret)
{
	int64_t v;
	int r = size_parse(s, SIZE_QEMU, &v); /* qemu-img's grammar, as `hull img` mirrors it */

	if (r == 0)
		*ret = (uint64_t)v;
	return r;
}

int img_parse_create_opts(const char *list, struct disk_create_opts *o, char **ret_buf,
			  struct hull_err *err)
{
	char *buf = xstrdup(list), *save = NULL;

	*ret_buf = buf;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *val = strchr(kv, '=');
		uint64_t n;

		if (!val)
			return hull_err_setx(err, EINVAL, "-o: '%s' is not KEY=VALUE", kv);
		*val++ = '\0';
		if (strcmp(kv, "cluster_size") == 0) {
			if (img_parse_size(val, &n) < 0 || n < 512 || n > (2u << 20) || (n & (n - 1)))
				return hull_err_setx(err, EINVAL, "-o cluster_size: '%s' must be a "
						     "power of two from 512 to 2M", val);
			o->cluster_bits = (unsigned)__builtin_ctzll(n);
		} else if (strcmp(kv, "compat") == 0) {
			if (strcmp(val, "0.10") == 0 || strcmp(val, "v2") == 0)
				o->compat_v2 = true;
			else if (strcmp(val, "1.1") == 0 || strcmp(val, "v3") == 0)
				o->compat_v2 = false;
			else
				return hull_err_setx(err, EINVAL, "-o compat: '%s' is not 0.10 or 1.1",
						     val);
		} else if (strcmp(kv, "refcount_bits") == 0) {
			if (img_parse_size(val, &n) < 0 || n == 0 || n > 64 || (n & (n - 1)))
				return hull_err_setx(err, EINVAL, "-o refcount_bits: '%s' must be a "
						     "power of two up to 64", val);
			o->refcount_bits = (unsigned)n;
		} else if (strcmp(kv, "lazy_refcounts") == 0) {
			o->lazy_refcounts = strcmp(val, "on") == 0;
		} else if (strcmp(kv, "backing_file") == 0) {
			o->backing_file = val;
		} else if (strcmp(kv, "backing_fmt") == 0) {
			if (disk_format_parse(val, &o->backing_format) < 0)
				return hull_err_setx(err, EINVAL, "-o backing_fmt: unknown format '%s'",
						     val);
		} else if (strcmp(kv, "size") == 0) {
			if (img_parse_size(val, &o->size) < 0)
				return hull_err_setx(err, EINVAL, "-o size: invalid size '%s'", val);
		} else if (strcmp(kv, "compression_type") == 0 || strcmp(kv, "preallocation") == 0 ||
			   strcmp(kv, "extended_l2") == 0) {
			if (strcmp(val, "zlib") && strcmp(val, "off"))
				return hull_err_setx(err, ENOTSUP, "-o %s=%s is not supported", kv,
						     val);
		} else {
			return hull_err_setx(err, EINVAL, "-o: unknown option '%s'", kv);
		}
	}
	return 0;
}

static char *full_backing_name(const char *image, const char *name)
{
	cleanup_free char *copy = xstrdup(image);
	const char *dir;

	if (path_is_absolute(name))
		return xstrdup(name);
	dir = dirname(copy);
	if (strcmp(dir, ".") == 0)
		return xstrdup(name);
	return path_join(dir, name);
}

static json_t *qcow2_info(struct qcow2 *q)
{
	json_t *spec = json_object(), *data = json_object();

	/* what qemu-img 7.2 shows: version 2 has no lazy refcounts, corrupt bit or extended L2
	 * entries, so those fields are left out for compat=0.10 */
	json_object_set_new(data, "compat", json_string(q->version == 2 ? "0.10" : "1.1"));
	json_object_set_new(data, "compression-type",
			    json_string(q->compression_type ? "zstd" : "zlib"));
	if (q->version >= 3)
		json_object_set_new(data, "lazy-refcounts",
				    json_boolean(q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS));
	json_object_set_new(data, "refcount-bits", json_integer(q->refcount_bits));
	if (q->version >= 3) {
		json_object_set_new(data, "corrupt",
				    json_boolean(q->incompat & QCOW2_INCOMPAT_CORRUPT));
		json_object_set_new(data, "extended-l2", json_false());
	}
	json_object_set_new(spec, "type", json_string("qcow2"));
	json_object_set_new(spec, "data", data);
	return spec;
}

static json_t *snapshots_info(struct qcow2 *q)
{
	json_t *arr = json_array();

	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		const struct qcow2_snapshot *s = &q->snapshots[i];
		json_t *o = json_object();

		json_object_set_new(o, "vm-clock-nsec",
				    json_integer((json_int_t)(s->vm_clock_nsec % 1000000000)));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "date-sec", json_integer(s->date_sec));
		json_object_set_new(o, "date-nsec", json_integer(s->date_nsec));
		json_object_set_new(o, "vm-clock-sec",
				    json_integer((json_int_t)(s->vm_clock_nsec / 1000000000)));
		json_object_set_new(o, "id", json_string(s->id));
		json_object_set_new(o, "vm-state-size", json_integer((json_int_t)s->vm_state_size));
		json_array_append_new(arr, o);
	}
	return arr;
}

int img_info(const char *path, enum disk_format fmt, json_t **ret, struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	json_t *o;
	struct stat st;
	int r;

	r = disk_open(path, fmt, img_ro_flags() | DISK_OPEN_NO_BACKING | DISK_OPEN_NO_REPAIR,
		      &d, err);
	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return hull_err_set(err, errno, "stat %s", path);
	o = json_object();
	json_object_set_new(o, "virtual-size", json_integer((json_int_t)disk_size(d)));
	json_object_set_new(o, "filename", json_string(path));
	json_object_set_new(o, "format", json_string(disk_format_name(disk_get_format(d))));
	json_object_set_new(o, "actual-size", json_integer((json_int_t)st.st_blocks * 512));
	if (disk_get_format(d) == DISK_FORMAT_QCOW2) {
		struct qcow2 *q = to_qcow2(d);

		if (q->nb_snapshots)
			json_object_set_new(o, "snapshots", snapshots_info(q));
		json_object_set_new(o, "cluster-size", json_integer((json_int_t)q->cluster_size));
		json_object_set_new(o, "format-specific", qcow2_info(q));
		if (q->backing_name) {
			cleanup_free char *full = full_backing_name(path, q->backing_name);

			json_object_set_new(o, "backing-filename", json_string(q->backing_name));
			json_object_set_new(o, "full-backing-filename", json_string(full));
			if (q->backing_format)
				json_object_set_new(o, "backing-filename-format",
						    json_string(q->backing_format));
		}
		json_object_set_new(o, "dirty-flag",
				    json_boolean(q->incompat & QCOW2_INCOMPAT_DIRTY));
	} else {
		json_object_set_new(o, "dirty-flag", json_false());
	}
	*ret = o;
	return 0;
}

/* The path of the image at a depth of the backing chain (for the human map's File column). */
static const char *chain_path(struct disk *d, unsigned depth)
{
	for (unsigned i = 0; i < depth && d && disk_get_format(d) == DISK_FORMAT_QCOW2; i++)
		d = to_qcow2(d)->backing;
	return d ? disk_path(d) : "";
}

static json_t *map_entry(struct disk *d, uint64_t start, uint64_t len, unsigned depth,
			 unsigned flags, uint64_t host)
{
	json_t *e = json_object();

	/* not in qemu-img's JSON (cmd-img.c prints the fields it knows): the human form's File */
	json_object_set_new(e, "filename", json_string(chain_path(d, depth)));

	json_object_set_new(e, "start", json_integer((json_int_t)start));
	json_object_set_new(e, "length", json_integer((json_int_t)len));
	json_object_set_new(e, "depth", json_integer(depth));
	json_object_set_new(e, "present", json_boolean(flags & DISK_STATUS_ALLOCATED));
	json_object_set_new(e, "zero", json_boolean(flags & DISK_STATUS_ZERO));
	json_object_set_new(e, "data", json_boolean(flags & DISK_STATUS_DATA));
	if (flags & DISK_STATUS_OFFSET_VALID)
		json_object_set_new(e, "offset", json_integer((json_int_t)host));
	return e;
}

int img_map(const char *path, enum disk_format fmt, json_t **ret, struct hull_err *err)
{
	cleanup_disk struct disk *d = NULL;
	uint64_t off = 0, size, cur_start = 0, cur_len = 0, cur_host = 0;
	unsigned cur_flags = 0, cur_depth = 0;
	json_t *arr;
	int r;

	r = disk_open(path, fmt, img_ro_flags() | DISK_OPEN_NO_REPAIR, &d, err);
	if (r < 0)
		return r;
	size = disk_size(d);
	arr = json_array();
	while (off < size) {
		uint64_t n, host;
		unsigned flags, depth, keep = DISK_STATUS_ALLOCATED | DISK_STATUS_ZERO |
					      DISK_STATUS_DATA | DISK_STATUS_OFFSET_VALID;

		r = disk_block_status(d, off, size - off, &n, &flags, &host, &depth);
		if (r < 0) {
			json_decref(arr);
			return hull_err_set(err, -r, "%s: map at offset %" PRIu64, path, off);
		}
		flags &= keep;
		if (cur_len && flags == cur_flags && depth == cur_depth &&
		    (!(flags & DISK_STATUS_OFFSET_VALID) || host == cur_host + cur_len)) {
			cur_len += n;
		} else {
			if (cur_len)
				json_array_append_new(arr, map_entry(d, cur_start, cur_len, cur_depth,
								     cur_flags, cur_host));
			cur_start = off;
			cur_len = n;
			cur_flags = flags;
			cur_depth = depth;
			cur_host = host;
		}
		off += n;
	}
	if (cur_len)
		json_array_append_new(arr, map_entry(d, cur_start, cur_len, cur_depth, cur_flags,
						     cur_host));
	*ret = arr;
	return 0;
}
