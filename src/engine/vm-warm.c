/* The warm snapshot cache of `hull run --vm` (vm-warm.h). */
#include "engine/vm-warm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "common/rmtree.h"
#include "image/digest.h"
#include "vmm/snapshot.h"

#define WARM_KEY_FILE "key"
#define WARM_LOCK "warm.lock"

/* One "name path dev ino size mtime_ns" line of the key text. */
static int key_file_line(const char *name, const char *path, char **text, struct hull_err *err)
{
	struct stat st;
	char *t;

	if (!path || stat(path, &st) < 0)
		return hull_err_set(err, path ? errno : ENOENT, "%s %s", name, path ? path : "(none)");
	t = xasprintf("%s%s %s %ju %ju %jd %jd\n", *text, name, path, (uintmax_t)st.st_dev,
		      (uintmax_t)st.st_ino, (intmax_t)st.st_size,
		      (intmax_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
	free(*text);
	*text = t;
	return 0;
}

int vm_warm_key_text(const struct vm_spec *v, const char *vmm, const char *cmdline,
		     char **ret, struct hull_err *err)
{
	cleanup_free char *text = xasprintf("hull-warm 1\n");
	char *t;
	int r = key_file_line("kernel", v->kernel, &text, err);

	if (r == 0)
		r = key_file_line("initrd", v->initrd, &text, err);
	if (r == 0)
		r = key_file_line("root", v->root, &text, err);
	if (r == 0)
		r = key_file_line("vmm", vmm, &text, err);
	if (r < 0)
		return r;
	t = xasprintf("%smemory %" PRId64 "\ncpus %" PRId64 "\ncmdline %s\n%s", text, v->mib,
		      v->cpus, cmdline, v->netns ? "nic " VM_WARM_NIC "\n" : "");
	if (strlen(t) >= VM_WARM_KEY_MAX) {
		free(t);
		return hull_err_setx(err, ENAMETOOLONG, "the warm snapshot's key is too long");
	}
	*ret = t;
	return 0;
}

void vm_warm_key_hash(const char *text, char out[17])
{
	char d[DIGEST_STR_LEN + 1];

	digest_buf(text, strlen(text), d);
	(void)snprintf(out, 17, "%s", digest_hex(d));
}

static int check_config(const char *dir, int64_t mib, int64_t cpus, struct hull_err *err)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, SNAPSHOT_CONFIG);
	cleanup_json json_t *j = NULL;
	int64_t mem = 0, n = 0;
	int r = hjson_load_file(p, 1 << 20, &j, err);

	if (r == 0)
		r = hjson_get_int(j, "memory", p, true, 0, INT64_MAX, &mem, err);
	if (r == 0)
		r = hjson_get_int(j, "cpus", p, true, 0, INT64_MAX, &n, err);
	if (r == 0 && (mem != mib << 20 || n != cpus))
		r = hull_err_setx(err, EINVAL, "%s: memory %" PRId64 " and cpus %" PRId64 ", not "
				  "this VM's", p, mem, n);
	return r;
}

int vm_warm_check(const char *dir, const char *key_text, int64_t mib, int64_t cpus,
		  struct hull_err *err)
{
	cleanup_free char *kp = xasprintf("%s/%s", dir, WARM_KEY_FILE);
	cleanup_free char *mp = xasprintf("%s/%s", dir, SNAPSHOT_MEMORY);
	cleanup_free char *key = NULL;
	cleanup_free uint8_t *state = NULL;
	struct stat st;
	size_t len = 0;
	int r = fd_read_file_at(AT_FDCWD, kp, VM_WARM_KEY_MAX, &key, &len);

	if (r < 0)
		return hull_err_set(err, -r, "%s", kp);
	if (len != strlen(key_text) || memcmp(key, key_text, len) != 0)
		return hull_err_setx(err, ESTALE, "%s: another kernel, initramfs, root, VMM or size",
				     kp);
	r = check_config(dir, mib, cpus, err);
	if (r < 0)
		return r;
	if (lstat(mp, &st) < 0)
		return hull_err_set(err, errno, "%s", mp);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != (uint64_t)mib << 20)
		return hull_err_setx(err, EINVAL, "%s: not a regular file of %" PRId64 " MiB", mp,
				     mib);
	return snapshot_state_check(dir, &state, &len, err);
}

/* The image's directory: the root image's. */
static char *image_dir(const struct vm_spec *v)
{
	const char *slash = strrchr(v->root, '/');

	return slash ? xstrndup(v->root, (size_t)(slash - v->root)) : NULL;
}

/* Holding the lock: what earlier builds left (temporary directories of builders that died)
 * and the damaged snapshot of this key. Other keys' snapshots stay (another -m or --cpus of
 * the same image may be in use); they go with the image. */
static void remove_leftovers(const char *idir, const char *dir)
{
	DIR *d = opendir(idir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		cleanup_free char *p = NULL;

		if (strncmp(e->d_name, "warm-", 5) != 0 || !strstr(e->d_name, ".tmp."))
			continue;
		p = xasprintf("%s/%s", idir, e->d_name);
		(void)rm_tree_at(AT_FDCWD, p);
	}
	(void)closedir(d);
	(void)rm_tree_at(AT_FDCWD, dir);
}

static int lock_try(const char *idir)
{
	cleanup_free char *p = xasprintf("%s/%s", idir, WARM_LOCK);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0)
		if (errno != EINTR) {
			int e = errno;

			(void)close(fd);
			return -e;
		}
	return fd;
}

/* No usable snapshot: this run builds it if it gets the lock (else it boots cold). */
static void plan_build(struct vm_warm *w, const struct vm_spec *v, const char *idir)
{
	struct hull_err err = { 0 };

	w->lock = lock_try(idir);
	if (w->lock < 0)
		return;
	/* the run that held the lock may have published it since our check */
	if (vm_warm_check(w->dir, w->key_text, v->mib, v->cpus, &err) == 0) {
		(void)close(w->lock);
		w->lock = -1;
		w->mode = VM_WARM_RESTORE;
		return;
	}
	remove_leftovers(idir, w->dir);
	w->tmp = xasprintf("%s.tmp.%d", w->dir, (int)getpid());
	if (mkdir(w->tmp, 0700) < 0) {
		free(w->tmp);
		w->tmp = NULL;
		return;
	}
	w->mode = VM_WARM_BUILD;
}

static bool force_cold;

void vm_warm_set_cold(bool on)
{
	force_cold = on;
}

void vm_warm_plan(const struct vm_spec *v, const char *vmm, const char *cmdline,
		  struct vm_warm *w)
{
	cleanup_free char *idir = image_dir(v);
	struct hull_err err = { 0 };
	char hash[17];

	memset(w, 0, sizeof(*w));
	w->lock = -1;
	w->mode = VM_WARM_COLD;
	if (force_cold || !idir ||
	    vm_warm_key_text(v, vmm, cmdline, &w->key_text, &err) < 0)
		return;
	vm_warm_key_hash(w->key_text, hash);
	w->dir = xasprintf("%s/warm-%s", idir, hash);
	if (vm_warm_check(w->dir, w->key_text, v->mib, v->cpus, &err) == 0) {
		w->mode = VM_WARM_RESTORE;
		return;
	}
	if (access(w->dir, F_OK) == 0)
		(void)snprintf(w->why, sizeof(w->why), "%s", err.msg);
	plan_build(w, v, idir);
}

void vm_warm_discard(struct vm_warm *w)
{
	cleanup_free char *idir = w->dir ? xstrndup(w->dir, (size_t)(strrchr(w->dir, '/') - w->dir))
					 : NULL;
	int lock = idir ? lock_try(idir) : -1;

	/* a builder holds the lock: it replaces the snapshot anyway */
	if (lock < 0)
		return;
	(void)rm_tree_at(AT_FDCWD, w->dir);
	(void)close(lock);
}

int vm_warm_publish(struct vm_warm *w, struct hull_err *err)
{
	cleanup_free char *kp = NULL;
	int r;

	if (w->mode != VM_WARM_BUILD || !w->tmp)
		return hull_err_setx(err, EINVAL, "no warm snapshot is being built");
	kp = xasprintf("%s/%s", w->tmp, WARM_KEY_FILE);
	r = fd_write_file_atomic_at(AT_FDCWD, kp, w->key_text, strlen(w->key_text), 0600);
	if (r < 0)
		return hull_err_set(err, -r, "%s", kp);
	/* a damaged one we found stands in the way: ours replaces it */
	(void)rm_tree_at(AT_FDCWD, w->dir);
	if (rename(w->tmp, w->dir) < 0)
		return hull_err_set(err, errno, "rename %s", w->tmp);
	free(w->tmp);
	w->tmp = NULL;
	return 0;
}

void vm_warm_done(struct vm_warm *w)
{
	if (w->tmp)
		(void)rm_tree_at(AT_FDCWD, w->tmp);
	if (w->lock >= 0)
		(void)close(w->lock);
	free(w->tmp);
	free(w->dir);
	free(w->key_text);
	memset(w, 0, sizeof(*w));
	w->lock = -1;
}
