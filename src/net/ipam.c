#include "net/ipam.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "net/net.h"
#include "net/netdef.h"

static char *ipam_path(const char *root, const char *name)
{
	return xasprintf("%s/networks/%s.ipam", root, name);
}

static json_t *ipam_read(const char *path)
{
	json_t *v = NULL;
	struct hull_err e2;

	if (access(path, F_OK) < 0 || hjson_load_file(path, 16 << 20, &v, &e2) < 0 ||
	    !json_is_object(v)) {
		json_decref(v);
		return json_object();
	}
	return v;
}

static int ipam_write(const char *path, json_t *v, struct hull_err *err)
{
	cleanup_free char *buf = hjson_dump(v, JSON_COMPACT);
	int r = fd_write_file_atomic_at(AT_FDCWD, path, buf, strlen(buf), 0600);

	return r < 0 ? hull_err_set(err, -r, "%s", path) : 0;
}

/* Whether the owner of an entry still exists: a container directory in ctr_dir, or a VM
 * record of the engine's (root/IPAM_VMS_DIR/ID). */
static bool owner_exists(const char *root, const char *ctr_dir, const char *id)
{
	cleanup_free char *d = xasprintf("%s/%s", ctr_dir, id);
	cleanup_free char *vm = xasprintf("%s/" IPAM_VMS_DIR "/%s", root, id);

	return !(access(d, F_OK) < 0 && errno == ENOENT) ||
	       !(access(vm, F_OK) < 0 && errno == ENOENT);
}

/* Drop the entries of containers (and VMs) that no longer exist, and those of drop_id. */
static void reclaim(json_t *v, const char *root, const char *ctr_dir, const char *drop_id)
{
	const char *ip;
	json_t *id;
	void *tmp;

	json_object_foreach_safe(v, tmp, ip, id) {
		const char *s = json_string_value(id);

		if (!s || (drop_id && strcmp(s, drop_id) == 0) ||
		    (ctr_dir && !owner_exists(root, ctr_dir, s)))
			(void)json_object_del(v, ip);
	}
}

int ipam_alloc(const char *root, json_t *def, const char *ctr_dir, const char *ctr_id,
	       uint32_t want, uint32_t *ret, struct hull_err *err)
{
	const char *name = json_string_value(json_object_get(def, "name"));
	cleanup_free char *path = ipam_path(root, name);
	cleanup_json json_t *v = ipam_read(path);
	uint32_t net, gw, mask, a;
	int prefix;
	char s[16];

	if (net_def_subnet4(def, &net, &prefix, &gw) < 0)
		return hull_err_setx(err, EINVAL, "network %s has no IPv4 subnet", name);
	mask = net_prefix_mask(prefix);
	reclaim(v, root, ctr_dir, ctr_id);
	if (want) {
		net_ip4_format(want, s);
		if ((want & mask) != net || want == net || want == (net | ~mask) || want == gw)
			return hull_err_setx(err, EINVAL, "--ip %s: not a free host address of "
					     "network %s", s, name);
		if (json_object_get(v, s))
			return hull_err_setx(err, EADDRINUSE, "--ip %s: address already in use on "
					     "network %s", s, name);
		a = want;
	} else {
		for (a = net + 1; a < (net | ~mask); a++) {
			net_ip4_format(a, s);
			if (a != gw && !json_object_get(v, s))
				break;
		}
		if (a >= (net | ~mask))
			return hull_err_setx(err, ENOSPC, "network %s: no free address left", name);
	}
	(void)json_object_set_new(v, s, json_string(ctr_id));
	*ret = a;
	return ipam_write(path, v, err);
}

int ipam_release(const char *root, const char *name, const char *ctr_id, struct hull_err *err)
{
	cleanup_free char *path = ipam_path(root, name);
	cleanup_json json_t *v = NULL;
	size_t before;

	if (access(path, F_OK) < 0)
		return 0;
	v = ipam_read(path);
	before = json_object_size(v);
	reclaim(v, root, NULL, ctr_id);
	return json_object_size(v) == before ? 0 : ipam_write(path, v, err);
}

int ipam_count(const char *root, const char *name, const char *ctr_dir)
{
	cleanup_free char *path = ipam_path(root, name);
	cleanup_json json_t *v = ipam_read(path);

	reclaim(v, root, ctr_dir, NULL);
	return (int)json_object_size(v);
}
