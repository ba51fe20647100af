#include "vmm/initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/strv.h"

#define INITRAMFS_FILE_MAX (256U << 20)
#define MODULES_DEP_MAX (16U << 20)
#define MODULES_BUILTIN_MAX (4U << 20)

static void buf_put(struct cpio_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;

		while (cap < b->len + len)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

static void buf_pad4(struct cpio_buf *b)
{
	static const uint8_t zero[4];

	buf_put(b, zero, (4 - (b->len & 3)) & 3);
}

void cpio_add(struct cpio_buf *b, const char *name, mode_t mode, uint32_t rdev_major,
	      uint32_t rdev_minor, const void *data, size_t len)
{
	char hdr[111];
	size_t namesize = strlen(name) + 1;

	/* newc: magic, then 13 fields of 8 hex digits; mtime 0 keeps images reproducible. */
	(void)snprintf(hdr, sizeof(hdr),
		       "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		       ++b->next_ino, (unsigned)mode, 0U, 0U, S_ISDIR(mode) ? 2U : 1U, 0U,
		       (unsigned)len, 0U, 0U, rdev_major, rdev_minor, (unsigned)namesize, 0U);
	buf_put(b, hdr, 110);
	buf_put(b, name, namesize);
	buf_pad4(b);
	if (len) {
		buf_put(b, data, len);
		buf_pad4(b);
	}
}

void cpio_finish(struct cpio_buf *b)
{
	cpio_add(b, "TRAILER!!!", 0, 0, 0, NULL, 0);
}

void cpio_buf_free(struct cpio_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* "kernel/x/virtio-rng.ko" -> "virtio_rng" in out (module names treat - and _ alike). */
static void module_name_of(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base ? base + 1 : path;
	for (i = 0; i + 1 < size && base[i] && base[i] != '.'; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[i] = '\0';
}

/* The modules.dep line for name: returns the start of the line (in dep) or NULL. */
static char *dep_find(char *dep, const char *name)
{
	char want[128], have[128];

	module_name_of(name, want, sizeof(want));
	for (char *line = dep; line && *line;) {
		char *nl = strchr(line, '\n');
		char *colon = strchr(line, ':');

		if (colon && (!nl || colon < nl)) {
			char path[512];
			size_t n = (size_t)(colon - line);

			if (n < sizeof(path)) {
				memcpy(path, line, n);
				path[n] = '\0';
				module_name_of(path, have, sizeof(have));
				if (strcmp(want, have) == 0)
					return line;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static int resolve_one(char *dep, const char *name, char ***paths, unsigned depth,
		       struct hull_err *err)
{
	char *line = dep_find(dep, name);
	char *nl, *colon, *save = NULL, *tok;
	cleanup_free char *copy = NULL;
	char path[512];
	size_t n;
	int r;

	if (!line)
		return hull_err_setx(err, ENOENT, "module %s: not in modules.dep", name);
	if (depth > 16 || strv_length(*paths) >= INITRAMFS_MAX_MODULES)
		return hull_err_setx(err, ELOOP, "module %s: too many dependencies", name);
	colon = strchr(line, ':');
	n = (size_t)(colon - line);
	if (n >= sizeof(path))
		return hull_err_setx(err, ENAMETOOLONG, "module %s: path too long", name);
	memcpy(path, line, n);
	path[n] = '\0';
	if (strv_find(*paths, path) >= 0)
		return 0;
	nl = strchr(colon, '\n');
	copy = nl ? xstrndup(colon + 1, (size_t)(nl - colon - 1)) : xstrdup(colon + 1);
	/* Each listed dependency first (modprobe loads the list in reverse; recursion covers it). */
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		r = resolve_one(dep, tok, paths, depth + 1, err);
		if (r < 0)
			return r;
	}
	if (strv_find(*paths, path) < 0)
		strv_push(paths, path);
	return 0;
}

/* module_dir/modules.dep into *ret (NUL-terminated); -errno with err naming the file. */
static int modules_dep_read(const char *module_dir, char **ret, struct hull_err *err)
{
	cleanup_free char *dep_path = xasprintf("%s/modules.dep", module_dir);
	size_t len;
	int r = fd_read_file_at(AT_FDCWD, dep_path, MODULES_DEP_MAX, ret, &len);

	if (r < 0)
		return hull_err_set(err, -r, "%s", dep_path);
	return 0;
}

int modules_resolve(const char *module_dir, char *const *names, char ***ret_paths,
		    struct hull_err *err)
{
	cleanup_free char *dep = NULL;
	cleanup_strv char **paths = NULL;
	int r;

	r = modules_dep_read(module_dir, &dep, err);
	if (r < 0)
		return r;
	paths = xcalloc(1, sizeof(char *));
	for (size_t i = 0; names && names[i]; i++) {
		r = resolve_one(dep, names[i], &paths, 0, err);
		if (r < 0)
			return hull_err_prefix(err, "%s/modules.dep", module_dir);
	}
	*ret_paths = steal_ptr(&paths);
	return 0;
}

/* Is name built into the kernel? modules.builtin lists their paths, one a line. */
static bool module_is_builtin(const char *builtin, const char *name)
{
	char want[128], have[128], path[512];

	module_name_of(name, want, sizeof(want));
	for (const char *line = builtin; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n < sizeof(path)) {
			memcpy(path, line, n);
			path[n] = '\0';
			module_name_of(path, have, sizeof(have));
			if (strcmp(want, have) == 0)
				return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static int add_host_file(struct cpio_buf *b, const char *src, const char *dst, mode_t mode,
			 struct hull_err *err)
{
	cleanup_free char *data = NULL;
	size_t len;
	int r = fd_read_file_at(AT_FDCWD, src, INITRAMFS_FILE_MAX, &data, &len);

	if (r < 0)
		return hull_err_set(err, -r, "%s", src);
	cpio_add(b, dst, S_IFREG | mode, 0, 0, data, len);
	return 0;
}

/* Every parent directory of path (without a leading '/'), each once. */
static void add_parents(struct cpio_buf *b, char ***dirs, const char *path)
{
	cleanup_free char *p = xstrdup(path);

	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (*p && strv_find(*dirs, p) < 0) {
			strv_push(dirs, p);
			cpio_add(b, p, S_IFDIR | 0755, 0, 0, NULL, 0);
		}
		*s = '/';
	}
}

static const char default_init[] =
	"#!/bin/sh\n"
	"# generated by hull vm initramfs\n"
	"mount -t proc proc /proc\n"
	"mount -t sysfs sys /sys\n"
	"mount -t devtmpfs dev /dev\n"
	"while read -r m; do insmod \"$m\"; done < /etc/hull-modules\n"
	"sh /etc/hull-net $(cat /proc/cmdline)\n"
	"exec sh\n";

/*
 * /etc/hull-net ARGS...: the guest side of `hull vm run --net network=` (docs/vmm.md
 * "Networking"). Debian's kernel has no CONFIG_IP_PNP (its ip= does nothing), so hull puts
 * the configuration on the command line as hull.net=IF,ADDR/PREFIX[,GW] hull.dns=A[,B...]
 * hull.hostname=NAME and the default /init applies it with busybox: address, default route,
 * hostname, /etc/hosts and /etc/resolv.conf ($HULL_NET_ETC instead of /etc: for the tests).
 * Words it does not know are ignored; without hull.net= only lo is brought up.
 */
static const char net_script[] =
	"#!/bin/sh\n"
	"# generated by hull vm initramfs: applies hull.net=, hull.dns=, hull.hostname=\n"
	"etc=${HULL_NET_ETC:-/etc}\n"
	"net= dns= hn=\n"
	"for a in \"$@\"; do\n"
	"\tcase \"$a\" in\n"
	"\thull.net=*) net=${a#hull.net=} ;;\n"
	"\thull.dns=*) dns=${a#hull.dns=} ;;\n"
	"\thull.hostname=*) hn=${a#hull.hostname=} ;;\n"
	"\tesac\n"
	"done\n"
	"ip link set lo up\n"
	"IFS=, read -r dev addr gw <<EOF\n"
	"$net\n"
	"EOF\n"
	"if [ -n \"$dev\" ] && [ -n \"$addr\" ]; then\n"
	"\tip link set \"$dev\" up\n"
	"\tip addr add \"$addr\" dev \"$dev\" || echo \"hull-net: cannot set $addr on $dev\"\n"
	"\t[ -z \"$gw\" ] || ip route add default via \"$gw\" dev \"$dev\"\n"
	"fi\n"
	"[ -z \"$hn\" ] || hostname \"$hn\"\n"
	"printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' "
	"> \"$etc/hosts\"\n"
	"[ -z \"$hn\" ] || [ -z \"$addr\" ] || printf '%s\\t%s\\n' \"${addr%/*}\" \"$hn\" "
	">> \"$etc/hosts\"\n"
	"if [ -n \"$dns\" ]; then\n"
	"\t: > \"$etc/resolv.conf\"\n"
	"\tfor d in $(echo \"$dns\" | tr , ' '); do echo \"nameserver $d\" >> \"$etc/resolv.conf\"; "
	"done\n"
	"fi\n"
	"exit 0\n";

/* The modules' files under lib/modules/ and their load order in etc/hull-modules. */
static int pack_modules(const char *module_dir, char **paths, struct cpio_buf *b, char ***dirs,
			struct hull_err *err)
{
	cleanup_free char *order = xstrdup("");
	int r;

	for (size_t i = 0; paths && paths[i]; i++) {
		cleanup_free char *src = xasprintf("%s/%s", module_dir, paths[i]);
		cleanup_free char *dst = xasprintf("lib/modules/%s", paths[i]);
		char *o;

		add_parents(b, dirs, dst);
		r = add_host_file(b, src, dst, 0644, err);
		if (r < 0)
			return r;
		o = xasprintf("%s/%s\n", order, dst);
		free(order);
		order = o;
	}
	cpio_add(b, "etc/hull-modules", S_IFREG | 0644, 0, 0, order, strlen(order));
	return 0;
}

/*
 * The default modules (unless built in) and the user's, resolved in dep into *paths. A
 * default module that the tree lacks is named in info->warning; a user's is an error.
 */
static int modules_choose(const char *module_dir, char *dep, const char *builtin,
			  char *const *user, char ***paths, struct initramfs_info *info,
			  struct hull_err *err)
{
	static const char *const defaults[] = INITRAMFS_DEFAULT_MODULES;
	char missing[128] = "";
	int r;

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (module_is_builtin(builtin, defaults[i]))
			continue;
		if (!dep_find(dep, defaults[i])) {
			size_t n = strlen(missing);

			(void)snprintf(missing + n, sizeof(missing) - n, "%s%s", n ? ", " : "",
				       defaults[i]);
			continue;
		}
		r = resolve_one(dep, defaults[i], paths, 0, err);
		if (r < 0)
			return hull_err_prefix(err, "%s/modules.dep", module_dir);
	}
	for (size_t i = 0; user && user[i]; i++) {
		if (module_is_builtin(builtin, user[i]))
			continue;
		r = resolve_one(dep, user[i], paths, 0, err);
		if (r < 0)
			return hull_err_prefix(err, "%s/modules.dep", module_dir);
	}
	if (*missing)
		(void)snprintf(info->warning, sizeof(info->warning),
			       "%s: %s neither in modules.dep nor built in: the guest will not see "
			       "its --disk",
			       module_dir, missing);
	return 0;
}

static int add_modules(const struct initramfs_spec *spec, struct cpio_buf *b, char ***dirs,
		       struct initramfs_info *info, struct hull_err *err)
{
	cleanup_strv char **paths = xcalloc(1, sizeof(char *));
	cleanup_free char *dep = NULL;
	cleanup_free char *builtin = NULL;
	cleanup_free char *probe = NULL;
	cleanup_free char *builtin_path = NULL;
	struct utsname u = { 0 };
	size_t len;
	int r;

	if (spec->module_dir) {
		(void)snprintf(info->module_dir, sizeof(info->module_dir), "%s", spec->module_dir);
	} else if (uname(&u) == 0) {
		/* The running kernel's tree: right when the guest boots the host's kernel. */
		(void)snprintf(info->module_dir, sizeof(info->module_dir), "/lib/modules/%s",
			       u.release);
		probe = xasprintf("%s/modules.dep", info->module_dir);
		if (access(probe, R_OK) < 0)
			info->module_dir[0] = '\0';
	}
	if (!info->module_dir[0]) {
		if (spec->modules && spec->modules[0])
			return hull_err_setx(err, EINVAL, "--module needs --module-dir (there is no "
					     "/lib/modules/%s for the running kernel)", u.release);
		(void)snprintf(info->warning, sizeof(info->warning),
			       "no kernel modules packed (no --module-dir, no /lib/modules/%s): "
			       "the guest will not see its --disk unless its kernel has virtio_pci "
			       "and virtio_blk built in",
			       u.release);
		return pack_modules(NULL, NULL, b, dirs, err);
	}
	r = modules_dep_read(info->module_dir, &dep, err);
	if (r < 0)
		return r;
	/* Optional: a tree without modules.builtin has nothing built in that we know of. */
	builtin_path = xasprintf("%s/modules.builtin", info->module_dir);
	if (fd_read_file_at(AT_FDCWD, builtin_path, MODULES_BUILTIN_MAX, &builtin, &len) < 0)
		builtin = xstrdup("");
	r = modules_choose(info->module_dir, dep, builtin, spec->modules, &paths, info, err);
	if (r < 0)
		return r;
	return pack_modules(info->module_dir, paths, b, dirs, err);
}

int initramfs_build(const struct initramfs_spec *spec, struct cpio_buf *b,
		    struct initramfs_info *ret_info, struct hull_err *err)
{
	struct initramfs_info info_local = { 0 };
	struct initramfs_info *info = ret_info ? ret_info : &info_local;
	static const char *const base_dirs[] = { "bin", "dev", "etc", "lib", "lib/modules",
						 "proc", "sys", "tmp", "run", "mnt" };
	cleanup_strv char **dirs = xcalloc(1, sizeof(char *));
	int r;

	memset(info, 0, sizeof(*info));
	for (size_t i = 0; i < sizeof(base_dirs) / sizeof(base_dirs[0]); i++) {
		cpio_add(b, base_dirs[i], S_IFDIR | 0755, 0, 0, NULL, 0);
		strv_push(&dirs, base_dirs[i]);
	}
	/* The kernel opens /dev/console for init before anything is mounted. */
	cpio_add(b, "dev/console", S_IFCHR | 0600, 5, 1, NULL, 0);
	cpio_add(b, "dev/null", S_IFCHR | 0666, 1, 3, NULL, 0);
	r = add_host_file(b, spec->busybox ? spec->busybox : "/bin/busybox", "bin/busybox", 0755,
			  err);
	if (r < 0)
		return hull_err_prefix(err, "busybox");
	for (const char *const *a = (const char *const[]){ "sh", "mount", "insmod", "cat", "echo",
							    "poweroff", "reboot", "sleep", "ip",
							    "hostname", "tr", "printf", NULL };
	     *a; a++) {
		cleanup_free char *name = xasprintf("bin/%s", *a);

		cpio_add(b, name, S_IFLNK | 0777, 0, 0, "busybox", 7);
	}
	if (spec->init) {
		r = add_host_file(b, spec->init, "init", 0755, err);
		if (r < 0)
			return hull_err_prefix(err, "--init");
	} else {
		cpio_add(b, "init", S_IFREG | 0755, 0, 0, default_init, sizeof(default_init) - 1);
	}
	/* also for an --init of the user's that wants it: sh /etc/hull-net $(cat /proc/cmdline) */
	cpio_add(b, "etc/hull-net", S_IFREG | 0755, 0, 0, net_script, sizeof(net_script) - 1);
	r = add_modules(spec, b, &dirs, info, err);
	if (r < 0)
		return r;
	for (size_t i = 0; spec->files && spec->files[i]; i++) {
		cleanup_free char *src = xstrdup(spec->files[i]);
		char *dst = strchr(src, ':');

		if (!dst || !dst[1] || dst == src)
			return hull_err_setx(err, EINVAL, "--file %s: expected HOSTPATH:GUESTPATH",
					     spec->files[i]);
		*dst++ = '\0';
		while (*dst == '/')
			dst++;
		add_parents(b, &dirs, dst);
		r = add_host_file(b, src, dst, 0755, err);
		if (r < 0)
			return hull_err_prefix(err, "--file");
	}
	cpio_finish(b);
	return 0;
}
