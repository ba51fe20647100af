/*
 * Diff snapshots (snapshot.h, docs/vmm.md "Diff snapshots"): after a full snapshot the dirty
 * log stays on; `hull vm snapshot --diff` writes only the pages written since the last
 * snapshot, with a bitmap of them and its parent's directory and id; a restore maps the base
 * and copies each diff's pages over it, oldest first, checking the chain's ids.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fd.h"
#include "common/json.h"
#include "vmm/dirty.h"
#include "vmm/snapshot.h"
#include "vmm/vm.h"

struct snapshot_chain {
	struct dirty_log log;
	char *dir; /* the last snapshot's, absolute */
	char id[SNAPSHOT_ID_LEN + 1];
};

void snapshot_ident_new(struct snapshot_ident *ident)
{
	uint8_t b[SNAPSHOT_ID_LEN / 2];

	memset(ident, 0, sizeof(*ident));
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		uint64_t t = vm_now_ns() ^ (uint64_t)getpid();

		memset(b, 0, sizeof(b));
		memcpy(b, &t, sizeof(t));
	}
	for (size_t i = 0; i < sizeof(b); i++)
		(void)snprintf(ident->id + 2 * i, 3, "%02x", b[i]);
}

void snapshot_chain_free(struct vm *vm)
{
	struct snapshot_chain *c = vm->snap_chain;

	if (!c)
		return;
	dirty_log_stop(vm, &c->log);
	free(c->dir);
	free(c);
	vm->snap_chain = NULL;
}

static void chain_set(struct snapshot_chain *c, const char *dir, const char *id)
{
	char abs[PATH_MAX];

	free(c->dir);
	c->dir = xstrdup(realpath(dir, abs) ? abs : dir);
	(void)snprintf(c->id, sizeof(c->id), "%s", id);
}

void snapshot_chain_started(struct vm *vm, const char *dir, const struct snapshot_ident *ident)
{
	struct hull_err err = { 0 };
	struct snapshot_chain *c = vm->snap_chain;

	if (!c)
		c = vm->snap_chain = xcalloc(1, sizeof(*c));
	/* no dirty log (an old KVM, a refused ioctl): no diffs, the full snapshot stands */
	if (dirty_log_start(vm, &c->log, &err) < 0) {
		snapshot_chain_free(vm);
		return;
	}
	chain_set(c, dir, ident->id);
}

struct diff_mem {
	const struct guest_mem *mem;
	const struct dirty_bitmap *set;
};

/* The pages of set at their offsets, in runs; the rest a hole. */
static int fill_diff_memory(int fd, const void *arg)
{
	const struct diff_mem *d = arg;
	uint64_t pg = 0;

	if (ftruncate(fd, (off_t)d->mem->size) < 0)
		return -errno;
	while (dirty_bitmap_next(d->set, &pg)) {
		uint64_t end = pg + 1;

		while (end < d->set->npages && dirty_bitmap_test(d->set, end))
			end++;
		for (uint64_t off = pg * DIRTY_PAGE; off < end * DIRTY_PAGE;) {
			ssize_t n = pwrite(fd, d->mem->host + off, end * DIRTY_PAGE - off, (off_t)off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			off += (uint64_t)n;
		}
		pg = end;
	}
	return 0;
}

static int diff_write(struct vm *vm, const char *dir, struct hull_err *err)
{
	struct snapshot_chain *c = vm->snap_chain;
	struct snapshot_ident ident;
	struct dirty_bitmap set;
	struct diff_mem dm;
	int r;

	if (dirty_bitmap_init(&set, vm->mem.size / DIRTY_PAGE) < 0)
		return hull_err_setx(err, EINVAL, "guest RAM of %" PRIu64 " bytes", vm->mem.size);
	/* device-written pages since the full snapshot too: a write after its pop (dirty.h) */
	r = dirty_log_sync(vm, &c->log, &set, true, err);
	snapshot_ident_new(&ident);
	ident.parent = c->dir;
	ident.parent_id = c->id;
	dm = (struct diff_mem){ &vm->mem, &set };
	if (r == 0) {
		size_t words = (set.npages + 63) / 64;

		for (size_t i = 0; i < words; i++)
			set.words[i] = htole64(set.words[i]);
		r = snapshot_write_file(dir, SNAPSHOT_PAGES, set.words, words * 8, err);
		for (size_t i = 0; i < words; i++)
			set.words[i] = le64toh(set.words[i]);
	}
	if (r == 0)
		r = snapshot_write_files(vm, dir, &ident, fill_diff_memory, &dm, err);
	if (r == 0)
		chain_set(c, dir, ident.id);
	dirty_bitmap_free(&set);
	return r;
}

int vm_snapshot_diff(struct vm *vm, const char *dir, bool resume, struct hull_err *err)
{
	char abs[PATH_MAX];
	int r;

	if (!vm->snap_chain)
		return hull_err_setx(err, EINVAL, "--diff: no full snapshot of this VM to start "
				     "from (take one without --diff first)");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hull_err_set(err, errno, "snapshot directory %s", dir);
	if (realpath(dir, abs) && strcmp(abs, vm->snap_chain->dir) == 0)
		return hull_err_setx(err, EINVAL, "--diff: %s holds the snapshot this diff builds on:"
				     " write the diff into another directory", dir);
	vm_pause(vm);
	if (atomic_load(&vm->stop))
		return hull_err_setx(err, ESRCH, "the VM is stopping");
	r = diff_write(vm, dir, err);
	if (resume)
		vm_resume(vm);
	return r;
}

void snapshot_chain_dirs_free(struct snapshot_chain_dirs *c)
{
	for (unsigned i = 0; i < c->n; i++)
		free(c->dirs[i]);
	c->n = 0;
}

/* dir's id, and its parent's directory and id when it is a diff. */
static int chain_link(const char *dir, char **ret_id, char **ret_parent, char **ret_parent_id,
		      struct hull_err *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, SNAPSHOT_CONFIG);
	cleanup_json json_t *root = NULL;
	const char *id = NULL, *parent = NULL, *pid = NULL;
	int r = hjson_load_file(path, SNAPSHOT_CONFIG_MAX, &root, err);

	if (r < 0)
		return r;
	if (!json_is_object(root))
		return hull_err_setx(err, EINVAL, "%s: not a JSON object", path);
	if (hjson_get_str(root, "id", path, false, &id, err) < 0 ||
	    hjson_get_str(root, "parent", path, false, &parent, err) < 0 ||
	    hjson_get_str(root, "parent_id", path, parent != NULL, &pid, err) < 0)
		return -EINVAL;
	*ret_id = id ? xstrdup(id) : NULL;
	*ret_parent = parent ? xstrdup(parent) : NULL;
	*ret_parent_id = pid ? xstrdup(pid) : NULL;
	return 0;
}

int snapshot_chain_read(const char *dir, struct snapshot_chain_dirs *c, struct hull_err *err)
{
	char *rev[SNAPSHOT_CHAIN_MAX];
	cleanup_free char *want = NULL; /* the id the child names its parent by */
	char *cur = xstrdup(dir);
	unsigned n = 0;
	int r = 0;

	c->n = 0;
	while (cur) {
		char *id = NULL, *parent = NULL, *pid = NULL;

		if (n == SNAPSHOT_CHAIN_MAX) {
			r = hull_err_setx(err, ELOOP, "%s: a chain of more than %u snapshots", dir,
					  SNAPSHOT_CHAIN_MAX);
			free(cur);
			break;
		}
		rev[n++] = cur;
		r = chain_link(cur, &id, &parent, &pid, err);
		if (r == 0 && want && (!id || strcmp(id, want) != 0))
			r = hull_err_setx(err, EINVAL, "%s/%s: id %s, but the diff after it names its "
					  "parent %s (not the snapshot it was taken after)", cur,
					  SNAPSHOT_CONFIG, id ? id : "(none)", want);
		free(id);
		free(want);
		want = pid;
		cur = r == 0 ? parent : (free(parent), NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		if (r == 0)
			c->dirs[c->n++] = rev[n - 1 - i];
		else
			free(rev[n - 1 - i]);
	}
	return r;
}

int snapshot_diff_apply(struct vm *vm, const char *dir, struct hull_err *err)
{
	cleanup_free char *mpath = xasprintf("%s/%s", dir, SNAPSHOT_MEMORY);
	cleanup_free char *bpath = xasprintf("%s/%s", dir, SNAPSHOT_PAGES);
	cleanup_free char *bits = NULL;
	cleanup_close int fd = open(mpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint64_t npages = vm->mem.size / DIRTY_PAGE, words = (npages + 63) / 64;
	struct stat st;
	size_t len = 0;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return hull_err_set(err, errno, "%s", mpath);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != vm->mem.size)
		return hull_err_setx(err, EINVAL, "%s: not %" PRIu64 " bytes (truncated or not this "
				     "chain's)", mpath, vm->mem.size);
	r = fd_read_file_at(AT_FDCWD, bpath, words * 8 + 1, &bits, &len);
	if (r < 0)
		return hull_err_set(err, -r, "%s", bpath);
	if (len != words * 8)
		return hull_err_setx(err, EINVAL, "%s: %zu bytes, expected %" PRIu64, bpath, len,
				     words * 8);
	for (uint64_t pg = 0; pg < npages; pg++) {
		uint64_t w;

		memcpy(&w, bits + pg / 64 * 8, 8);
		if (!((le64toh(w) >> (pg % 64)) & 1))
			continue;
		if (pread(fd, vm->mem.host + pg * DIRTY_PAGE, DIRTY_PAGE,
			  (off_t)(pg * DIRTY_PAGE)) != (ssize_t)DIRTY_PAGE)
			return hull_err_set(err, errno ? errno : EIO, "%s: page %" PRIu64, mpath, pg);
	}
	return 0;
}
