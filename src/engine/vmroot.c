/*
 * The root image and the initramfs of `hull run --vm` (vmroot.h). The root is the image's
 * layers as overlayfs merges them (whiteouts and opaque directories applied), which
 * mkfs.erofs reads in a child that mounted the overlay in a mount namespace of its own: the
 * mount goes away with that child whatever happens to it, and the host sees none.
 */
#include "engine/vmroot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/rmtree.h"
#include "common/strv.h"
#include "engine/container.h"
#include "engine/rootfs.h"
#include "engine/vm-agent.h"
#include "image/digest.h"
#include "vmm/initramfs.h"

#define KERNEL_HDR_MAX 0x10000 /* the setup header and the version string sit in it */
#define AGENT_MAX (64U << 20)
#define MKFS_ERR_MAX 4096

/* The release in a bzImage's setup header (Documentation/x86/boot.rst: "HdrS" at 0x202,
 * kernel_version at 0x20e: the string's offset less 0x200). */
static int kernel_release(const char *path, char **ret, struct hull_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char hdr[KERNEL_HDR_MAX];
	ssize_t n;
	size_t off, len;

	if (fd < 0)
		return hull_err_set(err, errno, "--vm: kernel %s", path);
	n = fd_read_all(fd, hdr, sizeof(hdr));
	if (n < 0)
		return hull_err_set(err, (int)-n, "--vm: kernel %s", path);
	if (n < 0x210 || memcmp(hdr + 0x202, "HdrS", 4) != 0)
		return hull_err_setx(err, EINVAL, "--vm: kernel %s: not a bzImage (no HdrS "
				     "setup header)", path);
	off = (size_t)(hdr[0x20e] | hdr[0x20f] << 8) + 0x200;
	if (off <= 0x200 || off >= (size_t)n)
		return hull_err_setx(err, EINVAL, "--vm: kernel %s: the setup header names no "
				     "kernel version", path);
	len = strnlen((const char *)hdr + off, (size_t)n - off);
	len = strcspn((const char *)hdr + off, " ") < len ? strcspn((const char *)hdr + off, " ")
							   : len;
	if (len == 0 || len > 64 || memchr(hdr + off, '/', len))
		return hull_err_setx(err, EINVAL, "--vm: kernel %s: bad kernel version", path);
	*ret = xstrndup((const char *)hdr + off, len);
	return 0;
}

const char *vmroot_kernel_pick(char *const *paths, size_t n)
{
	const char *best = NULL;

	/* the newest of Debian's generic flavour (linux-image-amd64), the default the issue and
	 * the docs name; the cloud flavour only when it is the only one (or named by --kernel) */
	for (int cloud = 0; cloud < 2 && !best; cloud++)
		for (size_t i = 0; i < n; i++)
			if ((strstr(paths[i], "-cloud-") != NULL) == cloud &&
			    (!best || strverscmp(paths[i], best) > 0))
				best = paths[i];
	return best;
}

static int newest_kernel(char **ret, struct hull_err *err)
{
	glob_t g = { 0 };

	if (glob("/boot/vmlinuz-*-amd64", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		globfree(&g);
		return hull_err_setx(err, ENOENT, "--vm: no kernel /boot/vmlinuz-*-amd64: install "
				     "linux-image-amd64 (or linux-image-cloud-amd64), or give "
				     "--kernel FILE");
	}
	*ret = xstrdup(vmroot_kernel_pick(g.gl_pathv, g.gl_pathc));
	globfree(&g);
	return 0;
}

/*
 * A kernel unpacked with `dpkg -x PKG DIR` (guest18: Debian's cloud flavour measured without
 * installing it into /boot) has its modules at DIR/lib/modules/<release>, beside DIR/boot/:
 * used when /lib/modules/<release> is not there. The last one vmroot_kernel found, for
 * initrd_build of the same release (one process prepares one VM).
 */
static char *unpacked_moddir;

static char *module_dir(const char *kernel, const char *release)
{
	cleanup_free char *sys = xasprintf("/lib/modules/%s", release);
	cleanup_free char *dir = kernel ? xstrdup(kernel) : NULL;
	char *slash;

	if (access(sys, R_OK) == 0 || !dir)
		return steal_ptr(&sys);
	for (int k = 0; k < 2 && (slash = strrchr(dir, '/')); k++)
		*slash = '\0';
	return xasprintf("%s/lib/modules/%s", dir, release);
}

int vmroot_kernel(const char *kernel, char **ret_path, char **ret_release,
		  struct hull_err *err)
{
	cleanup_free char *path = NULL;
	cleanup_free char *release = NULL;
	cleanup_free char *dep = NULL;
	int r;

	if (kernel) {
		path = realpath(kernel, NULL);
		if (!path)
			return hull_err_set(err, errno, "--kernel %s", kernel);
	} else if ((r = newest_kernel(&path, err)) < 0) {
		return r;
	}
	r = kernel_release(path, &release, err);
	if (r < 0)
		return r;
	free(unpacked_moddir);
	unpacked_moddir = module_dir(path, release);
	dep = xasprintf("%s/modules.dep", unpacked_moddir);
	if (access(dep, R_OK) < 0)
		return hull_err_set(err, errno, "--vm: kernel %s: its modules %s", path, dep);
	*ret_path = steal_ptr(&path);
	*ret_release = steal_ptr(&release);
	return 0;
}

/* <store>/vm (and below it name, when not NULL), made when missing. */
static int vm_dir(struct image_store *s, const char *name, char **ret, struct hull_err *err)
{
	cleanup_free char *top = xasprintf("%s/vm", s->root);
	cleanup_free char *sub = name ? xasprintf("%s/%s", top, name) : NULL;

	if (mkdir(top, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s", top);
	if (sub && mkdir(sub, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "%s", sub);
	*ret = sub ? steal_ptr(&sub) : steal_ptr(&top);
	return 0;
}

/* An exclusive flock on dir/name, waited for. */
static int lock_file(const char *dir, const char *name, struct hull_err *err)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return hull_err_set(err, errno, "%s", p);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;

			(void)close(fd);
			return hull_err_set(err, e, "lock %s", p);
		}
	return fd;
}

/*
 * The child: the layers merged at build/rootfs in a mount namespace of its own, then
 * mkfs.erofs over them into out (its messages, and ours on msg, in a pipe to the parent).
 */
static void __attribute__((noreturn))
build_child(struct image_store *s, const char *build, char *const *diff_ids, const char *out,
	    int msg)
{
	cleanup_free char *src = xasprintf("%s/rootfs", build);
	const char *mode = NULL;
	struct hull_err err = { 0 };

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		dprintf(msg, "mount namespace: %s\n", strerror(errno));
		_exit(125);
	}
	if (ctr_rootfs_setup(s, build, diff_ids, false, &mode, &err) < 0) {
		dprintf(msg, "%s\n", err.msg);
		_exit(125);
	}
	/* -x-1 would drop xattrs: keep them (file capabilities); --quiet: errors only */
	execlp("mkfs.erofs", "mkfs.erofs", "--quiet", out, src, (char *)NULL);
	dprintf(msg, "mkfs.erofs: %s (install erofs-utils)\n", strerror(errno));
	_exit(127);
}

/* Run build_child and wait; the error carries its last message. */
static int build_erofs(struct image_store *s, const char *build, char *const *diff_ids,
		       const char *out, struct hull_err *err)
{
	char msg[MKFS_ERR_MAX];
	int p[2], status = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return hull_err_set(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return hull_err_set(err, errno, "fork");
	}
	if (pid == 0) {
		(void)dup2(p[1], 2);
		(void)dup2(p[1], 1);
		build_child(s, build, diff_ids, out, p[1]);
	}
	(void)close(p[1]);
	n = fd_read_all(p[0], msg, sizeof(msg) - 1);
	(void)close(p[0]);
	msg[n > 0 ? n : 0] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	msg[strcspn(msg, "\n")] = '\0';
	return hull_err_setx(err, EIO, "--vm: building the root image %s: %s", out,
			     *msg ? msg : "mkfs.erofs failed");
}

/* What a builder that died left (build.PID, root.erofs.tmp.PID): ours to remove under the
 * lock, as nobody else builds meanwhile. */
static void remove_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "build.", 6) == 0 || strstr(de->d_name, ".tmp."))
			(void)rm_tree_at(dirfd(d), de->d_name);
	(void)closedir(d);
}

int vmroot_image(struct image_store *s, const char *image_id, char *const *diff_ids,
		 char **ret_path, bool *ret_built, struct hull_err *err)
{
	cleanup_free char *dir = NULL;
	cleanup_free char *path = NULL;
	cleanup_free char *tmp = NULL;
	cleanup_free char *build = NULL;
	cleanup_close int lock = -1;
	int r;

	*ret_built = false;
	if (!digest_is_valid(image_id))
		return hull_err_setx(err, EINVAL, "--vm: bad image id %s", image_id);
	r = vm_dir(s, digest_hex(image_id), &dir, err);
	if (r < 0)
		return r;
	path = xasprintf("%s/root.erofs", dir);
	/* the lock first: another create may be building it right now */
	lock = lock_file(dir, "lock", err);
	if (lock < 0)
		return lock;
	if (access(path, R_OK) == 0) {
		*ret_path = steal_ptr(&path);
		return 0;
	}
	remove_leftovers(dir);
	tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	build = xasprintf("%s/build.%d", dir, (int)getpid());
	if (mkdir(build, 0700) < 0)
		return hull_err_set(err, errno, "%s", build);
	r = build_erofs(s, build, diff_ids, tmp, err);
	if (r == 0 && rename(tmp, path) < 0)
		r = hull_err_set(err, errno, "rename %s", tmp);
	(void)rm_tree_at(AT_FDCWD, build);
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	*ret_built = true;
	*ret_path = steal_ptr(&path);
	return 0;
}

char *vmroot_agent_path(void)
{
	char buf[PATH_MAX];

	return vm_agent_binary(buf, sizeof(buf)) == 0 ? realpath(buf, NULL) : NULL;
}

/* The first 12 hex digits of the sha256 of the agent and the module list: a new agent or
 * list makes a new initramfs. */
static int agent_hash(const char *agent, char out[13], struct hull_err *err)
{
	static const char *const mods[] = VMROOT_MODULES;
	cleanup_free char *data = NULL;
	struct digest_ctx *ctx;
	char d[DIGEST_STR_LEN + 1];
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, agent, AGENT_MAX, &data, &len);

	if (r < 0)
		return hull_err_set(err, -r, "--vm: the guest agent %s", agent);
	ctx = digest_ctx_new();
	digest_ctx_update(ctx, data, len);
	for (size_t i = 0; mods[i]; i++)
		digest_ctx_update(ctx, mods[i], strlen(mods[i]) + 1);
	digest_ctx_finish(ctx, d);
	(void)snprintf(out, 13, "%s", digest_hex(d));
	return 0;
}

static int initrd_build(const char *agent, const char *release, const char *path,
			struct hull_err *err)
{
	static const char *const mods[] = VMROOT_MODULES;
	cleanup_free char *moddir = module_dir(NULL, release);
	struct initramfs_spec spec = { .init = agent, .module_dir = moddir,
				       .modules = (char **)mods };
	struct initramfs_info info;
	struct cpio_buf b = { 0 };
	int r;

	if (access(moddir, R_OK) < 0 && unpacked_moddir && strstr(unpacked_moddir, release))
		spec.module_dir = unpacked_moddir;
	r = initramfs_build(&spec, &b, &info, err);
	if (r == 0 && info.warning[0])
		r = hull_err_setx(err, ENOENT, "--vm: %s", info.warning);
	if (r == 0) {
		r = fd_write_file_atomic_at(AT_FDCWD, path, b.data, b.len, 0600);
		if (r < 0)
			r = hull_err_set(err, -r, "%s", path);
	}
	cpio_buf_free(&b);
	return r < 0 ? hull_err_prefix(err, "--vm: initramfs for %s", release) : 0;
}

int vmroot_initrd(struct image_store *s, const char *release, char **ret_path,
		  struct hull_err *err)
{
	cleanup_free char *agent = vmroot_agent_path();
	cleanup_free char *dir = NULL;
	cleanup_free char *path = NULL;
	cleanup_close int lock = -1;
	char hash[13];
	int r;

	if (!agent)
		return hull_err_setx(err, ENOENT, "--vm: no guest agent (hull-agent) beside this "
				     "hull or in its libexec directory");
	r = agent_hash(agent, hash, err);
	if (r == 0)
		r = vm_dir(s, NULL, &dir, err);
	if (r < 0)
		return r;
	path = xasprintf("%s/initrd-%s-%s.img", dir, release, hash);
	lock = lock_file(dir, "initrd.lock", err);
	if (lock < 0)
		return lock;
	if (access(path, R_OK) != 0) {
		r = initrd_build(agent, release, path, err);
		if (r < 0)
			return r;
	}
	*ret_path = steal_ptr(&path);
	return 0;
}

int vmroot_prepare(struct image_store *s, const char *image_id, char *const *diff_ids,
		   const char *kernel, struct vmroot *ret, struct hull_err *err)
{
	bool built;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = vmroot_kernel(kernel, &ret->kernel, &ret->release, err);
	if (r == 0)
		r = vmroot_image(s, image_id, diff_ids, &ret->root, &built, err);
	if (r == 0)
		r = vmroot_initrd(s, ret->release, &ret->initrd, err);
	if (r < 0)
		vmroot_clear(ret);
	return r;
}

void vmroot_clear(struct vmroot *v)
{
	free(v->kernel);
	free(v->release);
	free(v->initrd);
	free(v->root);
	memset(v, 0, sizeof(*v));
}

int vmroot_record(struct image_store *s, const char *dir, const char *image_id,
		  char *const *diff_ids, const char *kernel, int64_t memory, double cpus,
		  struct hull_err *err)
{
	cleanup_json json_t *o = NULL;
	cleanup_free char *buf = NULL;
	struct vmroot v;
	/* the VM's size: -m rounded up to MiB (at least VMROOT_MEM_MIN_MIB), --cpus rounded up */
	int64_t mib = memory > 0 ? (memory + (1 << 20) - 1) >> 20 : VMROOT_MEM_DEFAULT_MIB;
	int64_t ncpus = cpus > 0 ? (int64_t)cpus : 1;
	int r;

	if (cpus > 0 && (double)ncpus < cpus)
		ncpus++;

	if (mib < VMROOT_MEM_MIN_MIB)
		return hull_err_setx(err, EINVAL, "--vm: -m %" PRId64 "m: a VM needs at least %dm",
				     mib, VMROOT_MEM_MIN_MIB);
	if (ncpus > VMROOT_CPUS_MAX)
		return hull_err_setx(err, EINVAL, "--vm: --cpus %g: at most %d vCPUs", cpus,
				     VMROOT_CPUS_MAX);
	r = vmroot_prepare(s, image_id, diff_ids, kernel, &v, err);
	if (r < 0)
		return r;
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "Kernel", v.kernel, "Release", v.release,
		      "Initrd", v.initrd, "Root", v.root, "MemoryMiB", (json_int_t)mib, "CPUs",
		      (json_int_t)ncpus);
	vmroot_clear(&v);
	buf = hjson_dump(o, JSON_COMPACT);
	return ctr_write_file(dir, "vm.json", buf, strlen(buf), 0600, err);
}
